// Cluster mode, calls: a voice channel's call lives on one node, chosen at the first join among the
// nodes that run calls (node b runs none: CALL_WORKERS=0). People whose /ws is on other nodes join
// the same call: their call.* frames are relayed to the owner and answered back, and the media
// transports are the owner's (its worker, its announced address). When the owner dies, the call
// ends with `rejoin` for everyone, and joining again re-forms it on a live node, which still honours
// a moderator's removal made on the dead one. Real mediasoup
// workers; Node plays the browser as in calls.test.ts (signalling and worker objects, no media).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelView } from '#lib/shared/api-types.ts';
import type { ServerFrame, ServerFrameOf } from '#lib/shared/protocol/frames.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, joinCommunity, MISSING_ID } from '../helpers/fixtures.ts';
import { waitUntil } from '../helpers/sync-client.ts';
import { startTestCluster, type TestCluster } from '../helpers/test-cluster.ts';
import { clusterUnavailableReason } from '../helpers/test-redis.ts';
import { callWorkerUnavailableReason, type TestServer } from '../helpers/test-server.ts';

const skip = clusterUnavailableReason() ?? callWorkerUnavailableReason();

type JoinResult = { channelId: string; peerId: string; participants: { peerId: string; userId: string }[]; producers: { producerId: string; userId: string }[] };

async function ok<T = Record<string, unknown>>(answer: Promise<ServerFrame>): Promise<T> {
	const frame = await answer;
	if (frame.t !== 'ack') throw new Error(`expected an ack, got ${JSON.stringify(frame)}`);
	return ((frame as ServerFrameOf<'ack'>).result ?? {}) as T;
}

const opus = (ssrc: number) => ({ codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 } }], encodings: [{ ssrc }] });

/** Routers the node's own worker holds (its /metrics): 1 while a call lives there. */
async function routers(node: TestServer): Promise<number> {
	const text = await (await fetch(`${node.url}/metrics`)).text();
	const match = /^hearth_call_worker_objects\{kind="router"\} (\d+)$/m.exec(text);
	return match ? Number(match[1]) : 0;
}

describe.skipIf(skip)('calls across a cluster of three nodes (node b runs no calls)', () => {
	let cluster: TestCluster;
	let a: TestServer;
	let b: TestServer;
	let c: TestServer;
	beforeAll(async () => {
		cluster = await startTestCluster(3, {}, [{}, { CALL_WORKERS: '0' }, {}]);
		[a, b, c] = cluster.nodes as [TestServer, TestServer, TestServer];
	});
	afterAll(async () => {
		await cluster?.stop();
	});

	it('creates one call when two people on two nodes with workers join an empty voice channel at the same moment', async () => {
		const owner = await TestClient.signUp(a);
		const community = await createCommunity(owner, 'Simultaneous joins');
		const { channel: voice } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'stage', kind: 'voice' });
		const other = await TestClient.signUp(c);
		await joinCommunity(owner, other, community.id);
		const [first, second] = [await owner.socket(), await other.socket()];
		const before = (await routers(a)) + (await routers(c));
		const [one, two] = await Promise.all([ok<JoinResult>(first.request({ t: 'call.join', channelId: voice.id })), ok<JoinResult>(second.request({ t: 'call.join', channelId: voice.id }))]);
		// Whoever came second sees the first: the same call, wherever it was placed.
		expect([one.participants.length, two.participants.length].sort()).toEqual([0, 1]);
		expect((await routers(a)) + (await routers(c))).toBe(before + 1);
		await ok(first.request({ t: 'call.leave' }));
		await ok(second.request({ t: 'call.leave' }));
		await waitUntil(async () => (await routers(a)) + (await routers(c)) === before, 5000, 'the empty call closed');
		first.close();
		second.close();
	});

	it('joins a call where it lives even when that node started a moment ago and its heartbeat is not known here yet', async () => {
		// The call's node is played by this test: a heartbeat written just now into Redis, the call's
		// placement key naming it, and its relay inbox. Node a reads its peers once per beat (2 s), so
		// for it this node is not a peer yet; it must still not take the call over.
		const owner = await TestClient.signUp(a);
		const community = await createCommunity(owner, 'Newcomer node');
		const { channel: voice } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'booth', kind: 'voice' });
		const socket = await owner.socket();
		const redis = new Redis(cluster.redis.url);
		const inbox = new Redis(cluster.redis.url);
		const ghost = `node-new-${Date.now()}`;
		const relayed: { from: string; connId: string; frame: { t: string; id: string; channelId: string } }[] = [];
		await inbox.subscribe(`hearth:calls:${ghost}`);
		inbox.on('message', (_channel: string, text: string) => {
			const message = JSON.parse(text) as { k: string; from: string; connId: string; frame: { t: string; id: string; channelId: string } };
			if (message.k !== 'frame') return;
			relayed.push(message);
			// Answered as the call's node would: the ack comes back to the socket's node by relay.
			const ack = { t: 'ack', id: message.frame.id, result: { channelId: message.frame.channelId, peerId: 'ghost-peer', participants: [], producers: [] } };
			void redis.publish(`hearth:calls:${message.from}`, JSON.stringify({ k: 'push', connId: message.connId, raw: JSON.stringify(ack) }));
		});
		try {
			await redis.multi().zadd('hearth:nodes', Date.now(), ghost).set(`hearth:call:${voice.id}`, ghost, 'PX', 15_000).exec();
			const joined = await ok<JoinResult>(socket.request({ t: 'call.join', channelId: voice.id }));
			expect(joined).toMatchObject({ channelId: voice.id, peerId: 'ghost-peer' });
			expect(relayed.map((m) => m.frame.t)).toEqual(['call.join']);
			expect(await redis.get(`hearth:call:${voice.id}`)).toBe(ghost);
			expect(await routers(a)).toBe(0);
		} finally {
			socket.close();
			await redis.multi().zrem('hearth:nodes', ghost).del(`hearth:call:${voice.id}`).exec();
			inbox.disconnect();
			redis.disconnect();
		}
	});

	it('places the call on a node with a worker, relays the frames of people on other nodes, and re-forms it on a live node when its node dies, removals included', async () => {
		const owner = await TestClient.signUp(b);
		const community = await createCommunity(owner, 'Voice across nodes');
		const { channel: voice } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'lounge', kind: 'voice' });
		const alice = await TestClient.signUp(b);
		await joinCommunity(owner, alice, community.id);
		const health = (await (await fetch(`${b.url}/health`)).json()) as { calls: { available: boolean; reason?: string } };
		expect(health.calls).toMatchObject({ available: false, reason: 'CALL_WORKERS=0: this node runs no calls' });

		// Alice's socket is on node b, which has no worker: her call goes to node a or c.
		const aliceSocket = await alice.socket();
		const aliceJoin = await ok<JoinResult>(aliceSocket.request({ t: 'call.join', channelId: voice.id }));
		expect(aliceJoin).toMatchObject({ channelId: voice.id, participants: [] });
		await waitUntil(async () => (await routers(a)) + (await routers(c)) === 1, 5000, 'one router on a or c');
		const home = (await routers(a)) === 1 ? a : c;
		const other = home === a ? c : a;
		expect(await routers(other)).toBe(0);
		const aliceSend = await ok<{ transportId: string; iceCandidates: { port: number }[] }>(aliceSocket.request({ t: 'call.transport.create', direction: 'send' }));
		expect(aliceSend.iceCandidates.length).toBeGreaterThan(0);
		const { producerId } = await ok<{ producerId: string }>(
			aliceSocket.request({ t: 'call.produce', transportId: aliceSend.transportId, kind: 'audio', source: 'mic', rtpParameters: opus(4242) })
		);

		// Bob's socket is on the other node with a worker: he still joins the call where it lives.
		const bob = await TestClient.signUp(other);
		await joinCommunity(owner, bob, community.id);
		const bobSocket = await bob.socket();
		const bobJoin = await ok<JoinResult>(bobSocket.request({ t: 'call.join', channelId: voice.id }));
		expect(bobJoin.participants.map((p) => p.userId)).toEqual([alice.user.id]);
		expect(bobJoin.producers.map((p) => p.producerId)).toEqual([producerId]);
		expect(await routers(other)).toBe(0);
		await aliceSocket.waitFor((f) => f.t === 'call.participant.joined' && f.participant.userId === bob.user.id);
		const bobRecv = await ok<{ transportId: string }>(bobSocket.request({ t: 'call.transport.create', direction: 'recv' }));
		const consumed = await ok<{ consumerId: string; producerId: string; kind: string }>(
			bobSocket.request({ t: 'call.consume', transportId: bobRecv.transportId, producerId, rtpCapabilities: { codecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 }], headerExtensions: [] } })
		);
		expect(consumed).toMatchObject({ producerId, kind: 'audio' });
		await ok(bobSocket.request({ t: 'call.consumer.resume', consumerId: consumed.consumerId }));
		// Errors come back too, with the request's id.
		expect(await bobSocket.request({ t: 'call.producer.close', producerId: MISSING_ID })).toMatchObject({ t: 'error', code: 'not_found' });

		// Bob leaves and comes back: his leave reached the owner (Alice sees him go).
		expect(await ok(bobSocket.request({ t: 'call.leave' }))).toEqual({ left: true });
		await aliceSocket.waitFor((f) => f.t === 'call.participant.left' && f.userId === bob.user.id);
		await ok(bobSocket.request({ t: 'call.join', channelId: voice.id }));

		// The community's owner, on node b, removes Bob: the moderation goes to the call's node, and
		// Bob (on another node again) is told.
		const ownerSocket = await owner.socket();
		await ok(ownerSocket.request({ t: 'call.moderate', channelId: voice.id, userId: bob.user.id, action: 'remove' }));
		expect(await bobSocket.waitFor((f) => f.t === 'call.ended')).toEqual({ t: 'call.ended', channelId: voice.id, reason: 'removed', rejoin: false });

		// The call's node dies: Alice is told to rejoin, and the call re-forms on the live node.
		await cluster.nodes[cluster.nodes.indexOf(home)]!.kill();
		expect(await aliceSocket.waitFor((f) => f.t === 'call.ended' && f.channelId === voice.id, 20_000)).toEqual({ t: 'call.ended', channelId: voice.id, reason: 'server_error', rejoin: true });
		const rejoined = await ok<JoinResult>(aliceSocket.request({ t: 'call.join', channelId: voice.id }));
		expect(rejoined.participants).toEqual([]);
		expect(await routers(other)).toBe(1);
		// Bob's removal was made on the dead node; the new one still refuses him for the cooldown.
		expect(await bobSocket.request({ t: 'call.join', channelId: voice.id })).toMatchObject({ t: 'error', code: 'removed_from_call', message: expect.stringMatching(/^A moderator removed you from this call\. You can rejoin in \d+ s\.$/) });
		aliceSocket.close();
		bobSocket.close();
		ownerSocket.close();
	});
});

describe.skipIf(skip)('calls across a cluster when Redis blips', () => {
	let cluster: TestCluster;
	let a: TestServer;
	let b: TestServer;
	beforeAll(async () => {
		cluster = await startTestCluster(2);
		[a, b] = cluster.nodes as [TestServer, TestServer];
	});
	afterAll(async () => {
		await cluster?.stop();
	});

	const healthOf = async (node: TestServer) => (await (await fetch(`${node.url}/health`)).json()) as { status: string; cluster: { peers: string[] } };

	it('merges a call that formed on two nodes while Redis was away into one when it returns', async () => {
		const owner = await TestClient.signUp(a);
		const community = await createCommunity(owner, 'Split call');
		const { channel: voice } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'split', kind: 'voice' });
		const other = await TestClient.signUp(b);
		await joinCommunity(owner, other, community.id);
		const [onA, onB] = [await owner.socket(), await other.socket()];

		await cluster.redis.kill();
		await waitUntil(async () => (await Promise.all([a, b].map(healthOf))).every((h) => h.status === 'degraded'), 10_000, 'both nodes report degraded');
		// No placement without Redis: each node serves its own socket's call, alone.
		expect((await ok<JoinResult>(onA.request({ t: 'call.join', channelId: voice.id }))).participants).toEqual([]);
		expect((await ok<JoinResult>(onB.request({ t: 'call.join', channelId: voice.id }))).participants).toEqual([]);
		expect([await routers(a), await routers(b)]).toEqual([1, 1]);

		await cluster.redis.start();
		// One of the two calls gives way: its participant is told to rejoin, and lands in the other.
		const ended = await Promise.race(
			[onA, onB].map((socket) => socket.waitFor((f) => f.t === 'call.ended' && f.channelId === voice.id, 30_000).then((frame) => ({ socket, frame })))
		);
		expect(ended.frame).toEqual({ t: 'call.ended', channelId: voice.id, reason: 'server_error', rejoin: true });
		const stayed = ended.socket === onA ? onB : onA;
		const rejoined = await ok<JoinResult>(ended.socket.request({ t: 'call.join', channelId: voice.id }));
		expect(rejoined.participants.map((p) => p.userId)).toEqual([ended.socket === onA ? other.user.id : owner.user.id]);
		await stayed.waitFor((f) => f.t === 'call.participant.joined');
		await waitUntil(async () => (await routers(a)) + (await routers(b)) === 1, 10_000, 'one call left');
		expect(stayed.matching((f) => f.t === 'call.ended')).toEqual([]);
		await ok(onA.request({ t: 'call.leave' }));
		await ok(onB.request({ t: 'call.leave' }));
		onA.close();
		onB.close();
	});

	it('fails a relayed frame whose answer never comes, and has the socket rejoin its call', async () => {
		const owner = await TestClient.signUp(a);
		const community = await createCommunity(owner, 'Lost answers');
		const { channel: voice } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'lost', kind: 'voice' });
		const socket = await owner.socket();
		// A node that heartbeats and holds the call's placement but never reads its relay inbox: every
		// frame relayed to it is lost, as pub/sub loses messages to a subscriber that blipped.
		const { Redis } = await import('ioredis');
		const redis = new Redis(cluster.redis.url, { lazyConnect: true });
		await redis.connect();
		const ghost = 'node-ghost-instance';
		const beat = () => redis.zadd('hearth:nodes', Date.now(), ghost);
		await beat();
		const beating = setInterval(() => void beat().catch(() => {}), 1000);
		try {
			await redis.set(`hearth:call:${voice.id}`, ghost, 'PX', 60_000);
			await waitUntil(async () => (await healthOf(a)).cluster.peers.includes(ghost), 10_000, 'node a sees the ghost node');
			const started = Date.now();
			socket.sendRaw(JSON.stringify({ t: 'call.join', id: 'lost-join', channelId: voice.id }));
			const answer = await socket.waitFor((f) => (f.t === 'ack' || f.t === 'error') && f.id === 'lost-join', 20_000);
			expect(answer).toMatchObject({ t: 'error', code: 'unavailable', message: 'The call’s server did not answer. Reconnecting the call…' });
			expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
			expect(await socket.waitFor((f) => f.t === 'call.ended')).toEqual({ t: 'call.ended', channelId: voice.id, reason: 'server_error', rejoin: true });
			await waitUntil(() => a.logs.some((line) => line.includes('a relayed call frame was not answered')), 5_000, 'node a logged the lost answer');
		} finally {
			clearInterval(beating);
			await redis.zrem('hearth:nodes', ghost);
			await redis.del(`hearth:call:${voice.id}`);
			redis.disconnect();
		}
		// The ghost gone, joining again forms the call on a live node.
		await waitUntil(async () => !(await healthOf(a)).cluster.peers.includes(ghost), 15_000, 'node a no longer sees the ghost');
		expect((await ok<JoinResult>(socket.request({ t: 'call.join', channelId: voice.id }))).participants).toEqual([]);
		await ok(socket.request({ t: 'call.leave' }));
		socket.close();
	}, 60_000);
});
