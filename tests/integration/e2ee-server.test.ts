// The server side of end-to-end encryption: devices and prekeys (signature checked, one-time
// prekeys claimed exactly once even concurrently), who may see whose devices, the to-device queue
// (REST and live /ws delivery to the right device only), revocation by every way a session ends,
// the encrypted key backup, and encrypted attachments (size counted while streaming).
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient, type TestSocket } from '../helpers/clients.ts';
import { withSql } from '../helpers/database.ts';
import { createCommunity, createInvite, expectError, expectJson, joinCommunity, type Community } from '../helpers/fixtures.ts';
import { body, identity, oneTimePrekeys, registration, signedPrekey } from '../helpers/e2ee-keys.ts';
import type { ChannelDevicesView, KeyBackupView, OwnDeviceView, PrekeyBundle, PublicDeviceView, ToDeviceMessage } from '#lib/shared/e2ee.ts';
import { ONE_TIME_PREKEYS_MAX_STORED } from '#lib/shared/e2ee.ts';
import type { ChannelView, ServerFrameOf } from '#lib/shared/protocol/frames.ts';
import { CloseCode } from '#lib/shared/protocol/codes.ts';
import { E2eeServerApi } from '#lib/client/e2ee/server-api.ts';

const skip = postgresUnavailableReason();

async function registerDevice(client: TestClient, otks = 10): Promise<OwnDeviceView> {
	const { device } = await expectJson<{ device: OwnDeviceView }>(client.send('POST', '/api/devices', body(registration({ otks }))), 201);
	return device;
}

const isToDevice = (f: { t: string }) => f.t === 'to-device';
const isDevicesChanged = (userId: string) => (f: { t: string; userId?: string }) => f.t === 'devices.changed' && f.userId === userId;

describe.skipIf(skip)('E2EE server side', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let alice: TestClient;
	let bob: TestClient;
	let stranger: TestClient;
	let community: Community;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		owner = await TestClient.signUp(server);
		alice = await TestClient.signUp(server);
		bob = await TestClient.signUp(server);
		stranger = await TestClient.signUp(server);
		community = await createCommunity(owner);
		await joinCommunity(owner, alice, community.id);
		await joinCommunity(owner, bob, community.id);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	describe('device registration', () => {
		it('registers the session as a device once, lists it as current, and counts its one-time prekeys', async () => {
			const client = await alice.anotherSession();
			await expectError(client.fetch('/api/devices/current'), 404, 'not_found', 'Device was not found.');
			const device = await registerDevice(client, 7);
			expect(device).toMatchObject({ name: 'Test browser', current: true });
			const current = await expectJson<{ device: OwnDeviceView; oneTimePrekeyCount: number }>(client.fetch('/api/devices/current'), 200);
			expect(current).toMatchObject({ device: { id: device.id, current: true }, oneTimePrekeyCount: 7 });
			const { devices } = await expectJson<{ devices: OwnDeviceView[] }>(client.fetch('/api/devices'), 200);
			expect(devices.find((d) => d.id === device.id)?.current).toBe(true);
			await expectError(client.send('POST', '/api/devices', body(registration())), 409, 'device_exists', 'This session has registered its device already.');
			const renamed = await expectJson<{ device: OwnDeviceView }>(client.send('PATCH', `/api/devices/${device.id}`, { name: 'Work laptop' }), 200);
			expect(renamed.device.name).toBe('Work laptop');
			// Someone else's device answers like a missing one.
			await expectError(bob.send('PATCH', `/api/devices/${device.id}`, { name: 'Mine now' }), 404, 'not_found', 'Device was not found.');
			await expectError(bob.send('DELETE', `/api/devices/${device.id}`), 404, 'not_found', 'Device was not found.');
		});

		it('a browser that lost its keys replaces its session’s device (replaceCurrent) and stays signed in', async () => {
			const client = await alice.anotherSession();
			const lost = await registerDevice(client, 3);
			const socket = await client.socket();
			const { device } = await expectJson<{ device: OwnDeviceView }>(client.send('POST', '/api/devices', { ...body(registration({ otks: 2 })), replaceCurrent: true }), 201);
			expect(device.id).not.toBe(lost.id);
			const current = await expectJson<{ device: OwnDeviceView; oneTimePrekeyCount: number }>(client.fetch('/api/devices/current'), 200);
			expect(current).toMatchObject({ device: { id: device.id }, oneTimePrekeyCount: 2 });
			// The old device is gone for everyone (no bundle to claim); the session and its socket live on.
			const { devices } = await expectJson<{ devices: OwnDeviceView[] }>(client.fetch('/api/devices'), 200);
			expect(devices.map((d) => d.id)).not.toContain(lost.id);
			const { bundles } = await expectJson<{ bundles: PrekeyBundle[] }>(client.send('POST', '/api/keys/claim', { devices: [lost.id, device.id] }), 200);
			expect(bundles.map((b) => b.deviceId)).toEqual([device.id]);
			await expectJson(client.fetch('/api/me'), 200);
			expect(socket.ws.readyState).toBe(socket.ws.OPEN);
		});

		it('refuses a signed prekey whose signature does not verify with the identity key', async () => {
			const client = await alice.anotherSession();
			const request = registration();
			const forged = { ...body(request), signedPrekey: signedPrekey(identity()) };
			await expectError(client.send('POST', '/api/devices', forged), 400, 'invalid', 'The signed prekey signature does not verify with the identity key.');
			const tampered = { ...body(request), signedPrekey: { ...request.signedPrekey, publicKey: signedPrekey(request.keys).publicKey } };
			await expectError(client.send('POST', '/api/devices', tampered), 400, 'invalid', 'The signed prekey signature does not verify with the identity key.');
			await expectError(client.fetch('/api/devices/current'), 404, 'not_found', 'Device was not found.');
			// The rotation endpoint checks the same way.
			await registerDevice(client);
			await expectError(client.send('PUT', '/api/devices/current/signed-prekey', { signedPrekey: signedPrekey(identity()) }), 400, 'invalid', 'The signed prekey signature does not verify with the identity key.');
		});

		it('caps the one-time prekeys a device stores', async () => {
			const client = await alice.anotherSession();
			await registerDevice(client, 100);
			const first = await expectJson<{ oneTimePrekeyCount: number }>(client.send('POST', '/api/devices/current/one-time-prekeys', { oneTimePrekeys: oneTimePrekeys(100, 1000) }), 200);
			expect(first.oneTimePrekeyCount).toBe(ONE_TIME_PREKEYS_MAX_STORED);
			await expectError(
				client.send('POST', '/api/devices/current/one-time-prekeys', { oneTimePrekeys: oneTimePrekeys(1, 5000) }),
				400,
				'invalid',
				`A device may store at most ${ONE_TIME_PREKEYS_MAX_STORED} one-time prekeys; ${ONE_TIME_PREKEYS_MAX_STORED} are stored.`
			);
			// Acting as a device needs one.
			const bare = await alice.anotherSession();
			const refused = await bare.send('POST', '/api/devices/current/one-time-prekeys', { oneTimePrekeys: oneTimePrekeys(1) });
			expect(refused.status).toBe(409);
			expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('device_required');
		});
	});

	describe('claiming prekey bundles', () => {
		it('consumes exactly one one-time prekey per claim, then answers without one', async () => {
			const target = await bob.anotherSession();
			const device = await registerDevice(target, 2);
			const ids = new Set<number>();
			for (let i = 0; i < 3; i++) {
				const { bundles } = await expectJson<{ bundles: PrekeyBundle[] }>(alice.send('POST', '/api/keys/claim', { devices: [device.id] }), 200);
				expect(bundles).toHaveLength(1);
				expect(bundles[0]).toMatchObject({ deviceId: device.id, userId: bob.user.id, signedPrekey: { id: 1 } });
				if (i < 2) ids.add(bundles[0]!.oneTimePrekey!.id);
				else expect(bundles[0]!.oneTimePrekey).toBeNull();
			}
			expect(ids.size).toBe(2);
			const current = await expectJson<{ oneTimePrekeyCount: number }>(target.fetch('/api/devices/current'), 200);
			expect(current.oneTimePrekeyCount).toBe(0);
		});

		it('gives each one-time prekey to exactly one of many concurrent claimers', async () => {
			// Ten devices with 30 keys each, claimed together by 60 parallel requests: every statement
			// locks ten rows, so the claims overlap in the database, not only on the wire.
			const targets = await Promise.all(Array.from({ length: 10 }, async () => registerDevice(await bob.anotherSession(), 30)));
			const ids = targets.map((d) => d.id);
			const claimers = [alice, owner, bob];
			const answers = await Promise.all(
				Array.from({ length: 60 }, (_, i) => expectJson<{ bundles: PrekeyBundle[] }>(claimers[i % claimers.length]!.send('POST', '/api/keys/claim', { devices: ids }), 200))
			);
			for (const id of ids) {
				const claimed = answers.map((a) => a.bundles.find((b) => b.deviceId === id)!.oneTimePrekey?.id ?? null);
				const given = claimed.filter((k): k is number => k !== null);
				expect(given).toHaveLength(30);
				expect(new Set(given).size).toBe(30);
				expect(claimed.filter((k) => k === null)).toHaveLength(30);
			}
		});

		it('rotating the signed prekey changes what claimers get', async () => {
			const target = await bob.anotherSession();
			const request = registration({ otks: 0 });
			const { device } = await expectJson<{ device: OwnDeviceView }>(target.send('POST', '/api/devices', body(request)), 201);
			const next = signedPrekey(request.keys, 2);
			await expectJson(target.send('PUT', '/api/devices/current/signed-prekey', { signedPrekey: next }), 200);
			const { bundles } = await expectJson<{ bundles: PrekeyBundle[] }>(alice.send('POST', '/api/keys/claim', { devices: [device.id] }), 200);
			expect(bundles[0]!.signedPrekey).toEqual(next);
		});
	});

	describe('visibility', () => {
		it('hides the devices of users who share no community or DM (404), and shows them once a DM exists', async () => {
			const lonely = await stranger.anotherSession();
			const device = await registerDevice(lonely, 3);
			await expectError(alice.fetch(`/api/users/${stranger.user.id}/devices`), 404, 'not_found', 'User was not found.');
			const { bundles } = await expectJson<{ bundles: PrekeyBundle[] }>(alice.send('POST', '/api/keys/claim', { devices: [device.id] }), 200);
			expect(bundles).toEqual([]);
			const sender = await alice.anotherSession();
			await registerDevice(sender);
			await expectError(sender.send('POST', '/api/to-device', { messages: [{ deviceId: device.id, body: 'x' }] }), 404, 'not_found', 'Device was not found.');
			// Nothing was consumed or queued.
			expect((await expectJson<{ oneTimePrekeyCount: number }>(lonely.fetch('/api/devices/current'), 200)).oneTimePrekeyCount).toBe(3);
			expect((await expectJson<{ messages: ToDeviceMessage[] }>(lonely.fetch('/api/to-device'), 200)).messages).toEqual([]);
			// Their own devices are always visible to themselves.
			expect((await expectJson<{ devices: PublicDeviceView[] }>(stranger.fetch(`/api/users/${stranger.user.id}/devices`), 200)).devices.map((d) => d.id)).toContain(device.id);

			// A community in common makes them visible; a DM keeps them visible after the community is left.
			await joinCommunity(owner, stranger, community.id);
			expect((await expectJson<{ devices: PublicDeviceView[] }>(alice.fetch(`/api/users/${stranger.user.id}/devices`), 200)).devices.map((d) => d.id)).toContain(device.id);
			await stranger.api.post<{ channel: ChannelView }>('/api/dms', { userId: alice.user.id });
			await stranger.api.post(`/api/communities/${community.id}/leave`);
			const { devices } = await expectJson<{ devices: PublicDeviceView[] }>(alice.fetch(`/api/users/${stranger.user.id}/devices`), 200);
			expect(devices.map((d) => d.id)).toContain(device.id);
			await expectError(bob.fetch(`/api/users/${stranger.user.id}/devices`), 404, 'not_found', 'User was not found.');
		});

		it('lists the devices of a channel for its readers only', async () => {
			const device = await registerDevice(await bob.anotherSession());
			const view = await expectJson<ChannelDevicesView>(alice.fetch(`/api/channels/${community.generalId}/devices`), 200);
			const userIds = view.members.map((m) => m.userId);
			expect(view.members.find((m) => m.userId === bob.user.id)?.devices.map((d) => d.id)).toContain(device.id);
			expect(userIds).not.toContain(stranger.user.id);
			await expectError(stranger.fetch(`/api/channels/${community.generalId}/devices`), 404, 'not_found', 'Channel was not found.');
		});

		it('lists a member who has no device yet, with no devices (a sender key made now counts them as a reader)', async () => {
			const newcomer = await TestClient.signUp(server);
			await joinCommunity(owner, newcomer, community.id);
			const view = await expectJson<ChannelDevicesView>(alice.fetch(`/api/channels/${community.generalId}/devices`), 200);
			expect(view.members.find((m) => m.userId === newcomer.user.id)).toEqual({ userId: newcomer.user.id, devices: [] });
			await newcomer.api.post(`/api/communities/${community.id}/leave`);
			const after = await expectJson<ChannelDevicesView>(alice.fetch(`/api/channels/${community.generalId}/devices`), 200);
			expect(after.members.map((m) => m.userId)).not.toContain(newcomer.user.id);
		});
	});

	describe('to-device queue', () => {
		it('queues, pushes live to the recipient device only, pages, and deletes on ack', async () => {
			const sender = await alice.anotherSession();
			const senderDevice = await registerDevice(sender);
			const recipient = await bob.anotherSession();
			const recipientDevice = await registerDevice(recipient);
			const otherOfBob = await bob.anotherSession();
			await registerDevice(otherOfBob);
			const recipientSocket = await recipient.socket();
			const otherSocket = await otherOfBob.socket();
			const senderSocket = await sender.socket();

			const sent = await expectJson<{ count: number }>(
				sender.send('POST', '/api/to-device', { messages: [1, 2, 3].map((n) => ({ deviceId: recipientDevice.id, body: `ciphertext-${n}` })) }),
				200
			);
			expect(sent.count).toBe(3);
			const frame = await recipientSocket.waitFor<ServerFrameOf<'to-device'>>(isToDevice);
			expect(frame.messages.map((m) => m.body)).toEqual(['ciphertext-1', 'ciphertext-2', 'ciphertext-3']);
			expect(frame.messages[0]).toMatchObject({ senderUserId: alice.user.id, senderDeviceId: senderDevice.id });
			expect(await otherSocket.collectFor(300, isToDevice)).toEqual([]);
			expect(senderSocket.matching(isToDevice)).toEqual([]);

			const page1 = await expectJson<{ messages: ToDeviceMessage[] }>(recipient.fetch('/api/to-device?after=0&limit=2'), 200);
			expect(page1.messages.map((m) => m.body)).toEqual(['ciphertext-1', 'ciphertext-2']);
			const page2 = await expectJson<{ messages: ToDeviceMessage[] }>(recipient.fetch(`/api/to-device?after=${page1.messages[1]!.id}`), 200);
			expect(page2.messages.map((m) => m.body)).toEqual(['ciphertext-3']);
			// Another device of the same user has its own (empty) queue.
			expect((await expectJson<{ messages: ToDeviceMessage[] }>(otherOfBob.fetch('/api/to-device'), 200)).messages).toEqual([]);

			await expectJson(recipient.send('POST', '/api/to-device/ack', { upTo: page1.messages[1]!.id }), 200);
			const left = await expectJson<{ messages: ToDeviceMessage[] }>(recipient.fetch('/api/to-device'), 200);
			expect(left.messages.map((m) => m.body)).toEqual(['ciphertext-3']);
			for (const s of [recipientSocket, otherSocket, senderSocket]) s.ws.close();
		});

		it('refuses senders without a device and recipients that are unknown', async () => {
			const bare = await alice.anotherSession();
			const target = await bob.anotherSession();
			const device = await registerDevice(target);
			const refused = await bare.send('POST', '/api/to-device', { messages: [{ deviceId: device.id, body: 'x' }] });
			expect(refused.status).toBe(409);
			const sender = await alice.anotherSession();
			await registerDevice(sender);
			await expectError(
				sender.send('POST', '/api/to-device', { messages: [{ deviceId: device.id, body: 'x' }, { deviceId: '00000000-0000-4000-8000-000000000000', body: 'y' }] }),
				404,
				'not_found',
				'Device was not found.'
			);
			expect((await expectJson<{ messages: ToDeviceMessage[] }>(target.fetch('/api/to-device'), 200)).messages).toEqual([]);
		});

		it('answers 429 to_device_queue_full once a device has 10 000 messages waiting', async () => {
			const sender = await alice.anotherSession();
			await registerDevice(sender);
			const target = await bob.anotherSession();
			const device = await registerDevice(target);
			const batch = { messages: Array.from({ length: 1000 }, () => ({ deviceId: device.id, body: 'c' })) };
			for (let i = 0; i < 10; i++) await expectJson(sender.send('POST', '/api/to-device', batch), 200);
			const full = await sender.send('POST', '/api/to-device', { messages: [{ deviceId: device.id, body: 'one more' }] });
			expect(full.status).toBe(429);
			expect(((await full.json()) as { error: { code: string } }).error.code).toBe('to_device_queue_full');
			// Acknowledging drains it and sending works again.
			const [last] = (await expectJson<{ messages: ToDeviceMessage[] }>(target.fetch(`/api/to-device?after=0&limit=500`), 200)).messages.slice(-1);
			await expectJson(target.send('POST', '/api/to-device/ack', { upTo: last!.id }), 200);
			await expectJson(sender.send('POST', '/api/to-device', { messages: [{ deviceId: device.id, body: 'one more' }] }), 200);
		});
	});

	describe('revocation', () => {
		/** A bob browser with a device, a queued message for it, and a socket; alice watches with her own socket. */
		async function setup() {
			const browser = await bob.anotherSession();
			const device = await registerDevice(browser, 5);
			const sender = await alice.anotherSession();
			await registerDevice(sender);
			await expectJson(sender.send('POST', '/api/to-device', { messages: [{ deviceId: device.id, body: 'queued' }] }), 200);
			const socket = await browser.socket();
			const peer = await alice.socket();
			return { browser, device, sender, socket, peer };
		}

		async function expectRevoked(r: { device: OwnDeviceView; sender: TestClient; socket: TestSocket; peer: TestSocket }) {
			expect((await r.socket.closed).code).toBe(CloseCode.sessionRevoked);
			await r.peer.waitFor(isDevicesChanged(bob.user.id));
			const { devices } = await expectJson<{ devices: PublicDeviceView[] }>(alice.fetch(`/api/users/${bob.user.id}/devices`), 200);
			expect(devices.map((d) => d.id)).not.toContain(r.device.id);
			const { bundles } = await expectJson<{ bundles: PrekeyBundle[] }>(alice.send('POST', '/api/keys/claim', { devices: [r.device.id] }), 200);
			expect(bundles).toEqual([]);
			await expectError(r.sender.send('POST', '/api/to-device', { messages: [{ deviceId: r.device.id, body: 'late' }] }), 404, 'not_found', 'Device was not found.');
			r.peer.ws.close();
		}

		it('signing out revokes the session’s device', async () => {
			const r = await setup();
			await expectJson(r.browser.send('POST', '/api/auth/sign-out'), 200);
			await expectRevoked(r);
		});

		it('revoking a session from the sessions list revokes its device', async () => {
			const r = await setup();
			const { sessions } = await bob.api.get<{ sessions: Array<{ id: string; current: boolean }> }>('/api/me/sessions');
			const before = new Set(sessions.map((s) => s.id));
			const mine = await r.browser.api.get<{ sessions: Array<{ id: string; current: boolean }> }>('/api/me/sessions');
			const target = mine.sessions.find((s) => s.current)!;
			expect(before.has(target.id)).toBe(true);
			await expectJson(bob.send('DELETE', `/api/me/sessions/${target.id}`), 200);
			await expectRevoked(r);
		});

		it('removing a device deletes its sessions, keys and queue, and its identity key can never return', async () => {
			const r = await setup();
			const request = registration({ otks: 1 });
			const other = await bob.anotherSession();
			const { device } = await expectJson<{ device: OwnDeviceView }>(other.send('POST', '/api/devices', body(request)), 201);
			const otherSocket = await other.socket();
			await expectJson(r.browser.send('DELETE', `/api/devices/${device.id}`), 200);
			expect((await otherSocket.closed).code).toBe(CloseCode.sessionRevoked);
			await expectError(other.fetch('/api/me'), 401, 'unauthenticated', 'Sign in to continue.');
			const again = await bob.anotherSession();
			await expectError(again.send('POST', '/api/devices', body(request)), 409, 'device_exists', 'This identity key is registered already; generate a new one.');
			await withSql(server, async (sql) => {
				expect(await sql('select count(*)::int as n from device_one_time_prekeys where device_id = $1', [device.id])).toEqual([{ n: 0 }]);
				expect(await sql('select count(*)::int as n from device_signed_prekeys where device_id = $1', [device.id])).toEqual([{ n: 0 }]);
				expect(await sql('select count(*)::int as n from sessions where device_id = $1', [device.id])).toEqual([{ n: 0 }]);
				expect((await sql('select revoked_at from devices where id = $1', [device.id]))[0]!.revoked_at).not.toBeNull();
				// The first device's queued message goes with it when it is removed (below); still here now.
				expect(await sql('select count(*)::int as n from to_device_messages where recipient_device_id = $1', [r.device.id])).toEqual([{ n: 1 }]);
			});
			// withSql may restart the server (PGlite): sign in again to remove the first device from itself.
			const fresh = await bob.anotherSession();
			await expectJson(fresh.send('DELETE', `/api/devices/${r.device.id}`), 200);
			await withSql(server, async (sql) => {
				expect(await sql('select count(*)::int as n from to_device_messages where recipient_device_id = $1', [r.device.id])).toEqual([{ n: 0 }]);
			});
		});

		it('removing this browser’s own device signs it out', async () => {
			const browser = await bob.anotherSession();
			const device = await registerDevice(browser);
			const response = await browser.send('DELETE', `/api/devices/${device.id}`);
			expect(response.status).toBe(200);
			expect(response.headers.getSetCookie().some((line) => line.startsWith('hearth_session=;') || /hearth_session=.*max-age=0/i.test(line))).toBe(true);
			await expectError(browser.fetch('/api/me'), 401, 'unauthenticated', 'Sign in to continue.');
		});

		it('registering a device tells the user’s contacts and the user’s other sockets, not strangers', async () => {
			const peer = await alice.socket();
			const own = await bob.socket();
			const outsider = await stranger.socket();
			await registerDevice(await bob.anotherSession());
			await peer.waitFor(isDevicesChanged(bob.user.id));
			await own.waitFor(isDevicesChanged(bob.user.id));
			expect(await outsider.collectFor(300, isDevicesChanged(bob.user.id))).toEqual([]);
			for (const s of [peer, own, outsider]) s.ws.close();
		});

		it('disabling an account revokes its devices; deleting it removes them', async () => {
			const user = await TestClient.signUp(server);
			await joinCommunity(owner, user, community.id);
			const device = await registerDevice(user);
			const peer = await alice.socket();
			await expectJson(owner.send('PATCH', `/api/admin/users/${user.user.id}`, { disabled: true, password: PASSWORD }), 200);
			await peer.waitFor(isDevicesChanged(user.user.id));
			const { bundles } = await expectJson<{ bundles: PrekeyBundle[] }>(alice.send('POST', '/api/keys/claim', { devices: [device.id] }), 200);
			expect(bundles).toEqual([]);
			expect((await expectJson<{ devices: PublicDeviceView[] }>(alice.fetch(`/api/users/${user.user.id}/devices`), 200)).devices).toEqual([]);
			// Re-enabled, the account signs in again and must register a new device.
			await expectJson(owner.send('PATCH', `/api/admin/users/${user.user.id}`, { disabled: false, password: PASSWORD }), 200);
			const again = await user.anotherSession();
			await expectError(again.fetch('/api/devices/current'), 404, 'not_found', 'Device was not found.');
			const second = await registerDevice(again);
			await peer.waitForCount(2, isDevicesChanged(user.user.id));
			await expectJson(owner.send('DELETE', `/api/admin/users/${user.user.id}`, { password: PASSWORD }), 200);
			// Registering the second device was the second notice; the deletion is the third.
			await peer.waitForCount(3, isDevicesChanged(user.user.id));
			const after = await expectJson<{ bundles: PrekeyBundle[] }>(alice.send('POST', '/api/keys/claim', { devices: [second.id] }), 200);
			expect(after.bundles).toEqual([]);
			peer.ws.close();
		});

		it('guests register devices too, and lose them when guest access is turned off', async () => {
			await expectJson(owner.send('PATCH', '/api/admin/settings', { guestAccess: true }), 200);
			const invite = await createInvite(owner, community.id);
			const guest = new TestClient(server);
			await expectJson(guest.send('POST', `/api/invites/${invite.code}/guest`, { displayName: 'Visitor' }), 201);
			const device = await registerDevice(guest);
			const { bundles } = await expectJson<{ bundles: PrekeyBundle[] }>(alice.send('POST', '/api/keys/claim', { devices: [device.id] }), 200);
			expect(bundles).toHaveLength(1);
			await expectJson(owner.send('PATCH', '/api/admin/settings', { guestAccess: false }), 200);
			const gone = await expectJson<{ bundles: PrekeyBundle[] }>(alice.send('POST', '/api/keys/claim', { devices: [device.id] }), 200);
			expect(gone.bundles).toEqual([]);
		});

		it('a password change keeps this browser’s device and revokes the others', async () => {
			const user = await TestClient.signUp(server);
			await joinCommunity(owner, user, community.id);
			const here = await registerDevice(user);
			const elsewhere = await user.anotherSession();
			const gone = await registerDevice(elsewhere);
			await expectJson(user.send('POST', '/api/me/password', { currentPassword: 'correct horse battery staple', newPassword: 'a brand new long password' }), 200);
			const current = await expectJson<{ device: OwnDeviceView }>(user.fetch('/api/devices/current'), 200);
			expect(current.device.id).toBe(here.id);
			const { devices } = await expectJson<{ devices: PublicDeviceView[] }>(alice.fetch(`/api/users/${user.user.id}/devices`), 200);
			expect(devices.map((d) => d.id)).toEqual([here.id]);
			expect(gone.id).not.toBe(here.id);
		});
	});

	describe('key backup', () => {
		const params = { alg: 'argon2id13' as const, salt: Buffer.alloc(16, 7).toString('base64url'), opsLimit: 3, memLimit: 256 * 1024 * 1024 };
		const wrapped = (n: number) => Buffer.alloc(72, n).toString('base64url');

		it('stores, re-wraps, pages entries, resets on a new version and deletes', async () => {
			const user = await TestClient.signUp(server);
			await expectError(user.fetch('/api/key-backup'), 404, 'not_found', 'Key backup was not found.');
			await expectError(user.send('PUT', '/api/key-backup/entries', { version: 1, entries: [{ id: 'sk:a', ciphertext: 'AAAA' }] }), 404, 'not_found', 'Key backup was not found.');
			const created = await expectJson<{ backup: KeyBackupView }>(user.send('PUT', '/api/key-backup', { version: 1, params, wrappedKey: wrapped(1) }), 200);
			expect(created.backup).toMatchObject({ version: 1, wrappedKey: wrapped(1), entryCount: 0, params });

			const entries = Array.from({ length: 25 }, (_, i) => ({ id: `mk:${String(i).padStart(3, '0')}`, ciphertext: Buffer.from(`entry ${i}`).toString('base64url') }));
			await expectJson(user.send('PUT', '/api/key-backup/entries', { version: 1, entries }), 200);
			// Upsert: the same id replaces.
			await expectJson(user.send('PUT', '/api/key-backup/entries', { version: 1, entries: [{ id: 'mk:000', ciphertext: 'cmVwbGFjZWQ' }] }), 200);
			const seen: Array<{ id: string; ciphertext: string }> = [];
			let after = '';
			for (let pages = 0; pages < 10; pages++) {
				const page = await expectJson<{ version: number; entries: typeof seen; next: string | null }>(user.fetch(`/api/key-backup/entries?after=${encodeURIComponent(after)}&limit=10`), 200);
				expect(page.entries.length).toBeLessThanOrEqual(10);
				seen.push(...page.entries);
				if (!page.next) break;
				after = page.next;
			}
			expect(seen.map((e) => e.id)).toEqual(entries.map((e) => e.id));
			expect(seen[0]!.ciphertext).toBe('cmVwbGFjZWQ');

			// Same version: a passphrase change re-wraps the key; entries stay.
			const rewrapped = await expectJson<{ backup: KeyBackupView }>(user.send('PUT', '/api/key-backup', { version: 1, params, wrappedKey: wrapped(2) }), 200);
			expect(rewrapped.backup).toMatchObject({ version: 1, wrappedKey: wrapped(2), entryCount: 25 });
			// A new version is a reset: old entries are deleted; writing with the old version is refused.
			const reset = await expectJson<{ backup: KeyBackupView }>(user.send('PUT', '/api/key-backup', { version: 2, params, wrappedKey: wrapped(3) }), 200);
			expect(reset.backup.entryCount).toBe(0);
			await expectError(user.send('PUT', '/api/key-backup/entries', { version: 1, entries: [{ id: 'sk:x', ciphertext: 'AAAA' }] }), 409, 'conflict', 'The key backup is at version 2, not 1.');
			await expectError(user.send('PUT', '/api/key-backup', { version: 1, params, wrappedKey: wrapped(4) }), 409, 'conflict', 'The key backup is at version 2; this device has an older one. Reload it.');
			// Nobody else reads it.
			await expectError(alice.fetch('/api/key-backup'), 404, 'not_found', 'Key backup was not found.');
			await expectJson(user.send('DELETE', '/api/key-backup'), 200);
			await expectError(user.fetch('/api/key-backup'), 404, 'not_found', 'Key backup was not found.');
		});
	});

	describe('attachments', () => {
		const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
		const upload = async (client: TestClient, channelId: string, data: Uint8Array) =>
			client.fetch(`/api/channels/${channelId}/attachments`, {
				method: 'POST',
				headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': await client.csrfToken() },
				body: data as Uint8Array<ArrayBuffer>
			});

		it('stores ciphertext for members and serves it to readers only, as an opaque download', async () => {
			const data = bytes(200_000, 9);
			const { attachment } = await expectJson<{ attachment: { id: string; size: number } }>(upload(alice, community.generalId, data), 201);
			expect(attachment.size).toBe(200_000);
			const response = await bob.fetch(`/api/attachments/${attachment.id}`);
			expect(response.status).toBe(200);
			expect(response.headers.get('content-type')).toBe('application/octet-stream');
			expect(response.headers.get('x-content-type-options')).toBe('nosniff');
			expect(response.headers.get('content-disposition')).toMatch(/^attachment/);
			expect(response.headers.get('cache-control')).toMatch(/^private/);
			expect(new Uint8Array(await response.arrayBuffer())).toEqual(data);
			await expectError(stranger.fetch(`/api/attachments/${attachment.id}`), 404, 'not_found', 'Attachment was not found.');
			await expectError(upload(stranger, community.generalId, bytes(10)), 404, 'not_found', 'Channel was not found.');
		});

		it('applies the admin upload limit, capped by ATTACHMENT_MAX_BYTES, and refuses larger bodies while streaming', async () => {
			await expectError(owner.send('PATCH', '/api/admin/settings', { uploadMaxBytes: 25 * 1024 * 1024 + 1 }), 400, 'invalid', `The upload size limit can be at most ${25 * 1024 * 1024} bytes (ATTACHMENT_MAX_BYTES on the server).`);
			await expectError(alice.send('PATCH', '/api/admin/settings', { uploadMaxBytes: 65_536 }), 403, 'forbidden', 'Only instance owners and admins can do that.');
			const { settings } = await expectJson<{ settings: { uploadMaxBytes: number | null; uploadMaxBytesCeiling: number } }>(
				owner.send('PATCH', '/api/admin/settings', { uploadMaxBytes: 65_536 }),
				200
			);
			expect(settings).toMatchObject({ uploadMaxBytes: 65_536, uploadMaxBytesCeiling: 25 * 1024 * 1024 });
			const { entries } = await owner.api.get<{ entries: Array<{ action: string; data: Record<string, unknown> }> }>('/api/admin/audit-log?action=instance.settings_changed');
			expect(entries[0]!.data).toMatchObject({ uploadMaxBytes: { from: null, to: 65_536 } });

			await expectJson(upload(alice, community.generalId, bytes(65_536)), 201);
			await expectError(upload(alice, community.generalId, bytes(65_537)), 413, 'payload_too_large', 'Attachments can be at most 65536 bytes (encrypted) on this server.');

			// 32 MiB, chunked (no Content-Length) and with a Content-Length: the server counts what
			// arrives and answers long before the body ends.
			const token = await alice.csrfToken();
			const total = 32 * 1024 * 1024;
			const overLimit = (declare: boolean) =>
				new Promise<{ status: number; written: number; text: string }>((resolve, reject) => {
					let written = 0;
					let answered = false;
					const url = new URL(`${server.url}/api/channels/${community.generalId}/attachments`);
					const req = httpRequest(
						{
							host: url.hostname,
							port: url.port,
							path: url.pathname,
							method: 'POST',
							headers: {
								'content-type': 'application/octet-stream',
								...(declare ? { 'content-length': String(total) } : { 'transfer-encoding': 'chunked' }),
								cookie: alice.jar.header(),
								origin: server.origin,
								'x-csrf-token': token,
								'x-forwarded-for': alice.ip
							}
						},
						(res) => {
							answered = true;
							let text = '';
							res.on('data', (c) => (text += c));
							res.on('end', () => resolve({ status: res.statusCode ?? 0, written, text }));
						}
					);
					// The server closes the connection right after its answer, with the rest of the body
					// unread: the kernel may then reset it before the answer is read. Either way it stopped.
					req.on('error', (error: NodeJS.ErrnoException) => {
						if (answered) return;
						if (error.code === 'ECONNRESET' || error.code === 'EPIPE') resolve({ status: 0, written, text: '' });
						else reject(error);
					});
					const chunk = Buffer.alloc(64 * 1024, 5);
					const pump = () => {
						while (!answered && written < total) {
							written += chunk.length;
							if (!req.write(chunk)) return void req.once('drain', pump);
						}
						if (!answered) req.end();
					};
					pump();
				});
			for (const declare of [false, true]) {
				const result = await overLimit(declare);
				if (result.status !== 0) {
					expect(result.status).toBe(413);
					expect(JSON.parse(result.text).error.code).toBe('payload_too_large');
				}
				// Stopped early: far less than the whole body went out before the answer (socket buffers aside).
				expect(result.written).toBeLessThan(total / 2);
				if (process.env.E2EE_MEASURE) console.log(`attachment over limit (${declare ? 'Content-Length' : 'chunked'}): status ${result.status}, ${result.written} of ${total} bytes written before the answer`);
			}
			await withSql(server, async (sql) => {
				expect(await sql('select max(size)::int as max from attachments')).toEqual([{ max: 200_000 }]);
			});
			await expectJson(owner.send('PATCH', '/api/admin/settings', { uploadMaxBytes: null }), 200);
		});
	});

	describe('JSON bodies', () => {
		it('a chunked body (no Content-Length) over the JSON limit is refused while it streams in', async () => {
			// The adapter lets bodies as large as an attachment through, so readBody counts on its own.
			const token = await alice.csrfToken();
			const url = new URL(`${server.url}/api/keys/claim`);
			const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
				const req = httpRequest(
					{
						host: url.hostname,
						port: url.port,
						path: url.pathname,
						method: 'POST',
						headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', cookie: alice.jar.header(), origin: server.origin, 'x-csrf-token': token, 'x-forwarded-for': alice.ip }
					},
					(res) => {
						let text = '';
						res.on('data', (c) => (text += c));
						res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
					}
				);
				req.on('error', reject);
				req.write('{"devices":["');
				req.write('a'.repeat(300 * 1024));
				req.end('"]}');
			});
			expect(answer.status).toBe(413);
			expect(JSON.parse(answer.text).error).toEqual({ code: 'payload_too_large', message: 'The request body is too large.' });
		});
	});

	describe('the browser transport (E2eeServerApi)', () => {
		const transportOf = (client: TestClient) =>
			new E2eeServerApi({ api: client.api, baseUrl: server.url, fetch: (input, init) => client.fetch(String(input), init) });

		it('drives registration, claims, the to-device queue, the key backup and attachments', async () => {
			const a = transportOf(await alice.anotherSession());
			const b = transportOf(await bob.anotherSession());
			expect(await a.currentDevice()).toBeNull();
			const { deviceId: aId } = await a.registerDevice(body(registration({ otks: 3 })));
			const { deviceId: bId } = await b.registerDevice(body(registration({ otks: 3 })));
			expect(await a.currentDevice()).toMatchObject({ deviceId: aId, oneTimePrekeyCount: 3 });
			expect((await a.uploadOneTimePrekeys(oneTimePrekeys(2, 100))).oneTimePrekeyCount).toBe(5);
			expect((await a.listUserDevices(bob.user.id)).map((d) => d.id)).toContain(bId);
			const channel = await a.listChannelDevices(community.generalId);
			expect(channel.members.find((m) => m.userId === bob.user.id)?.devices.map((d) => d.id)).toContain(bId);
			const [bundle] = await a.claimBundles([bId]);
			expect(bundle).toMatchObject({ deviceId: bId, oneTimePrekey: { id: expect.any(Number) } });

			await a.sendToDevice([{ deviceId: bId, body: 'envelope' }]);
			const messages = await b.fetchToDevice(0);
			expect(messages).toMatchObject([{ senderDeviceId: aId, body: 'envelope' }]);
			await b.ackToDevice(messages[0]!.id);
			expect(await b.fetchToDevice(0)).toEqual([]);

			expect((await a.listOwnDevices()).find((d) => d.id === aId)?.current).toBe(true);
			expect((await a.renameDevice(aId, 'Renamed')).name).toBe('Renamed');

			const user = transportOf(await TestClient.signUp(server));
			expect(await user.keyBackup()).toBeNull();
			const params = { alg: 'argon2id13' as const, salt: Buffer.alloc(16, 3).toString('base64url'), opsLimit: 2, memLimit: 64 * 1024 * 1024 };
			await user.putKeyBackup({ version: 1, params, wrappedKey: 'd3JhcHBlZA' });
			// Two batches of 500 (the most one request may carry), read back over two pages.
			const entry = (i: number) => ({ id: `sk:${String(i).padStart(5, '0')}`, ciphertext: 'Y2lwaGVy' });
			await user.putKeyBackupEntries(1, Array.from({ length: 500 }, (_, i) => entry(i)));
			await user.putKeyBackupEntries(1, Array.from({ length: 500 }, (_, i) => entry(i + 500)));
			const all = await user.allKeyBackupEntries();
			expect(all.entries).toHaveLength(1000);
			expect(new Set(all.entries.map((e) => e.id)).size).toBe(1000);

			const ciphertext = new Blob([new Uint8Array(100_000).fill(42)]);
			const attachment = await a.uploadAttachment(community.generalId, ciphertext);
			const stream = await b.downloadAttachment(attachment.id);
			const downloaded = new Uint8Array(await new Response(stream).arrayBuffer());
			expect(downloaded.length).toBe(100_000);
			expect(downloaded.every((x) => x === 42)).toBe(true);
			await expect(a.uploadAttachment(community.generalId, ciphertext, 1000)).rejects.toMatchObject({ status: 413 });

			await a.removeDevice(aId);
			expect((await b.listUserDevices(alice.user.id)).map((d) => d.id)).not.toContain(aId);
		});
	});
});
