// Profiles: avatar pictures (checked by their bytes, size-limited, served with an ETag to those who
// share a community or a DM), bio and pronouns, the custom status with its expiry, and the chosen
// presence (online, idle, do not disturb, invisible) as others see it over /ws, across reconnects.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { openDatabase, type DatabaseConfig, type DatabaseHandle } from '#lib/server/db/open.ts';
import { communities, communityMembers, users } from '#lib/server/db/schema.ts';
import { eq } from 'drizzle-orm';
import { LocalEventBus, type BusNotice } from '#lib/server/events/bus.ts';
import { Profiles } from '#lib/server/services/profiles.ts';
import type { ChannelView, MemberView } from '#lib/shared/api-types.ts';
import type { OwnProfile, ProfileView } from '#lib/shared/profile.ts';
import type { PresenceStatus, ServerFrame } from '#lib/shared/protocol/frames.ts';
import { presenceEntries } from '#lib/shared/protocol/presence-frame.ts';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, expectError, expectJson, joinCommunity, MISSING_ID, sendMessage, UNAUTHENTICATED, type Community } from '../helpers/fixtures.ts';

const skip = postgresUnavailableReason();
const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));
// Presence is flushed every 500 ms; allow that plus delivery on a busy machine.
const QUIET_MS = 1_200;

// A real 1×1 PNG, a JPEG header, a WebP header, and files that only look like images by name or type.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]);
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
const TYPE_REFUSED = 'The picture must be a PNG, JPEG or WebP image.';
const TOO_LARGE = 'The picture can be at most 512 KB.';

const presenceOf = (userId: string, status: PresenceStatus) => (f: ServerFrame) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === userId && u.status === status);

describe.skipIf(skip)('profiles', () => {
	let db: TestDatabase;
	let server: TestServer;
	let person: TestClient;
	let member: TestClient;
	let stranger: TestClient;
	let community: Community;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		person = await TestClient.signUp(server);
		member = await TestClient.signUp(server);
		stranger = await TestClient.signUp(server);
		community = await createCommunity(person);
		await joinCommunity(person, member, community.id);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	async function putAvatar(client: TestClient, bytes: Buffer, contentType = 'image/png'): Promise<Response> {
		const token = await client.csrfToken();
		return client.fetch('/api/me/avatar', { method: 'PUT', headers: { 'content-type': contentType, 'x-csrf-token': token }, body: new Uint8Array(bytes) });
	}
	const memberRow = async (viewer: TestClient, userId: string) =>
		(await viewer.api.get<{ members: MemberView[] }>(`/api/communities/${community.id}/members`)).members.find((m) => m.user.id === userId)!;

	describe('avatar', () => {
		it('an upload is judged by its bytes, served to a fellow member with an ETag and long caching at its versioned URL, and shown in member lists and DMs', async () => {
			const watcher = await member.socket();
			// The uploader's Content-Type is ignored: the bytes say PNG.
			const { profile } = await expectJson<{ profile: OwnProfile }>(putAvatar(person, PNG, 'text/html'), 200);
			expect(profile.avatarUrl).toMatch(new RegExp(`^/api/users/${person.user.id}/avatar\\?v=[0-9a-f]{20}$`));
			// The people who share a community hear of it (their member lists refetch).
			await watcher.waitFor((f) => f.t === 'directory.changed' && f.reason === 'user.updated' && f.communityId === community.id);

			const response = await member.fetch(profile.avatarUrl!);
			expect(response.status).toBe(200);
			expect(response.headers.get('content-type')).toBe('image/png');
			expect(response.headers.get('x-content-type-options')).toBe('nosniff');
			expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
			// Private: a shared cache must not hand it to someone who may not see it.
			expect(response.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
			expect(Buffer.from(await response.arrayBuffer()).equals(PNG)).toBe(true);
			const etag = response.headers.get('etag')!;
			expect(etag).toBe(`"${profile.avatarUrl!.split('v=')[1]}"`);
			const unversioned = await member.fetch(`/api/users/${person.user.id}/avatar`, { headers: { 'if-none-match': etag } });
			expect(unversioned.status).toBe(304);
			expect(unversioned.headers.get('cache-control')).toBe('private, no-cache');

			expect((await memberRow(member, person.user.id)).user.avatarUrl).toBe(profile.avatarUrl);
			const { channel } = await member.api.post<{ channel: ChannelView }>('/api/dms', { userId: person.user.id });
			expect(channel.peer?.avatarUrl).toBe(profile.avatarUrl);
			expect((await person.api.get<{ profile: OwnProfile }>('/api/me/profile')).profile.avatarUrl).toBe(profile.avatarUrl);

			// A new picture is a new URL; the type again comes from the bytes.
			const { profile: replaced } = await expectJson<{ profile: OwnProfile }>(putAvatar(person, JPEG, 'image/png'), 200);
			expect(replaced.avatarUrl).not.toBe(profile.avatarUrl);
			expect((await member.fetch(replaced.avatarUrl!)).headers.get('content-type')).toBe('image/jpeg');
			watcher.close();
		});

		it('is hidden from someone who shares no community or DM with the person (like a missing one), and from visitors', async () => {
			await expectJson(putAvatar(person, PNG), 200);
			await expectError(stranger.fetch(`/api/users/${person.user.id}/avatar`), 404, 'not_found', 'User was not found.');
			await expectError(stranger.fetch(`/api/users/${MISSING_ID}/avatar`), 404, 'not_found', 'User was not found.');
			await expectError(member.fetch(`/api/users/not-a-uuid/avatar`), 404, 'not_found', 'User was not found.');
			const visitor = new TestClient(server);
			const res = await visitor.fetch(`/api/users/${person.user.id}/avatar`);
			expect({ status: res.status, body: await res.json() }).toEqual({ status: 401, body: { error: UNAUTHENTICATED } });
		});

		it('refuses a picture over 512 KB, SVG (also named and typed as PNG), GIF and empty bodies; the picture stays as it was', async () => {
			const { profile } = await expectJson<{ profile: OwnProfile }>(putAvatar(member, PNG), 200);
			// Exactly 512 KB is allowed, one byte more is not.
			await expectJson(putAvatar(member, Buffer.concat([PNG, Buffer.alloc(512 * 1024 - PNG.length)])), 200);
			const { profile: kept } = await expectJson<{ profile: OwnProfile }>(putAvatar(member, PNG), 200);
			expect(kept.avatarUrl).toBe(profile.avatarUrl);
			await expectError(putAvatar(member, Buffer.concat([PNG, Buffer.alloc(512 * 1024 + 1 - PNG.length)])), 413, 'payload_too_large', TOO_LARGE);
			await expectError(putAvatar(member, SVG, 'image/svg+xml'), 400, 'invalid', TYPE_REFUSED);
			await expectError(putAvatar(member, SVG, 'image/png'), 400, 'invalid', TYPE_REFUSED);
			// Starting like a PNG is not enough: all eight bytes of the signature must be there.
			await expectError(putAvatar(member, Buffer.concat([Buffer.from('\x89PNG', 'latin1'), SVG]), 'image/png'), 400, 'invalid', TYPE_REFUSED);
			await expectError(putAvatar(member, GIF, 'image/gif'), 400, 'invalid', TYPE_REFUSED);
			await expectError(putAvatar(member, Buffer.alloc(0)), 400, 'invalid', TYPE_REFUSED);
			expect((await member.api.get<{ profile: OwnProfile }>('/api/me/profile')).profile.avatarUrl).toBe(profile.avatarUrl);
		});

		it('removing it goes back to initials everywhere', async () => {
			const { profile } = await expectJson<{ profile: OwnProfile }>(putAvatar(person, PNG), 200);
			const { profile: removed } = await expectJson<{ profile: OwnProfile }>(person.send('DELETE', '/api/me/avatar'), 200);
			expect(removed.avatarUrl).toBeNull();
			await expectError(member.fetch(profile.avatarUrl!), 404, 'not_found', 'The picture was not found.');
			expect((await memberRow(member, person.user.id)).user).not.toHaveProperty('avatarUrl');
		});
	});

	describe('bio and pronouns', () => {
		it('are saved, shown on the profile card to fellow members, and hidden from strangers', async () => {
			const { profile } = await expectJson<{ profile: OwnProfile }>(person.send('PATCH', '/api/me/profile', { bio: '  Reads a lot.\nBakes bread.  ', pronouns: 'she/her' }), 200);
			expect(profile).toMatchObject({ bio: 'Reads a lot.\nBakes bread.', pronouns: 'she/her' });
			const { profile: card } = await member.api.get<{ profile: ProfileView }>(`/api/users/${person.user.id}/profile`);
			expect(card).toMatchObject({ userId: person.user.id, bio: 'Reads a lot.\nBakes bread.', pronouns: 'she/her' });
			// One field at a time leaves the other.
			await expectJson(person.send('PATCH', '/api/me/profile', { pronouns: 'they/them' }), 200);
			expect((await member.api.get<{ profile: ProfileView }>(`/api/users/${person.user.id}/profile`)).profile).toMatchObject({ bio: 'Reads a lot.\nBakes bread.', pronouns: 'they/them' });
			await expectError(stranger.fetch(`/api/users/${person.user.id}/profile`), 404, 'not_found', 'User was not found.');
			await expectError(member.fetch(`/api/users/${MISSING_ID}/profile`), 404, 'not_found', 'User was not found.');
		});

		it('refuses a bio over 190 characters, pronouns over 40, control characters, and an empty change', async () => {
			await expectError(person.send('PATCH', '/api/me/profile', { bio: 'x'.repeat(191) }), 400, 'invalid', 'Bio can have at most 190 characters.');
			await expectJson(person.send('PATCH', '/api/me/profile', { bio: 'x'.repeat(190) }), 200);
			await expectError(person.send('PATCH', '/api/me/profile', { pronouns: 'x'.repeat(41) }), 400, 'invalid', 'Pronouns can have at most 40 characters.');
			await expectError(person.send('PATCH', '/api/me/profile', { pronouns: 'she\u0007her' }), 400, 'invalid', 'Pronouns cannot contain control characters.');
			await expectError(person.send('PATCH', '/api/me/profile', { bio: 'bell\u0007' }), 400, 'invalid', 'Bio cannot contain control characters.');
			await expectError(person.send('PATCH', '/api/me/profile', {}), 400, 'invalid', 'Send bio, pronouns or both.');
			await expectError(person.send('PATCH', '/api/me/profile', { bio: 7 }), 400, 'invalid', 'Bio must be text.');
		});
	});

	describe('custom status', () => {
		it('is shown beside the name in member lists and DMs until it is cleared', async () => {
			const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
			const { profile } = await expectJson<{ profile: OwnProfile }>(person.send('PUT', '/api/me/status', { emoji: '🎧', text: '  Focusing  ', expiresAt }), 200);
			expect(profile.status).toEqual({ emoji: '🎧', text: 'Focusing', expiresAt });
			expect((await memberRow(member, person.user.id)).user.status).toEqual({ emoji: '🎧', text: 'Focusing', expiresAt });
			const { channels } = await member.api.get<{ channels: ChannelView[] }>('/api/dms');
			expect(channels.find((c) => c.peer?.id === person.user.id)?.peer?.status).toEqual({ emoji: '🎧', text: 'Focusing', expiresAt });
			// Until cleared: no expiry.
			await expectJson(person.send('PUT', '/api/me/status', { text: 'On holiday', expiresAt: null }), 200);
			expect((await memberRow(member, person.user.id)).user.status).toEqual({ emoji: '', text: 'On holiday', expiresAt: null });
			const { profile: cleared } = await expectJson<{ profile: OwnProfile }>(person.send('DELETE', '/api/me/status'), 200);
			expect(cleared.status).toBeNull();
			expect((await memberRow(member, person.user.id)).user).not.toHaveProperty('status');
		});

		it('refuses text over 100 characters, an expiry in the past or over a week ahead, an empty status and an emoji that is not one', async () => {
			const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
			await expectError(person.send('PUT', '/api/me/status', { text: 'x'.repeat(101), expiresAt: inAnHour }), 400, 'invalid', 'A status can have at most 100 characters.');
			await expectJson(person.send('PUT', '/api/me/status', { text: 'x'.repeat(100), expiresAt: inAnHour }), 200);
			await expectError(person.send('PUT', '/api/me/status', { text: 'late', expiresAt: new Date(Date.now() - 1000).toISOString() }), 400, 'invalid', 'The status would end before it starts: choose a time in the future.');
			await expectError(person.send('PUT', '/api/me/status', { text: 'long', expiresAt: new Date(Date.now() + 8 * 86_400_000).toISOString() }), 400, 'invalid', 'A status can be set for at most a week, or until cleared.');
			await expectError(person.send('PUT', '/api/me/status', { emoji: '', text: '   ', expiresAt: null }), 400, 'invalid', 'A status needs an emoji or some text.');
			await expectError(person.send('PUT', '/api/me/status', { emoji: 'abc', text: 'hi', expiresAt: null }), 400, 'invalid', 'The status emoji is a single emoji.');
			await expectError(person.send('PUT', '/api/me/status', { text: 'hi', expiresAt: 'tomorrow' }), 400, 'invalid', 'expiresAt must be an ISO time or null.');
			await expectJson(person.send('PUT', '/api/me/status', { emoji: '👍🏽', text: '', expiresAt: null }), 200);
		});

		it('disappears at its expiry under a fixed clock: shown one millisecond before, gone at that instant', async () => {
			// The service on a database of its own, with a clock the test moves (both engines).
			const own = await createTestDatabase();
			const config: DatabaseConfig = own.env.DATABASE_URL ? { kind: 'postgres', url: own.env.DATABASE_URL, poolSize: 2 } : { kind: 'pglite', dataDir: own.env.DATA_DIR! };
			const handle: DatabaseHandle = await openDatabase(config, migrationsFolder);
			try {
				const [ana, ben, place] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
				await handle.db.insert(users).values([
					{ id: ana, username: 'ana', displayName: 'Ana', passwordHash: 'not used' },
					{ id: ben, username: 'ben', displayName: 'Ben', passwordHash: 'not used' }
				]);
				await handle.db.insert(communities).values({ id: place, name: 'c', ownerId: ana });
				await handle.db.insert(communityMembers).values([
					{ communityId: place, userId: ana, role: 'owner' },
					{ communityId: place, userId: ben, role: 'member' }
				]);
				let now = new Date('2030-01-01T12:00:00Z');
				const published: BusNotice[] = [];
				const bus = new LocalEventBus((error) => {
					throw error;
				});
				bus.subscribe((n) => published.push(n));
				const profiles = new Profiles({ db: handle.db, bus, now: () => now });
				const expiresAt = '2030-01-01T12:30:00.000Z';
				await profiles.setStatus(ana, { emoji: '☕', text: 'Coffee', expiresAt });
				expect(published).toEqual([{ type: 'user.updated', userId: ana, communityIds: [place], dmChannelIds: [] }]);
				now = new Date(Date.parse(expiresAt) - 1);
				expect((await profiles.of(ben, ana)).status).toEqual({ emoji: '☕', text: 'Coffee', expiresAt });
				expect((await profiles.own(ana)).status).toEqual({ emoji: '☕', text: 'Coffee', expiresAt });
				now = new Date(expiresAt);
				expect((await profiles.of(ben, ana)).status).toBeNull();
				expect((await profiles.own(ana)).status).toBeNull();
				// Setting one that would already be over is refused by the same clock.
				await expect(profiles.setStatus(ana, { emoji: '', text: 'late', expiresAt })).rejects.toThrow('The status would end before it starts: choose a time in the future.');
				// The row keeps it (no job runs); every reader hides it by the clock.
				const [row] = await handle.db.select({ text: users.statusText }).from(users).where(eq(users.id, ana));
				expect(row?.text).toBe('Coffee');
			} finally {
				await handle.close();
				await own.drop();
			}
		});
	});

	describe('chosen presence over /ws', () => {
		async function pair() {
			const a = await TestClient.signUp(server);
			const b = await TestClient.signUp(server);
			const shared = await createCommunity(a);
			await joinCommunity(a, b, shared.id);
			return { a, b, shared };
		}

		it('do not disturb is seen by others, kept across a reconnect, and told to the person\'s other tabs', async () => {
			const { a, b } = await pair();
			const watcher = await b.socket();
			const tab1 = await a.socket();
			const tab2 = await a.socket();
			await watcher.waitFor(presenceOf(a.user.id, 'online'));
			const dnd = watcher.next(presenceOf(a.user.id, 'dnd'));
			const told = tab2.next((f) => f.t === 'presence.chosen');
			expect(await tab1.request({ t: 'presence.set', choice: 'dnd' })).toEqual({ t: 'ack', id: expect.any(String), result: { choice: 'dnd' } });
			await dnd;
			expect(await told).toEqual({ t: 'presence.chosen', choice: 'dnd' });
			expect((await a.api.get<{ profile: OwnProfile }>('/api/me/profile')).profile.presence).toBe('dnd');
			// Activity does not turn do-not-disturb back into online.
			tab1.sendRaw(JSON.stringify({ t: 'presence', status: 'idle' }));
			tab1.sendRaw(JSON.stringify({ t: 'presence', status: 'online' }));
			expect(await watcher.collectFor(QUIET_MS, (f) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === a.user.id && u.status !== 'dnd'))).toEqual([]);

			// Every socket closes: offline; the first socket back shows do not disturb again, never online.
			const gone = watcher.next(presenceOf(a.user.id, 'offline'));
			tab1.close();
			tab2.close();
			await gone;
			const returned = watcher.next<Extract<ServerFrame, { t: 'presence' }>>((f) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === a.user.id));
			const back = await a.socket();
			expect(presenceEntries(await returned).find((u) => u.userId === a.user.id)?.status).toBe('dnd');
			// A newcomer's snapshot says do not disturb too.
			const late = await b.socket();
			expect(late.frames.filter((f) => f.t === 'presence').flatMap((f) => presenceEntries(f as Extract<ServerFrame, { t: 'presence' }>)).find((u) => u.userId === a.user.id)?.status).toBe('dnd');
			const online = watcher.next(presenceOf(a.user.id, 'online'));
			await back.request({ t: 'presence.set', choice: 'auto' });
			await online;
			[watcher, back, late].forEach((s) => s.close());
		});

		it('invisible shows the person offline to others while they keep using everything, across a reconnect', async () => {
			const { a, b, shared } = await pair();
			const watcher = await b.socket();
			const tab = await a.socket();
			await watcher.waitFor(presenceOf(a.user.id, 'online'));
			const hidden = watcher.next(presenceOf(a.user.id, 'offline'));
			await tab.request({ t: 'presence.set', choice: 'invisible' });
			await hidden;
			// Still sends and receives.
			const message = await sendMessage(a, shared.generalId, 'from an invisible person');
			await watcher.waitFor((f) => f.t === 'event' && f.event.type === 'message.created' && f.event.message.id === message.id);
			await sendMessage(b, shared.generalId, 'to an invisible person');
			await tab.waitFor((f) => f.t === 'event' && f.event.type === 'message.created' && f.event.message.authorId === b.user.id);

			tab.close();
			const back = await a.socket();
			expect(await watcher.collectFor(QUIET_MS, (f) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === a.user.id && u.status !== 'offline'))).toEqual([]);
			const late = await b.socket();
			expect(late.frames.filter((f) => f.t === 'presence').flatMap((f) => presenceEntries(f as Extract<ServerFrame, { t: 'presence' }>)).find((u) => u.userId === a.user.id && u.status !== 'offline')).toBeUndefined();
			const idle = watcher.next(presenceOf(a.user.id, 'idle'));
			await back.request({ t: 'presence.set', choice: 'idle' });
			await idle;
			[watcher, back, late].forEach((s) => s.close());
		});

		it('refuses a presence that is not one of the four, with a clear error', async () => {
			const { a } = await pair();
			const socket = await a.socket();
			const answer = await socket.request({ t: 'presence.set', choice: 'busy' });
			expect(answer).toMatchObject({ t: 'error', code: 'bad_frame' });
			expect((answer as { message: string }).message).toContain('Presence is one of auto, idle, dnd or invisible.');
			socket.close();
		});
	});
});
