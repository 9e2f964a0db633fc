// Call media keys travel like sender keys: over the pairwise sessions of the product's E2eeEngine,
// as to-device messages the server holds only as ciphertext, to devices of people who can read
// the voice channel, bound to the call and the sending device; a device can ask another for them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, joinCommunity } from '../helpers/fixtures.ts';
import { startDevice } from '../helpers/e2ee-device.ts';
import { toB64 } from '#lib/client/e2ee/encoding.ts';
import type { CallMediaKeysWanted, ReceivedCallMediaKeys } from '#lib/client/e2ee/engine.ts';
import type { ChannelView } from '#lib/shared/api-types.ts';
import type { ToDeviceMessage } from '#lib/shared/e2ee.ts';

const skip = postgresUnavailableReason();
const CALL_ID = '0b6f3c2e-6a1d-4f8e-9c3b-2d7e5a1f4c90';

describe.skipIf(skip)('call media keys between devices', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('reach the devices of channel readers only, as ciphertext, with the call and sending device they are bound to', async () => {
		const ann = await TestClient.signUp(server);
		const ben = await TestClient.signUp(server);
		const cleo = await TestClient.signUp(server);
		const community = await createCommunity(ann);
		await joinCommunity(ann, ben, community.id);
		const { channel } = await ann.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'talk', kind: 'voice' });
		const [ann1, ben1, cleo1] = await Promise.all([startDevice(ann), startDevice(ben), startDevice(cleo)]);
		const received: ReceivedCallMediaKeys[] = [];
		ben1.engine.onCallMediaKeys((keys) => received.push(keys));
		const cleoReceived: ReceivedCallMediaKeys[] = [];
		cleo1.engine.onCallMediaKeys((keys) => cleoReceived.push(keys));

		const key = crypto.getRandomValues(new Uint8Array(16));
		// Cleo is no member: her device is not reached even when named; one's own device is skipped.
		const reached = await ann1.engine.sendCallMediaKeys(channel.id, CALL_ID, [ben1.engine.deviceId!, cleo1.engine.deviceId!, ann1.engine.deviceId!], [{ kid: 7, key }]);
		expect(reached).toEqual([ben1.engine.deviceId]);

		// What the server holds for Ben is ciphertext: the key is nowhere in it.
		const queued = await ben.api.get<{ messages: ToDeviceMessage[] }>('/api/to-device?after=0&limit=100');
		expect(queued.messages).toHaveLength(1);
		expect(queued.messages[0]!.body).not.toContain(toB64(key));
		expect(queued.messages[0]!.body).not.toContain('call-media-key');

		await ben1.engine.syncToDevice();
		expect(received).toEqual([
			{ channelId: channel.id, callId: CALL_ID, senderUserId: ann.user.id, senderDeviceId: ann1.engine.deviceId, keys: [{ kid: 7, key: new Uint8Array(key) }] }
		]);
		await cleo1.engine.syncToDevice();
		expect(cleoReceived).toEqual([]);

		// Ben's browser lacks a key of Ann's: it asks her device, which learns who asks, for which call.
		const wanted: CallMediaKeysWanted[] = [];
		ann1.engine.onCallMediaKeyRequests((request) => wanted.push(request));
		await ben1.engine.requestCallMediaKeys(channel.id, CALL_ID, ann1.engine.deviceId!);
		await ann1.engine.syncToDevice();
		expect(wanted).toEqual([{ channelId: channel.id, callId: CALL_ID, senderUserId: ben.user.id, senderDeviceId: ben1.engine.deviceId }]);
	});
});
