// Calls through the real mediasoup worker: joining a voice channel over /ws, producing and
// consuming, moderation, limits, TURN credentials, and that nothing stays behind in the worker
// after leaves, socket deaths and a worker crash. Node plays the browser: mediasoup accepts
// produce/consume before DTLS connects, so signalling and the worker's objects are exercised
// without media flowing (the browser test in tests/e2e/ checks audio itself).
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callWorkerUnavailableReason, createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, type TestSocket } from '../helpers/clients.ts';
import { createCommunity, joinCommunity, MISSING_ID } from '../helpers/fixtures.ts';
import { BROWSERS } from '../helpers/media-samples.ts';
import { startDevice } from '../helpers/e2ee-device.ts';
import type { ChannelView } from '#lib/shared/api-types.ts';
import type { ServerFrame, ServerFrameOf } from '#lib/shared/protocol/frames.ts';

const skipDatabase = postgresUnavailableReason();
const noWorker = callWorkerUnavailableReason();
if (noWorker) console.warn(`calls.test.ts: tests with a real mediasoup worker are SKIPPED: ${noWorker}`);
else console.warn('calls.test.ts: running with a real mediasoup worker');

const METRICS_TOKEN = 'c0a3e1f29b4d7e6a5c8b1d0f3e2a4c6b8d0e1f2a3b4c5d6e7f8091a2b3c4d5e6';
const TURN_SECRET = '7f3a9c1e5b2d8f4a6c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a';
const TURN_TTL_SECONDS = 600;
const MAX_PARTICIPANTS = 3;

type Ack = ServerFrameOf<'ack'>;
type JoinResult = {
	channelId: string;
	callId: string;
	peerId: string;
	deviceId: string | null;
	rtpCapabilities: Record<string, unknown>;
	participants: { peerId: string; userId: string; deviceId: string | null }[];
	producers: { producerId: string; userId: string; source: string }[];
	iceServers: { urls: string[]; username?: string; credential?: string }[];
};

/** The answer must be an ack; returns its result. */
async function ok<T = Record<string, unknown>>(answer: Promise<ServerFrame>): Promise<T> {
	const frame = await answer;
	if (frame.t !== 'ack') throw new Error(`expected an ack, got ${JSON.stringify(frame)}`);
	return ((frame as Ack).result ?? {}) as T;
}

let ssrc = 1000;
/** What a browser's Opus sender would declare (mediasoup-client derives the same from the SDP). */
function opusRtpParameters() {
	ssrc += 1;
	return { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 } }], encodings: [{ ssrc }] };
}

/** A participant's session: joined, with a send and a receive transport, optionally a mic producer. */
async function joinWithMedia(socket: TestSocket, channelId: string, options: { produce?: boolean } = {}) {
	const joined = await ok<JoinResult>(socket.request({ t: 'call.join', channelId }));
	const send = await ok<{ transportId: string; iceCandidates: { port: number }[] }>(socket.request({ t: 'call.transport.create', direction: 'send' }));
	const recv = await ok<{ transportId: string }>(socket.request({ t: 'call.transport.create', direction: 'recv' }));
	let producerId: string | undefined;
	if (options.produce) {
		({ producerId } = await ok<{ producerId: string }>(
			socket.request({ t: 'call.produce', transportId: send.transportId, kind: 'audio', source: 'mic', rtpParameters: opusRtpParameters() })
		));
	}
	return { joined, send, recv, producerId };
}

async function workerObjects(server: TestServer): Promise<Record<'router' | 'transport' | 'producer' | 'consumer', number>> {
	const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
	const text = await response.text();
	const counts = { router: -1, transport: -1, producer: -1, consumer: -1 };
	for (const kind of Object.keys(counts) as (keyof typeof counts)[]) {
		const match = new RegExp(`^hearth_call_worker_objects\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text);
		counts[kind] = match ? Number(match[1]) : -1;
	}
	return counts;
}

async function until<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await read();
		if (accept(value) || Date.now() > deadline) return value;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

describe.skipIf(skipDatabase)('calls without a mediasoup worker', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { MEDIASOUP_WORKER_BIN: '/nonexistent/mediasoup-worker' } });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('the server starts, logs why calls are unavailable, and /health says so', async () => {
		expect(server.logs.some((line) => line.includes('calls unavailable') && line.includes('MEDIASOUP_WORKER_BIN=/nonexistent/mediasoup-worker is not an executable file'))).toBe(true);
		const health = (await (await fetch(`${server.url}/health`)).json()) as { status: string; calls: unknown };
		expect(health.status).toBe('ok');
		expect(health.calls).toEqual({ available: false, reason: 'MEDIASOUP_WORKER_BIN=/nonexistent/mediasoup-worker is not an executable file' });
	});

	it('call.join in a voice channel answers unavailable with the reason', async () => {
		const owner = await TestClient.signUp(server);
		const community = await createCommunity(owner, 'No SFU here');
		const { channel } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'voice', kind: 'voice' });
		expect(channel.kind).toBe('voice');
		const socket = await owner.socket();
		expect(await socket.request({ t: 'call.join', channelId: channel.id })).toEqual({
			t: 'error',
			id: expect.any(String),
			code: 'unavailable',
			message: 'Calls are unavailable on this server: MEDIASOUP_WORKER_BIN=/nonexistent/mediasoup-worker is not an executable file'
		});
		socket.close();
	});
});

describe.skipIf(skipDatabase)('calls listening on every interface without an announced address', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		// What docker-compose.yml runs when .env has no CALL_ANNOUNCED_ADDRESS.
		server = await startServer({ database: db, env: { CALL_LISTEN_IP: '0.0.0.0', CALL_ANNOUNCED_ADDRESS: '' } });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('reports calls unavailable with what to set, instead of announcing 0.0.0.0 to browsers', async () => {
		const reason = 'CALL_LISTEN_IP=0.0.0.0 needs CALL_ANNOUNCED_ADDRESS: the public IP or host name browsers send media to';
		expect(server.logs.some((line) => line.includes('calls unavailable') && line.includes(reason))).toBe(true);
		const health = (await (await fetch(`${server.url}/health`)).json()) as { calls: unknown };
		expect(health.calls).toEqual({ available: false, reason });
	});
});

describe.skipIf(skipDatabase || noWorker)('calls with a real mediasoup worker', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let member: TestClient;
	let third: TestClient;
	let stranger: TestClient;
	let voiceId: string;
	let textId: string;
	let community: string;
	const sockets: TestSocket[] = [];
	const open = async (client: TestClient) => {
		const socket = await client.socket();
		sockets.push(socket);
		return socket;
	};

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({
			database: db,
			env: {
				METRICS_TOKEN,
				CALL_MAX_PARTICIPANTS: String(MAX_PARTICIPANTS),
				STUN_URLS: 'stun:turn.example.test:3478',
				TURN_URLS: 'turn:turn.example.test:3478?transport=udp,turns:turn.example.test:5349',
				TURN_SECRET,
				TURN_TTL_SECONDS: String(TURN_TTL_SECONDS)
			}
		});
		await TestClient.signUp(server);
		owner = await TestClient.signUp(server);
		member = await TestClient.signUp(server);
		third = await TestClient.signUp(server);
		stranger = await TestClient.signUp(server);
		const club = await createCommunity(owner, 'Call club');
		community = club.id;
		await joinCommunity(owner, member, club.id);
		await joinCommunity(owner, third, club.id);
		const { channel } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${club.id}/channels`, { name: 'lounge', kind: 'voice' });
		voiceId = channel.id;
		textId = club.generalId;
	});
	afterAll(async () => {
		for (const socket of sockets) socket.close();
		await server?.stop();
		await db?.drop();
	});
	// Tests end by closing their sockets; the server frees those peers (and an emptied router, on the
	// next tick) a moment later. Each test starts from an empty worker, so its exact counts are its own.
	beforeEach(async () => {
		expect(await until(() => workerObjects(server), (c) => c.router === 0 && c.transport === 0)).toMatchObject({ router: 0, transport: 0 });
	});

	it('/health reports calls available with one worker', async () => {
		const health = (await (await fetch(`${server.url}/health`)).json()) as { calls: unknown };
		expect(health.calls).toEqual({ available: true, workers: 1, calls: 0, participants: 0 });
		expect(server.logs.some((line) => line.includes('"calls available"'))).toBe(true);
	});

	it('frames that act on a call answer not_in_call before call.join', async () => {
		const socket = await open(member);
		// Well-formed frames (the parameter objects pass their shape check), so only the missing call refuses them.
		for (const frame of [
			{ t: 'call.transport.create', direction: 'send' },
			{ t: 'call.transport.connect', transportId: MISSING_ID, dtlsParameters: BROWSERS.chromium.dtlsParameters },
			{ t: 'call.produce', transportId: MISSING_ID, kind: 'audio', source: 'mic', rtpParameters: BROWSERS.chromium.mic },
			{ t: 'call.producer.close', producerId: MISSING_ID },
			{ t: 'call.producer.pause', producerId: MISSING_ID },
			{ t: 'call.producer.resume', producerId: MISSING_ID },
			{ t: 'call.consume', transportId: MISSING_ID, producerId: MISSING_ID, rtpCapabilities: BROWSERS.chromium.recvRtpCapabilities },
			{ t: 'call.consumer.resume', consumerId: MISSING_ID },
			{ t: 'call.transport.restartIce', transportId: MISSING_ID },
			{ t: 'call.consumer.layers', consumerId: MISSING_ID, spatialLayer: 0 }
		]) {
			expect(await socket.request(frame)).toEqual({ t: 'error', id: expect.any(String), code: 'not_in_call', message: 'Join a call first.' });
		}
		expect(await ok(socket.request({ t: 'call.leave' }))).toEqual({ left: false });
		socket.close();
	});

	it('a stranger cannot join (not found, like a missing channel) and a text channel has no call', async () => {
		const strangerSocket = await open(stranger);
		expect(await strangerSocket.request({ t: 'call.join', channelId: voiceId })).toEqual({ t: 'error', id: expect.any(String), code: 'not_found', message: 'Channel was not found.' });
		const memberSocket = await open(member);
		expect(await memberSocket.request({ t: 'call.join', channelId: textId })).toEqual({ t: 'error', id: expect.any(String), code: 'invalid', message: 'Only voice channels have calls.' });
		strangerSocket.close();
		memberSocket.close();
	});

	it('joining returns the router capabilities, the others, their producers and short-lived TURN credentials', async () => {
		const ownerSocket = await open(owner);
		const memberSocket = await open(member);
		const first = await joinWithMedia(ownerSocket, voiceId, { produce: true });
		expect(first.joined.participants).toEqual([]);
		expect(first.send.iceCandidates.length).toBeGreaterThan(0);

		const before = Math.floor(Date.now() / 1000);
		const joinedNotice = ownerSocket.next((f) => f.t === 'call.participant.joined');
		const second = await ok<JoinResult>(memberSocket.request({ t: 'call.join', channelId: voiceId }));
		const after = Math.floor(Date.now() / 1000);
		expect((second.rtpCapabilities.codecs as { mimeType: string }[]).map((c) => c.mimeType)).toEqual(expect.arrayContaining(['audio/opus', 'video/VP8']));
		// Neither session registered an encryption device: no device to send media keys to.
		expect(second.participants).toEqual([{ peerId: first.joined.peerId, userId: owner.user.id, deviceId: null, mutedByModerator: false }]);
		expect(second.callId).toBe(first.joined.callId);
		expect(second.producers).toEqual([{ producerId: first.producerId, peerId: first.joined.peerId, userId: owner.user.id, kind: 'audio', source: 'mic', paused: false }]);
		expect(await joinedNotice).toEqual({ t: 'call.participant.joined', channelId: voiceId, participant: { peerId: second.peerId, userId: member.user.id, deviceId: null, mutedByModerator: false } });

		// coturn use-auth-secret: username "<expiry>:<user id>", credential base64(HMAC-SHA1(secret, username)).
		const [stun, turn] = second.iceServers;
		expect(stun).toEqual({ urls: ['stun:turn.example.test:3478'] });
		expect(turn!.urls).toEqual(['turn:turn.example.test:3478?transport=udp', 'turns:turn.example.test:5349']);
		const [expiry, userId] = turn!.username!.split(':');
		expect(userId).toBe(member.user.id);
		expect(Number(expiry)).toBeGreaterThanOrEqual(before + TURN_TTL_SECONDS);
		expect(Number(expiry)).toBeLessThanOrEqual(after + TURN_TTL_SECONDS);
		expect(turn!.credential).toBe(createHmac('sha1', TURN_SECRET).update(turn!.username!).digest('base64'));

		await ok(memberSocket.request({ t: 'call.leave' }));
		await ok(ownerSocket.request({ t: 'call.leave' }));
		ownerSocket.close();
		memberSocket.close();
	});

	it('participants carry the encryption device of their session (where media keys go), and each call has an id of its own', async () => {
		// People of their own: the sessions of the others in this file stay without a device.
		const alice = await TestClient.signUp(server);
		const bob = await TestClient.signUp(server);
		await joinCommunity(owner, alice, community);
		await joinCommunity(owner, bob, community);
		const ownerDevice = await startDevice(alice);
		const memberDevice = await startDevice(bob);
		const ownerSocket = await open(alice);
		const memberSocket = await open(bob);
		const first = await ok<JoinResult>(ownerSocket.request({ t: 'call.join', channelId: voiceId }));
		expect(first.deviceId).toBe(ownerDevice.engine.deviceId);
		const joinedNotice = ownerSocket.next((f) => f.t === 'call.participant.joined');
		const second = await ok<JoinResult>(memberSocket.request({ t: 'call.join', channelId: voiceId }));
		expect(second.participants).toEqual([{ peerId: first.peerId, userId: alice.user.id, deviceId: ownerDevice.engine.deviceId, mutedByModerator: false }]);
		expect(await joinedNotice).toMatchObject({ participant: { userId: bob.user.id, deviceId: memberDevice.engine.deviceId } });
		expect(second.callId).toBe(first.callId);
		await ok(memberSocket.request({ t: 'call.leave' }));
		await ok(ownerSocket.request({ t: 'call.leave' }));
		// The emptied call closes; the next one in the channel is another call, with another id.
		await until(() => workerObjects(server), (c) => c.router === 0);
		const next = await ok<JoinResult>(ownerSocket.request({ t: 'call.join', channelId: voiceId }));
		expect(next.callId).toMatch(/^[0-9a-f-]{36}$/);
		expect(next.callId).not.toBe(first.callId);
		await ok(ownerSocket.request({ t: 'call.leave' }));
		ownerSocket.close();
		memberSocket.close();
	});

	it('a new producer is announced, can be consumed and resumed, and its closing is announced', async () => {
		const ownerSocket = await open(owner);
		const memberSocket = await open(member);
		const listener = await joinWithMedia(memberSocket, voiceId);
		const announced = memberSocket.next<ServerFrameOf<'call.producer.new'>>((f) => f.t === 'call.producer.new');
		const speaker = await joinWithMedia(ownerSocket, voiceId, { produce: true });
		expect((await announced).producer).toMatchObject({ producerId: speaker.producerId, userId: owner.user.id, kind: 'audio', source: 'mic' });

		const consumed = await ok<{ consumerId: string; kind: string; rtpParameters: { codecs: { mimeType: string }[] } }>(
			memberSocket.request({ t: 'call.consume', transportId: listener.recv.transportId, producerId: speaker.producerId, rtpCapabilities: listener.joined.rtpCapabilities })
		);
		expect(consumed.kind).toBe('audio');
		expect(consumed.rtpParameters.codecs[0]!.mimeType).toBe('audio/opus');
		await ok(memberSocket.request({ t: 'call.consumer.resume', consumerId: consumed.consumerId }));
		// Consuming on the send transport, or one's own producer, is refused.
		expect(await memberSocket.request({ t: 'call.consume', transportId: listener.send.transportId, producerId: speaker.producerId, rtpCapabilities: listener.joined.rtpCapabilities })).toMatchObject({ t: 'error', code: 'not_found', message: 'Transport was not found.' });
		expect(await workerObjects(server)).toEqual({ router: 1, transport: 4, producer: 1, consumer: 1 });

		const closed = memberSocket.next((f) => f.t === 'call.producer.closed');
		await ok(ownerSocket.request({ t: 'call.producer.close', producerId: speaker.producerId }));
		expect(await closed).toEqual({ t: 'call.producer.closed', channelId: voiceId, producerId: speaker.producerId });
		expect(await until(() => workerObjects(server), (c) => c.consumer === 0)).toEqual({ router: 1, transport: 4, producer: 0, consumer: 0 });

		await ok(memberSocket.request({ t: 'call.leave' }));
		await ok(ownerSocket.request({ t: 'call.leave' }));
		expect(await until(() => workerObjects(server), (c) => c.router === 0 && c.transport === 0)).toEqual({ router: 0, transport: 0, producer: 0, consumer: 0 });
		ownerSocket.close();
		memberSocket.close();
	});

	it('restarting ICE gives a transport new ICE credentials, only for the peer’s own transports', async () => {
		const ownerSocket = await open(owner);
		const memberSocket = await open(member);
		const session = await joinWithMedia(ownerSocket, voiceId);
		const other = await joinWithMedia(memberSocket, voiceId);
		const created = session.send as unknown as { iceParameters: { usernameFragment: string; password: string } };
		const restarted = await ok<{ iceParameters: { usernameFragment: string; password: string; iceLite?: boolean } }>(
			ownerSocket.request({ t: 'call.transport.restartIce', transportId: session.send.transportId })
		);
		expect(restarted.iceParameters.usernameFragment).toEqual(expect.any(String));
		expect(restarted.iceParameters.usernameFragment).not.toBe(created.iceParameters.usernameFragment);
		expect(restarted.iceParameters.password).not.toBe(created.iceParameters.password);
		// Someone else's transport answers like a missing one.
		expect(await memberSocket.request({ t: 'call.transport.restartIce', transportId: session.send.transportId })).toEqual({
			t: 'error',
			id: expect.any(String),
			code: 'not_found',
			message: 'Transport was not found.'
		});
		expect(await ok(memberSocket.request({ t: 'call.transport.restartIce', transportId: other.recv.transportId }))).toHaveProperty('iceParameters');
		ownerSocket.close();
		memberSocket.close();
	});

	it('a receiver caps a simulcast camera at the layer its tile needs; a single-layer stream has none to choose', async () => {
		const ownerSocket = await open(owner);
		const memberSocket = await open(member);
		const sender = await joinWithMedia(ownerSocket, voiceId, { produce: true });
		const receiver = await joinWithMedia(memberSocket, voiceId);
		// Three simulcast encodings, as a browser's camera sends them.
		const camera = await ok<{ producerId: string }>(
			ownerSocket.request({
				t: 'call.produce',
				transportId: sender.send.transportId,
				kind: 'video',
				source: 'camera',
				rtpParameters: {
					codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }],
					encodings: [{ ssrc: 7001 }, { ssrc: 7002 }, { ssrc: 7003 }]
				}
			})
		);
		const consume = (producerId: string) =>
			ok<{ consumerId: string }>(memberSocket.request({ t: 'call.consume', transportId: receiver.recv.transportId, producerId, rtpCapabilities: receiver.joined.rtpCapabilities }));
		const video = await consume(camera.producerId);
		expect(await ok(memberSocket.request({ t: 'call.consumer.layers', consumerId: video.consumerId, spatialLayer: 0 }))).toEqual({ preferredLayers: { spatialLayer: 0, temporalLayer: expect.any(Number) } });
		expect(await ok(memberSocket.request({ t: 'call.consumer.layers', consumerId: video.consumerId, spatialLayer: 2 }))).toMatchObject({ preferredLayers: { spatialLayer: 2 } });
		const audio = await consume(sender.producerId!);
		expect(await ok(memberSocket.request({ t: 'call.consumer.layers', consumerId: audio.consumerId, spatialLayer: 0 }))).toEqual({ preferredLayers: null });
		// Only one's own consumers.
		expect(await ownerSocket.request({ t: 'call.consumer.layers', consumerId: video.consumerId, spatialLayer: 0 })).toEqual({ t: 'error', id: expect.any(String), code: 'not_found', message: 'Consumer was not found.' });
		expect(await memberSocket.request({ t: 'call.consumer.layers', consumerId: video.consumerId, spatialLayer: 3 })).toMatchObject({ t: 'error', code: 'bad_frame' });
		ownerSocket.close();
		memberSocket.close();
	});

	it(`refuses a participant beyond CALL_MAX_PARTICIPANTS (${MAX_PARTICIPANTS}) with call_full`, async () => {
		const inCall = [await open(owner), await open(member), await open(third)];
		for (const socket of inCall) await ok(socket.request({ t: 'call.join', channelId: voiceId }));
		const extra = await open(member);
		expect(await extra.request({ t: 'call.join', channelId: voiceId })).toEqual({ t: 'error', id: expect.any(String), code: 'call_full', message: `This call is full (${MAX_PARTICIPANTS} participants).` });
		await ok(inCall[2]!.request({ t: 'call.leave' }));
		await ok(extra.request({ t: 'call.join', channelId: voiceId }));
		for (const socket of [...inCall, extra]) socket.close();
		expect(await until(() => workerObjects(server), (c) => c.router === 0)).toMatchObject({ router: 0 });
	});

	it('200 join/leave cycles with transports, a producer and a consumer leave nothing behind in the worker', async () => {
		const ownerSocket = await open(owner);
		const speaker = await joinWithMedia(ownerSocket, voiceId, { produce: true });
		const baseline = await workerObjects(server);
		expect(baseline).toEqual({ router: 1, transport: 2, producer: 1, consumer: 0 });
		const memberSocket = await open(member);
		for (let cycle = 0; cycle < 200; cycle++) {
			const session = await joinWithMedia(memberSocket, voiceId, { produce: true });
			await ok(memberSocket.request({ t: 'call.consume', transportId: session.recv.transportId, producerId: speaker.producerId, rtpCapabilities: session.joined.rtpCapabilities }));
			await ok(memberSocket.request({ t: 'call.leave' }));
		}
		expect(await until(() => workerObjects(server), (c) => c.transport === baseline.transport)).toEqual(baseline);
		const health = (await (await fetch(`${server.url}/health`)).json()) as { calls: { participants: number } };
		expect(health.calls.participants).toBe(1);
		const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
		for (const line of ['hearth_calls_active 1', 'hearth_call_participants 1', 'hearth_call_producers 1', 'hearth_call_consumers 0']) expect(metrics).toContain(`\n${line}\n`);
		expect(metrics).toMatch(/\nhearth_call_worker_cpu_seconds\{worker="0"\} [0-9.]+\n/);
		await ok(ownerSocket.request({ t: 'call.leave' }));
		ownerSocket.close();
		memberSocket.close();
		expect(await until(() => workerObjects(server), (c) => c.router === 0 && c.transport === 0)).toEqual({ router: 0, transport: 0, producer: 0, consumer: 0 });
	}, 120_000);

	it('a call.leave sent right behind a call.join is served after it: no peer is left behind', async () => {
		const socket = await open(member);
		const [joined, left] = await Promise.all([socket.request({ t: 'call.join', channelId: voiceId }), socket.request({ t: 'call.leave' })]);
		expect(joined.t).toBe('ack');
		expect(left).toEqual({ t: 'ack', id: expect.any(String), result: { left: true } });
		const health = (await (await fetch(`${server.url}/health`)).json()) as { calls: { participants: number } };
		expect(health.calls.participants).toBe(0);
		socket.close();
	});

	it("a socket that dies frees its peer's objects and the others see it leave", async () => {
		const ownerSocket = await open(owner);
		await joinWithMedia(ownerSocket, voiceId, { produce: true });
		const memberSocket = await open(member);
		const session = await joinWithMedia(memberSocket, voiceId, { produce: true });
		expect(await workerObjects(server)).toEqual({ router: 1, transport: 4, producer: 2, consumer: 0 });
		const left = ownerSocket.next((f) => f.t === 'call.participant.left');
		const producerClosed = ownerSocket.next((f) => f.t === 'call.producer.closed');
		memberSocket.ws.terminate(); // no closing handshake, as when a laptop lid closes
		expect(await left).toEqual({ t: 'call.participant.left', channelId: voiceId, peerId: session.joined.peerId, userId: member.user.id });
		expect(await producerClosed).toEqual({ t: 'call.producer.closed', channelId: voiceId, producerId: session.producerId });
		expect(await until(() => workerObjects(server), (c) => c.transport === 2)).toEqual({ router: 1, transport: 2, producer: 1, consumer: 0 });
		ownerSocket.close();
		expect(await until(() => workerObjects(server), (c) => c.router === 0 && c.transport === 0)).toEqual({ router: 0, transport: 0, producer: 0, consumer: 0 });
	});

	it('moderators mute (the mic stays paused until unmuted) and remove participants; members cannot', async () => {
		const ownerSocket = await open(owner);
		const memberSocket = await open(member);
		await ok(ownerSocket.request({ t: 'call.join', channelId: voiceId }));
		const session = await joinWithMedia(memberSocket, voiceId, { produce: true });

		expect(await memberSocket.request({ t: 'call.moderate', channelId: voiceId, userId: owner.user.id, action: 'mute' })).toEqual({
			t: 'error',
			id: expect.any(String),
			code: 'forbidden',
			message: 'You need the "Time out members" permission in this community to do that.'
		});

		const paused = ownerSocket.next((f) => f.t === 'call.producer.paused');
		await ok(ownerSocket.request({ t: 'call.moderate', channelId: voiceId, userId: member.user.id, action: 'mute' }));
		expect(await memberSocket.waitFor((f) => f.t === 'call.muted')).toEqual({ t: 'call.muted', channelId: voiceId, muted: true });
		expect(await paused).toEqual({ t: 'call.producer.paused', channelId: voiceId, producerId: session.producerId, paused: true });
		expect(await memberSocket.request({ t: 'call.producer.resume', producerId: session.producerId })).toEqual({ t: 'error', id: expect.any(String), code: 'forbidden', message: 'A moderator muted you in this call.' });

		await ok(ownerSocket.request({ t: 'call.moderate', channelId: voiceId, userId: member.user.id, action: 'unmute' }));
		await ok(memberSocket.request({ t: 'call.producer.resume', producerId: session.producerId }));

		const ended = memberSocket.next((f) => f.t === 'call.ended');
		await ok(ownerSocket.request({ t: 'call.moderate', channelId: voiceId, userId: member.user.id, action: 'remove' }));
		expect(await ended).toEqual({ t: 'call.ended', channelId: voiceId, reason: 'removed', rejoin: false });
		expect(await memberSocket.request({ t: 'call.transport.create', direction: 'send' })).toMatchObject({ t: 'error', code: 'not_in_call' });
		expect(await ownerSocket.request({ t: 'call.moderate', channelId: voiceId, userId: member.user.id, action: 'remove' })).toEqual({ t: 'error', id: expect.any(String), code: 'not_found', message: 'Participant was not found.' });
		ownerSocket.close();
		memberSocket.close();
	});

	it('a removed participant cannot rejoin that call for a while (removed_from_call), from any connection; others and other calls can', async () => {
		const { channel: stage } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community}/channels`, { name: 'stage', kind: 'voice' });
		const { channel: studio } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community}/channels`, { name: 'studio', kind: 'voice' });
		const ownerSocket = await open(owner);
		const memberSocket = await open(member);
		const memberOtherTab = await open(member);
		const thirdSocket = await open(third);
		await ok(ownerSocket.request({ t: 'call.join', channelId: stage.id }));
		await joinWithMedia(memberSocket, stage.id, { produce: true });

		const ended = memberSocket.next((f) => f.t === 'call.ended');
		await ok(ownerSocket.request({ t: 'call.moderate', channelId: stage.id, userId: member.user.id, action: 'remove' }));
		expect(await ended).toEqual({ t: 'call.ended', channelId: stage.id, reason: 'removed', rejoin: false });

		const refusal = { t: 'error', id: expect.any(String), code: 'removed_from_call', message: expect.stringMatching(/^A moderator removed you from this call\. You can rejoin in (59|60) s\.$/) };
		expect(await memberSocket.request({ t: 'call.join', channelId: stage.id })).toEqual(refusal);
		expect(await memberOtherTab.request({ t: 'call.join', channelId: stage.id })).toEqual(refusal);
		// The refused joins took no seat: the owner is still alone with their one peer.
		expect((await ok<JoinResult>(thirdSocket.request({ t: 'call.join', channelId: stage.id }))).participants.map((p) => p.userId)).toEqual([owner.user.id]);
		// Another call of the same community is open to them.
		await ok(memberOtherTab.request({ t: 'call.join', channelId: studio.id }));
		for (const socket of [ownerSocket, memberSocket, memberOtherTab, thirdSocket]) socket.close();
	});

	it("mediasoup accepts what Chromium, Firefox and Safari send; junk is refused at the frame, before mediasoup", async () => {
		const ownerSocket = await open(owner);
		const listener = await joinWithMedia(ownerSocket, voiceId);
		for (const [browser, sample] of Object.entries(BROWSERS)) {
			const socket = await open(third);
			const { send } = await joinWithMedia(socket, voiceId);
			const produced: string[] = [];
			for (const [source, kind, rtpParameters] of [['mic', 'audio', sample.mic], ['camera', 'video', sample.camera]] as const) {
				const answer = await socket.request({ t: 'call.produce', transportId: send.transportId, kind, source, rtpParameters });
				expect({ browser, source, answer: answer.t === 'ack' ? 'ack' : answer }).toEqual({ browser, source, answer: 'ack' });
				produced.push(((answer as Ack).result as { producerId: string }).producerId);
			}
			for (const producerId of produced) {
				const answer = await ownerSocket.request({ t: 'call.consume', transportId: listener.recv.transportId, producerId, rtpCapabilities: sample.recvRtpCapabilities });
				expect({ browser, answer: answer.t === 'ack' ? 'ack' : answer }).toEqual({ browser, answer: 'ack' });
			}
			expect(await socket.request({ t: 'call.transport.connect', transportId: send.transportId, dtlsParameters: sample.dtlsParameters })).toMatchObject({ t: 'ack' });
			socket.close();
			await until(() => workerObjects(server), (c) => c.producer === 0);
		}

		const socket = await open(third);
		const { send } = await joinWithMedia(socket, voiceId);
		expect(await socket.request({ t: 'call.produce', transportId: send.transportId, kind: 'audio', source: 'mic', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 'x', clockRate: 48000 }] } })).toEqual({
			t: 'error',
			id: expect.any(String),
			code: 'bad_frame',
			message: expect.stringMatching(/^rtpParameters: codecs\.0\.payloadType: /)
		});
		expect(await socket.request({ t: 'call.transport.connect', transportId: send.transportId, dtlsParameters: { fingerprints: [] } })).toEqual({
			t: 'error',
			id: expect.any(String),
			code: 'bad_frame',
			message: 'dtlsParameters: fingerprints: at least one fingerprint'
		});
		// Well-formed but meaningless together (a codec the router does not have) is still mediasoup's to refuse.
		expect(await socket.request({ t: 'call.produce', transportId: send.transportId, kind: 'audio', source: 'mic', rtpParameters: { codecs: [{ mimeType: 'audio/G722', payloadType: 9, clockRate: 8000 }], encodings: [{ ssrc: 4242 }] } })).toMatchObject({
			t: 'error',
			code: 'invalid'
		});
		expect(await until(() => workerObjects(server), (c) => c.transport === 4)).toEqual({ router: 1, transport: 4, producer: 0, consumer: 0 });
		ownerSocket.close();
		socket.close();
	});

	it('leaving the community ends the call for that person (access_lost) and frees their objects', async () => {
		const ownerSocket = await open(owner);
		const thirdSocket = await open(third);
		await joinWithMedia(ownerSocket, voiceId);
		await joinWithMedia(thirdSocket, voiceId, { produce: true });
		const ended = thirdSocket.next((f) => f.t === 'call.ended');
		const left = ownerSocket.next((f) => f.t === 'call.participant.left');
		await third.api.post(`/api/communities/${community}/leave`);
		expect(await ended).toEqual({ t: 'call.ended', channelId: voiceId, reason: 'access_lost', rejoin: false });
		expect(await left).toMatchObject({ userId: third.user.id });
		expect(await until(() => workerObjects(server), (c) => c.transport === 2)).toEqual({ router: 1, transport: 2, producer: 0, consumer: 0 });
		expect(await thirdSocket.request({ t: 'call.join', channelId: voiceId })).toEqual({ t: 'error', id: expect.any(String), code: 'not_found', message: 'Channel was not found.' });
		ownerSocket.close();
		thirdSocket.close();
	});

	it('when the worker dies, its calls end with rejoin: true, a new worker replaces it and rejoining works', async () => {
		const ownerSocket = await open(owner);
		await joinWithMedia(ownerSocket, voiceId, { produce: true });
		const workerPids = execFileSync('pgrep', ['-P', String(server.process.pid), '-f', 'mediasoup-worker'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
		expect(workerPids).toHaveLength(1);
		const ended = ownerSocket.next((f) => f.t === 'call.ended');
		process.kill(Number(workerPids[0]), 'SIGKILL');
		expect(await ended).toEqual({ t: 'call.ended', channelId: voiceId, reason: 'server_error', rejoin: true });
		const rejoined = await until(
			() => ownerSocket.request({ t: 'call.join', channelId: voiceId }),
			(answer) => answer.t === 'ack',
			10_000
		);
		expect(rejoined.t).toBe('ack');
		expect(server.logs.some((line) => line.includes('call worker died; replacing it'))).toBe(true);
		await ok(ownerSocket.request({ t: 'call.leave' }));
		ownerSocket.close();
	});
});
