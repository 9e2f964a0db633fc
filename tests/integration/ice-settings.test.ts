// ICE servers for calls as instance settings: STUN and TURN URL lists an admin changes at run time
// (empty: STUN_URLS / TURN_URLS from the environment), validated, audited, refused for TURN while the
// environment has no TURN_SECRET, and handed out by call.join right after the change (real worker).
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callWorkerUnavailableReason, createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient } from '../helpers/clients.ts';
import { createCommunity, expectError, expectJson } from '../helpers/fixtures.ts';
import type { AuditEntryView, ChannelView, InstanceSettingsView } from '#lib/shared/api-types.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();
const noWorker = callWorkerUnavailableReason();
if (noWorker) console.warn(`ice-settings.test.ts: call.join checks with a real mediasoup worker are SKIPPED: ${noWorker}`);

const TURN_SECRET = '3c5e7a9b1d2f4a6c8e0b2d4f6a8c1e3b5d7f9a0c2e4b6d8f1a3c5e7b9d0f2a4c';
const ENV_STUN = 'stun:env-stun.example.test:3478';
const ENV_TURN = 'turn:env-turn.example.test:3478?transport=udp';

type IceServer = { urls: string[]; username?: string; credential?: string };

async function iceServersOnJoin(client: TestClient, channelId: string): Promise<IceServer[]> {
	const socket = await client.socket();
	try {
		const frame: ServerFrame = await socket.request({ t: 'call.join', channelId });
		if (frame.t !== 'ack') throw new Error(`expected an ack, got ${JSON.stringify(frame)}`);
		const { iceServers } = frame.result as { iceServers: IceServer[] };
		await socket.request({ t: 'call.leave' });
		return iceServers;
	} finally {
		socket.close();
	}
}

describe.skipIf(skip)('ICE server settings', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let admin: TestClient;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { STUN_URLS: ENV_STUN, TURN_URLS: ENV_TURN, TURN_SECRET } });
		owner = await TestClient.signUp(server);
		admin = await TestClient.signUp(server);
		await owner.api.patch(`/api/admin/users/${admin.user.id}`, { instanceRole: 'admin', password: PASSWORD });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	const settings = (patch: Record<string, unknown>) => admin.send('PATCH', '/api/admin/settings', patch);

	it('shows the environment defaults and whether TURN_SECRET is set, never the secret', async () => {
		const response = await admin.fetch('/api/admin/settings');
		const text = await response.text();
		expect(text).not.toContain(TURN_SECRET);
		const { settings: view } = JSON.parse(text) as { settings: InstanceSettingsView };
		expect(view).toMatchObject({ stunUrls: [], turnUrls: [], stunUrlsDefault: [ENV_STUN], turnUrlsDefault: [ENV_TURN], turnSecretSet: true });
	});

	it('refuses invalid lists with clear errors and keeps the settings as they were', async () => {
		const turnShape = 'Each TURN server must look like turn:host:3478?transport=udp or turns:host:5349?transport=tcp.';
		await expectError(settings({ stunUrls: ['http://stun.example.test'] }), 400, 'invalid', 'Each STUN server must look like stun:host:3478 or stuns:host:5349.');
		await expectError(settings({ stunUrls: ['turn:turn.example.test:3478'] }), 400, 'invalid', 'Each STUN server must look like stun:host:3478 or stuns:host:5349.');
		await expectError(settings({ stunUrls: ['stun:stun.example.test?transport=udp'] }), 400, 'invalid', 'Each STUN server must look like stun:host:3478 or stuns:host:5349.');
		await expectError(settings({ turnUrls: ['turn:turn.example.test:3478?transport=sctp'] }), 400, 'invalid', turnShape);
		await expectError(settings({ turnUrls: ['turn:user@turn.example.test'] }), 400, 'invalid', turnShape);
		await expectError(settings({ turnUrls: ['turn:turn.example.test:70000'] }), 400, 'invalid', turnShape);
		await expectError(settings({ turnUrls: ['turn:a.example.test', 'turn:a.example.test'] }), 400, 'invalid', 'A TURN server is listed twice.');
		const nine = Array.from({ length: 9 }, (_, i) => `stun:s${i}.example.test:3478`);
		await expectError(settings({ stunUrls: nine }), 400, 'invalid', 'At most 8 STUN servers.');
		await expectError(settings({ stunUrls: 'stun:stun.example.test' }), 400, 'invalid', 'The STUN servers are a list of URLs.');
		const { settings: view } = await admin.api.get<{ settings: InstanceSettingsView }>('/api/admin/settings');
		expect([view.stunUrls, view.turnUrls]).toEqual([[], []]);
	});

	it('accepts host names, IPv4 and bracketed IPv6 with ports and transports; blank entries are dropped; changes are audited', async () => {
		const stunUrls = ['stun:stun.example.test:3478', 'stuns:[2001:db8::1]:5349'];
		const turnUrls = ['turn:192.0.2.10:3478?transport=udp', 'turns:turn.example.test:5349?transport=tcp'];
		const view = await expectJson<{ settings: InstanceSettingsView }>(settings({ stunUrls: [...stunUrls, '  '], turnUrls }), 200);
		expect([view.settings.stunUrls, view.settings.turnUrls]).toEqual([stunUrls, turnUrls]);
		await expectJson(settings({ stunUrls, turnUrls }), 200);
		await expectJson(settings({ stunUrls: [], turnUrls: [] }), 200);
		const { entries } = await owner.api.get<{ entries: AuditEntryView[] }>(`/api/admin/audit-log?actor=${admin.user.id}&action=instance.settings_changed`);
		const iceEntries = entries.filter((e) => 'stunUrls' in e.data || 'turnUrls' in e.data).map((e) => e.data);
		// Newest first; saving the same lists again recorded nothing.
		expect(iceEntries).toEqual([
			{ stunUrls: { from: stunUrls, to: [] }, turnUrls: { from: turnUrls, to: [] } },
			{ stunUrls: { from: [], to: stunUrls }, turnUrls: { from: [], to: turnUrls } }
		]);
	});

	it('is for instance owners and admins only', async () => {
		const member = await TestClient.signUp(server);
		await expectError(member.send('PATCH', '/api/admin/settings', { stunUrls: ['stun:x.example.test'] }), 403, 'forbidden', 'Only instance owners and admins can do that.');
	});

	describe.skipIf(noWorker)('with a real mediasoup worker', () => {
		it('call.join hands out the new ICE servers right after the change, and the environment\'s again once emptied', async () => {
			const community = await createCommunity(owner, 'ICE hall');
			const { channel } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'voice', kind: 'voice' });

			const before = await iceServersOnJoin(owner, channel.id);
			expect(before.map((s) => s.urls)).toEqual([[ENV_STUN], [ENV_TURN]]);

			const stunUrls = ['stun:new-stun.example.test:3478'];
			const turnUrls = ['turns:new-turn.example.test:5349?transport=tcp'];
			await expectJson(settings({ stunUrls, turnUrls }), 200);
			const [stun, turn] = await iceServersOnJoin(owner, channel.id);
			expect(stun).toEqual({ urls: stunUrls });
			expect(turn!.urls).toEqual(turnUrls);
			// Credentials still come from the environment's TURN_SECRET.
			expect(turn!.username!.split(':')[1]).toBe(owner.user.id);
			expect(turn!.credential).toBe(createHmac('sha1', TURN_SECRET).update(turn!.username!).digest('base64'));

			// Only STUN changed back: TURN keeps the setting.
			await expectJson(settings({ stunUrls: [] }), 200);
			expect((await iceServersOnJoin(owner, channel.id)).map((s) => s.urls)).toEqual([[ENV_STUN], turnUrls]);
			await expectJson(settings({ turnUrls: [] }), 200);
			expect((await iceServersOnJoin(owner, channel.id)).map((s) => s.urls)).toEqual([[ENV_STUN], [ENV_TURN]]);
		});
	});
});

describe.skipIf(skip)('ICE server settings without TURN_SECRET', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		owner = await TestClient.signUp(server);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('refuses TURN servers until TURN_SECRET is set in the environment, and still takes STUN servers', async () => {
		const { settings: view } = await owner.api.get<{ settings: InstanceSettingsView }>('/api/admin/settings');
		expect(view).toMatchObject({ stunUrlsDefault: [], turnUrlsDefault: [], turnSecretSet: false });
		await expectError(
			owner.send('PATCH', '/api/admin/settings', { turnUrls: ['turn:turn.example.test:3478'] }),
			400,
			'invalid',
			"TURN servers need the TURN server's shared secret: set TURN_SECRET in the server's environment first."
		);
		const saved = await expectJson<{ settings: InstanceSettingsView }>(owner.send('PATCH', '/api/admin/settings', { stunUrls: ['stun:stun.example.test:3478'], turnUrls: [] }), 200);
		expect([saved.settings.stunUrls, saved.settings.turnUrls]).toEqual([['stun:stun.example.test:3478'], []]);
	});
});
