// Instance administration: settings stored in the database that take effect at once (registration
// mode, message size limit, default community), user management (search, last seen, sessions,
// disable, delete, server roles) with re-authentication for risky actions, and the instance audit log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient, uniqueName } from '../helpers/clients.ts';
import { createCommunity, expectError, expectJson, newClientId } from '../helpers/fixtures.ts';
import type { AdminUserView, AuditEntryView, CommunityView, InstanceSettingsView } from '#lib/shared/api-types.ts';
import { CloseCode } from '#lib/shared/protocol/codes.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('instance administration', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let admin: TestClient;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		owner = await TestClient.signUp(server);
		admin = await TestClient.signUp(server);
		await owner.api.patch(`/api/admin/users/${admin.user.id}`, { instanceRole: 'admin', password: PASSWORD });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	const settings = (patch: Record<string, unknown>) => admin.send('PATCH', '/api/admin/settings', patch);

	describe('settings', () => {
		it('registration mode changes what a new visitor may do, at once', async () => {
			await expectJson(settings({ registrationMode: 'closed' }), 200);
			expect((await new TestClient(server).api.get<{ registrationMode: string }>('/api/instance')).registrationMode).toBe('closed');
			await expectError(new TestClient(server).send('POST', '/api/auth/sign-up', { username: uniqueName(), password: PASSWORD }), 403, 'forbidden', 'Registration is closed on this server.');
			await expectJson(settings({ registrationMode: 'open' }), 200);
			await TestClient.signUp(server);
		});

		it('the message size limit applies to the next message, up to MESSAGE_MAX_BYTES', async () => {
			const { settings: current } = await admin.api.get<{ settings: InstanceSettingsView }>('/api/admin/settings');
			expect(current).toMatchObject({ messageMaxBytes: null, messageMaxBytesCeiling: 16384 });
			await expectError(settings({ messageMaxBytes: 16385 }), 400, 'invalid', 'The message size limit can be at most 16384 bytes (MESSAGE_MAX_BYTES on the server).');
			await expectError(settings({ messageMaxBytes: 100 }), 400, 'invalid', 'The message size limit must be at least 256 bytes.');
			await expectJson(settings({ messageMaxBytes: 300 }), 200);
			const community = await createCommunity(owner, 'Limits');
			const socket = await owner.socket();
			expect(socket.frames.find((f) => f.t === 'ready')).toMatchObject({ limits: { messageMaxBytes: 300 } });
			const answer = await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: 'x'.repeat(301) });
			expect(answer).toEqual({ t: 'error', id: expect.any(String), code: 'payload_too_large', message: 'Messages can be at most 300 bytes.' });
			await expectJson(settings({ messageMaxBytes: null }), 200);
			const ok = await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: 'x'.repeat(301) });
			expect(ok).toMatchObject({ t: 'ack' });
			socket.close();
		});

		it('new accounts join the default community', async () => {
			const community = await createCommunity(owner, 'Welcome hall');
			await expectError(settings({ defaultCommunityId: '00000000-0000-4000-8000-000000000000' }), 400, 'invalid', 'The default community does not exist.');
			await expectJson(settings({ defaultCommunityId: community.id }), 200);
			const newcomer = await TestClient.signUp(server);
			const { communities } = await newcomer.api.get<{ communities: CommunityView[] }>('/api/communities');
			expect(communities.map((c) => c.id)).toEqual([community.id]);
			await expectJson(settings({ defaultCommunityId: null }), 200);
		});

		it('refuses invalid values with clear errors', async () => {
			await expectError(settings({ registrationMode: 'sometimes' }), 400, 'invalid', 'Registration is open, invite_only or closed.');
			await expectError(settings({ name: '' }), 400, 'invalid', 'Server name needs at least 1 character.');
		});
	});

	describe('users', () => {
		it('lists and searches accounts with last seen and session count', async () => {
			const name = uniqueName('findme');
			const user = await TestClient.signUp(server, { username: name });
			await user.signIn(name);
			const { users } = await admin.api.get<{ users: AdminUserView[] }>(`/api/admin/users?q=${encodeURIComponent(name.slice(0, 12))}`);
			expect(users).toEqual([
				{ id: user.user.id, username: name, displayName: name, instanceRole: 'member', createdAt: expect.any(String), disabled: false, lastSeenAt: expect.any(String), sessionCount: 2, twoFactor: false }
			]);
		});

		it('disabling needs the admin password, closes the account\'s sockets and refuses its sign-in until re-enabled', async () => {
			const user = await TestClient.signUp(server);
			const socket = await user.socket();
			await expectError(admin.send('PATCH', `/api/admin/users/${user.user.id}`, { disabled: true }), 403, 'forbidden', 'Enter your current password to confirm this action.');
			await expectError(admin.send('PATCH', `/api/admin/users/${user.user.id}`, { disabled: true, password: 'not my password' }), 403, 'forbidden', 'Your password is not correct.');
			await expectJson(admin.send('PATCH', `/api/admin/users/${user.user.id}`, { disabled: true, password: PASSWORD }), 200);
			expect((await socket.closed).code).toBe(CloseCode.sessionRevoked);
			await expectError(user.fetch('/api/me'), 401, 'unauthenticated', 'Sign in to continue.');
			await expectError(
				new TestClient(server).send('POST', '/api/auth/sign-in', { username: user.user.username, password: PASSWORD }),
				403,
				'forbidden',
				'This account is disabled. Contact the server administrator.'
			);
			await expectJson(admin.send('PATCH', `/api/admin/users/${user.user.id}`, { disabled: false, password: PASSWORD }), 200);
			await user.signIn(user.user.username);
		});

		it('revoking sessions signs the account out everywhere', async () => {
			const user = await TestClient.signUp(server);
			const socket = await user.socket();
			expect(await admin.api.post<{ revoked: number }>(`/api/admin/users/${user.user.id}/revoke-sessions`)).toEqual({ revoked: 1 });
			expect((await socket.closed).code).toBe(CloseCode.sessionRevoked);
		});

		it('admins act only below their own server role; only the owner makes admins', async () => {
			const other = await TestClient.signUp(server);
			await expectError(admin.send('PATCH', `/api/admin/users/${owner.user.id}`, { disabled: true, password: PASSWORD }), 403, 'forbidden', 'You can only manage accounts below your own server role.');
			await expectError(admin.send('PATCH', `/api/admin/users/${other.user.id}`, { instanceRole: 'admin', password: PASSWORD }), 403, 'forbidden', 'You can only give server roles below your own.');
			await expectError(admin.send('PATCH', `/api/admin/users/${admin.user.id}`, { disabled: true, password: PASSWORD }), 403, 'forbidden', 'You cannot do that to your own account here.');
			await expectJson(owner.send('PATCH', `/api/admin/users/${other.user.id}`, { instanceRole: 'admin', password: PASSWORD }), 200);
			expect((await other.api.get<{ user: { instanceRole: string } }>('/api/me')).user.instanceRole).toBe('admin');
			await expectJson(owner.send('PATCH', `/api/admin/users/${other.user.id}`, { instanceRole: 'member', password: PASSWORD }), 200);
		});

		it('deletes an account (with the admin password), but not one that owns a community', async () => {
			const founder = await TestClient.signUp(server);
			await createCommunity(founder, 'Founded');
			await expectError(admin.send('DELETE', `/api/admin/users/${founder.user.id}`, { password: PASSWORD }), 409, 'conflict', 'This account owns the community "Founded"; delete that community first.');
			const leaving = await TestClient.signUp(server);
			await expectError(admin.send('DELETE', `/api/admin/users/${leaving.user.id}`, {}), 403, 'forbidden', 'Enter your current password to confirm this action.');
			await expectJson(admin.send('DELETE', `/api/admin/users/${leaving.user.id}`, { password: PASSWORD }), 200);
			const { users } = await admin.api.get<{ users: AdminUserView[] }>(`/api/admin/users?q=${leaving.user.username}`);
			expect(users).toEqual([]);
			await expectError(new TestClient(server).send('POST', '/api/auth/sign-in', { username: leaving.user.username, password: PASSWORD }), 401, 'unauthenticated', 'Incorrect username or password.');
			const { entries } = await admin.api.get<{ entries: AuditEntryView[] }>('/api/admin/audit-log?action=user.deleted');
			expect(entries[0]).toMatchObject({ actor: { id: admin.user.id }, targetUser: null, data: { username: leaving.user.username } });
		});
	});

	it('saving a setting to the value it already has records nothing in the audit log', async () => {
		const count = async () => (await owner.api.get<{ entries: AuditEntryView[] }>('/api/admin/audit-log?action=instance.settings_changed&limit=100')).entries.length;
		const before = await count();
		const { settings: current } = await admin.api.get<{ settings: InstanceSettingsView }>('/api/admin/settings');
		await expectJson(settings({ registrationMode: current.registrationMode, rateLimitLevel: current.rateLimitLevel }), 200);
		expect(await count()).toBe(before);
	});

	it('the instance audit log records settings and account changes, and is for instance admins only', async () => {
		const { entries } = await owner.api.get<{ entries: AuditEntryView[] }>(`/api/admin/audit-log?actor=${admin.user.id}&action=instance.settings_changed`);
		expect(entries.length).toBeGreaterThan(0);
		expect(entries.find((e) => 'registrationMode' in e.data)?.data).toEqual({ registrationMode: { from: 'closed', to: 'open' } });
		const member = await TestClient.signUp(server);
		await expectError(member.fetch('/api/admin/audit-log'), 403, 'forbidden', 'Only instance owners and admins can do that.');
	});

	describe('server icon', () => {
		// A real 1×1 PNG, and files that only look like images by name or Content-Type.
		const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
		const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]);
		const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
		const GIF = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
		const TYPE_REFUSED = 'The icon must be a PNG, JPEG or WebP image.';

		async function putIcon(client: TestClient, bytes: Buffer, contentType = 'image/png'): Promise<Response> {
			const token = await client.csrfToken();
			return client.fetch('/api/admin/icon', { method: 'PUT', headers: { 'content-type': contentType, 'x-csrf-token': token }, body: new Uint8Array(bytes) });
		}
		const publicIconUrl = async () => (await new TestClient(server).api.get<{ iconUrl: string | null }>('/api/instance')).iconUrl;

		it('an admin uploads a PNG: it is served publicly with the type sniffed from its bytes, cached for good at its versioned URL, and shown on the sign-in page', async () => {
			// The uploader's Content-Type is ignored: the bytes say PNG.
			const { settings: saved } = await expectJson<{ settings: InstanceSettingsView }>(putIcon(admin, PNG, 'text/html'), 200);
			expect(saved.iconUrl).toMatch(/^\/api\/instance\/icon\?v=[0-9a-f]{20}$/);
			expect(await publicIconUrl()).toBe(saved.iconUrl);

			const visitor = new TestClient(server);
			const response = await visitor.fetch(saved.iconUrl!);
			expect(response.status).toBe(200);
			expect(response.headers.get('content-type')).toBe('image/png');
			expect(response.headers.get('x-content-type-options')).toBe('nosniff');
			expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
			expect(Buffer.from(await response.arrayBuffer()).equals(PNG)).toBe(true);
			const etag = response.headers.get('etag')!;
			expect(etag).toBe(`"${saved.iconUrl!.split('v=')[1]}"`);
			// Without the version the browser revalidates, and an unchanged icon costs a 304.
			const unversioned = await visitor.fetch('/api/instance/icon', { headers: { 'if-none-match': etag } });
			expect(unversioned.status).toBe(304);
			expect(unversioned.headers.get('cache-control')).toBe('public, no-cache');

			const signIn = await (await visitor.fetch('/sign-in')).text();
			expect(signIn).toContain(`src="${saved.iconUrl}"`);

			// A new icon is a new URL; the type again comes from the bytes.
			const { settings: replaced } = await expectJson<{ settings: InstanceSettingsView }>(putIcon(admin, JPEG, 'image/png'), 200);
			expect(replaced.iconUrl).not.toBe(saved.iconUrl);
			expect((await visitor.fetch(replaced.iconUrl!)).headers.get('content-type')).toBe('image/jpeg');
		});

		it('refuses an icon over 256 KB, SVG and other non-raster files, and anyone but instance admins; the icon stays as it was', async () => {
			// Exactly 256 KB is allowed, one byte more is not.
			await expectJson(putIcon(admin, Buffer.concat([PNG, Buffer.alloc(256 * 1024 - PNG.length)])), 200);
			const { settings } = await expectJson<{ settings: InstanceSettingsView }>(putIcon(admin, PNG), 200);
			await expectError(putIcon(admin, Buffer.concat([PNG, Buffer.alloc(256 * 1024 + 1 - PNG.length)])), 413, 'payload_too_large', 'The icon can be at most 256 KB.');
			await expectError(putIcon(admin, SVG, 'image/svg+xml'), 400, 'invalid', TYPE_REFUSED);
			await expectError(putIcon(admin, GIF, 'image/gif'), 400, 'invalid', TYPE_REFUSED);
			await expectError(putIcon(admin, Buffer.alloc(0)), 400, 'invalid', TYPE_REFUSED);
			const member = await TestClient.signUp(server);
			await expectError(putIcon(member, PNG), 403, 'forbidden', 'Only instance owners and admins can do that.');
			await expectError(member.send('DELETE', '/api/admin/icon'), 403, 'forbidden', 'Only instance owners and admins can do that.');
			await expectError(putIcon(new TestClient(server), PNG), 401, 'unauthenticated', 'Sign in to continue.');
			expect(await publicIconUrl()).toBe(settings.iconUrl);
		});

		it('removing the icon brings back the default, and both changes are in the audit log', async () => {
			await expectJson(putIcon(admin, PNG), 200);
			const { settings } = await expectJson<{ settings: InstanceSettingsView }>(admin.send('DELETE', '/api/admin/icon'), 200);
			expect(settings.iconUrl).toBeNull();
			expect(await publicIconUrl()).toBeNull();
			await expectError(new TestClient(server).fetch('/api/instance/icon'), 404, 'not_found', 'The icon was not found.');
			const { entries } = await owner.api.get<{ entries: AuditEntryView[] }>(`/api/admin/audit-log?actor=${admin.user.id}&limit=5`);
			expect(entries.slice(0, 2).map((e) => [e.action, e.data])).toEqual([
				['instance.icon_removed', {}],
				['instance.icon_changed', { contentType: 'image/png', bytes: PNG.length }]
			]);
		});
	});
});
