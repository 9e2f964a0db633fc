// Cluster mode: three real Hearth processes on one PostgreSQL database and one Redis. Whatever node
// a person's socket is on, they get every event of their channels exactly once and in seq order,
// nothing acknowledged is lost when a node dies or Redis restarts, and whatever closes or changes a
// socket (session revoke, device removal, typing) reaches it from any node.
import { createHash } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '#lib/shared/protocol/codes.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';
import { presenceEntries } from '#lib/shared/protocol/presence-frame.ts';
import { TestClient, type TestSocket } from '../helpers/clients.ts';
import { body, registration } from '../helpers/e2ee-keys.ts';
import { createInvite, expectError, expectJson, sendMessage } from '../helpers/fixtures.ts';
import { expectConsistent, sendSeries, serverHistory, waitForAll } from '../helpers/no-loss-checks.ts';
import { createSyncClient, waitOpen, waitUntil, type SyncClient } from '../helpers/sync-client.ts';
import { onNode, startTestCluster, TcpBalancer, type TestCluster } from '../helpers/test-cluster.ts';
import { clusterUnavailableReason, freePort } from '../helpers/test-redis.ts';
import { createTestDatabase, startServer, type TestServer } from '../helpers/test-server.ts';

const skip = clusterUnavailableReason();
const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

type Health = { status: string; cluster: { mode: string; nodeId?: string; reachable?: boolean; reason?: string | null; peers?: string[] } };

async function health(node: TestServer): Promise<Health> {
	return (await (await fetch(`${node.url}/health`)).json()) as Health;
}

/** An owner on the first node and one member signed up on each other node, all in one community. */
async function setUpCommunity(nodes: TestServer[]) {
	const owner = await TestClient.signUp(nodes[0]!);
	const { community } = await owner.api.post<{ community: { id: string; channels: { id: string }[] } }>('/api/communities', { name: 'Cluster' });
	const invite = await createInvite(owner, community.id);
	const members = [owner];
	for (const node of nodes.slice(1)) {
		const member = await TestClient.signUp(node);
		await member.api.post(`/api/invites/${invite.code}/accept`);
		members.push(member);
	}
	return { communityId: community.id, channelId: community.channels[0]!.id, members };
}

/** The channel events a raw socket received, checked to be each seq once, consecutive and increasing. */
function expectExactlyOnceInOrder(socket: TestSocket, channelId: string, created: number) {
	const events = socket.frames.filter((f): f is Extract<ServerFrame, { t: 'event' }> => f.t === 'event' && f.channelId === channelId).map((f) => f.event);
	const seqs = events.map((e) => e.seq);
	expect(seqs.length).toBeGreaterThan(0);
	expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
	expect(events.filter((e) => e.type === 'message.created')).toHaveLength(created);
}

describe.skipIf(skip)('a cluster of three nodes on one PostgreSQL and one Redis', () => {
	let cluster: TestCluster;
	beforeAll(async () => {
		cluster = await startTestCluster(3);
	});
	afterAll(async () => {
		await cluster?.stop();
	});

	it('reports cluster mode in /health, /metrics and the preflight report: the node id, the peers it sees and Redis reachable', async () => {
		const [a, b, c] = cluster.nodes;
		await waitUntil(async () => (await health(a!)).cluster.peers?.length === 2, 10_000, 'node a sees both peers');
		expect(await health(a!)).toMatchObject({ status: 'ok', cluster: { mode: 'cluster', nodeId: 'node-a', reachable: true, reason: null, peers: ['node-b', 'node-c'] } });
		expect((await health(b!)).cluster).toMatchObject({ nodeId: 'node-b', reachable: true });
		expect((await health(c!)).cluster).toMatchObject({ nodeId: 'node-c', reachable: true });
		const metrics = await (await fetch(`${a!.url}/metrics`)).text();
		expect(metrics).toMatch(/^hearth_cluster_redis_up 1$/m);
		expect(metrics).toMatch(/^hearth_cluster_peers 2$/m);
		expect(metrics).toMatch(/^hearth_cluster_outbox_notices 0$/m);
		const preflight = a!.logs.find((line) => line.includes('"preflight report"'))!;
		expect(JSON.parse(preflight).preflight.cluster).toMatch(/^node node-a on Redis redis:\/\/127\.0\.0\.1:\d+; /);
	});

	it('delivers a message sent on one node to members on the other nodes exactly once, in seq order', async () => {
		const { channelId, members } = await setUpCommunity(cluster.nodes);
		// Raw sockets see the wire: every event frame, duplicates included.
		const raw = await Promise.all(members.map((member) => member.socket()));
		const clients = members.map((member) => createSyncClient(member));
		await Promise.all(clients.map((client) => waitOpen(client)));
		await Promise.all(clients.map((client) => client.sync.open(channelId)));

		// Two senders on two nodes at once: their events interleave in the channel's seq.
		const sent = await Promise.all([sendSeries(clients[0]!, channelId, 'on-a', 60, 5), sendSeries(clients[1]!, channelId, 'on-b', 60, 5)]);
		await waitForAll(clients, channelId, 120);
		const history = await serverHistory(members[2]!, channelId);
		expect(history).toHaveLength(120);
		expectConsistent(clients, channelId, history, sent);
		await Promise.all(raw.map((socket) => waitUntil(() => socket.matching((f) => f.t === 'event' && f.channelId === channelId && f.event.type === 'message.created').length >= 120, 15_000, 'the raw socket has every message')));
		for (const socket of raw) expectExactlyOnceInOrder(socket, channelId, 120);
		// No resume was needed: the events came live from the other nodes.
		for (const client of clients) expect(client.connection.reconnects).toBe(0);
		clients.forEach((client) => client.stop());
		raw.forEach((socket) => socket.close());
	});

	it('shows typing on one node to members on the others', async () => {
		const { channelId, members } = await setUpCommunity(cluster.nodes);
		const [onA, onB, onC] = await Promise.all(members.map((member) => member.socket()));
		onA!.sendRaw(JSON.stringify({ t: 'typing', channelId }));
		for (const socket of [onB!, onC!]) await socket.waitFor((f) => f.t === 'typing' && f.channelId === channelId && f.userId === members[0]!.user.id);
		expect(await onA!.collectFor(300, (f) => f.t === 'typing')).toEqual([]);
		[onA, onB, onC].forEach((socket) => socket!.close());
	});

	it('shows someone online on any node as online on every node, and offline once their last socket anywhere closes', async () => {
		const [a, b, c] = cluster.nodes;
		const { members } = await setUpCommunity([a!, b!, c!]);
		const [owner, onB, onC] = members;
		const isOwner = (status: string) => (f: ServerFrame) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === owner!.user.id && u.status === status);
		const watcherB = await onB!.socket();
		const watcherC = await onC!.socket();
		const ownerOnA = await owner!.socket();
		await watcherB.waitFor(isOwner('online'));
		await watcherC.waitFor(isOwner('online'));
		// A new socket on another node gets a snapshot that includes people online elsewhere.
		const late = await onNode(onB!, c!).socket();
		await late.waitFor(isOwner('online'));
		// Online on two nodes; leaving one keeps them online.
		const ownerOnC = await onNode(owner!, c!).socket();
		// Node C announces its presence changes when it flushes them (every 500 ms, as each node
		// batches presence); closing the socket on A before that would show a moment offline.
		await new Promise((resolve) => setTimeout(resolve, 1200));
		ownerOnA.close();
		expect(await watcherB.collectFor(1500, isOwner('offline'))).toEqual([]);
		ownerOnC.close();
		await watcherB.waitFor(isOwner('offline'));
		await watcherC.waitFor(isOwner('offline'));
		[watcherB, watcherC, late].forEach((socket) => socket.close());
	});

	it('carries a chosen presence between nodes: do not disturb set on node A shows on B and C, holds for a socket opened later on C, and invisible is offline everywhere', async () => {
		const [a, b, c] = cluster.nodes;
		const { members } = await setUpCommunity([a!, b!, c!]);
		const [owner, onB, onC] = members;
		const isOwner = (status: string) => (f: ServerFrame) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === owner!.user.id && u.status === status);
		const watcherB = await onB!.socket();
		const watcherC = await onC!.socket();
		const ownerOnA = await owner!.socket();
		await watcherB.waitFor(isOwner('online'));
		await watcherC.waitFor(isOwner('online'));
		const dndOnB = watcherB.next(isOwner('dnd'));
		const dndOnC = watcherC.next(isOwner('dnd'));
		expect(await ownerOnA.request({ t: 'presence.set', choice: 'dnd' })).toMatchObject({ t: 'ack', result: { choice: 'dnd' } });
		await dndOnB;
		await dndOnC;
		// A socket opened afterwards on another node starts from the choice (read with the session),
		// so nobody sees the person online in between.
		const ownerOnC = await onNode(owner!, c!).socket();
		const ownerOnB = await onNode(owner!, b!).socket();
		expect(await watcherB.collectFor(1500, (f) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === owner!.user.id && u.status !== 'dnd'))).toEqual([]);
		// The person's sockets on the other nodes hear of a new choice; invisible is offline everywhere.
		const toldB = ownerOnB.next((f) => f.t === 'presence.chosen' && f.choice === 'invisible');
		const toldC = ownerOnC.next((f) => f.t === 'presence.chosen' && f.choice === 'invisible');
		const offB = watcherB.next(isOwner('offline'));
		const offC = watcherC.next(isOwner('offline'));
		await ownerOnA.request({ t: 'presence.set', choice: 'invisible' });
		await Promise.all([toldB, toldC, offB, offC]);
		// Invisible, yet connected on three nodes: a newcomer's snapshot on any node lists them nowhere as present.
		const late = await onNode(onB!, c!).socket();
		expect(await late.collectFor(600, () => true).then(() => late.matching((f) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === owner!.user.id && u.status !== 'offline')))).toEqual([]);
		const back = watcherB.next(isOwner('online'));
		await ownerOnC.request({ t: 'presence.set', choice: 'auto' });
		await back;
		[watcherB, watcherC, ownerOnA, ownerOnB, ownerOnC, late].forEach((socket) => socket.close());
	});

	it('takes a member kicked through node A off the community’s events on node C, and gives one who joins through node A its events on node B', async () => {
		const [a, b, c] = cluster.nodes;
		const { communityId, channelId, members } = await setUpCommunity([a!, b!, c!]);
		const [owner, , kicked] = members;
		const kickedSocket = await kicked!.socket();
		await expectJson(owner!.send('POST', `/api/communities/${communityId}/members/${kicked!.user.id}/kick`, { reason: 'off-topic' }), 200);
		expect(await kickedSocket.waitFor((f) => f.t === 'directory.changed')).toMatchObject({ communityId, reason: 'community.left' });

		const newcomer = await TestClient.signUp(b!);
		const newcomerSocket = await newcomer.socket();
		const invite = await createInvite(owner!, communityId);
		await onNode(newcomer, a!).api.post(`/api/invites/${invite.code}/accept`);
		await newcomerSocket.waitFor((f) => f.t === 'directory.changed' && f.communityId === communityId && f.reason === 'community.joined');

		const message = await sendMessage(owner!, channelId, 'after the kick and the join');
		await newcomerSocket.waitFor((f) => f.t === 'event' && f.channelId === channelId && f.event.type === 'message.created' && f.event.message.id === message.id);
		expect(await kickedSocket.collectFor(500, (f) => f.t === 'event')).toEqual([]);
		kickedSocket.close();
		newcomerSocket.close();
	});

	it('counts an account’s sockets on every node against its connection cap (WS_MAX_CONNECTIONS_PER_USER, 32)', async () => {
		const person = await TestClient.signUp(cluster.nodes[0]!);
		const onEach = cluster.nodes.map((node) => onNode(person, node));
		const open: TestSocket[] = [];
		for (let i = 0; i < 32; i += 1) open.push(await onEach[i % 3]!.socket());
		for (const client of onEach) {
			const refused = await client.socket({ waitReady: false });
			expect(await refused.closed).toEqual({ code: CloseCode.tooManyConnections, reason: 'too many connections for this account' });
		}
		// A socket closed on node A frees a place on node C.
		open[0]!.close();
		await open[0]!.closed;
		await waitUntil(
			async () => {
				const socket = await onEach[2]!.socket({ waitReady: false });
				const outcome = await Promise.race([socket.waitFor((f) => f.t === 'ready').then(() => 'ready'), socket.closed.then(() => 'closed')]);
				if (outcome === 'ready') open.push(socket);
				return outcome === 'ready';
			},
			5_000,
			'a place is free again'
		);
		open.forEach((socket) => socket.close());
	});

	it('closes the socket on node B of a session revoked through node A', async () => {
		const [a, b] = cluster.nodes;
		const person = await TestClient.signUp(b!);
		const phone = await person.anotherSession();
		const phoneSocket = await phone.socket();
		const laptopOnA = onNode(person, a!);
		await expectJson(laptopOnA.send('DELETE', `/api/me/sessions/${sha256Hex(phone.sessionToken!)}`), 200);
		expect((await phoneSocket.closed).code).toBe(CloseCode.sessionRevoked);
	});

	it('closes the socket on node B of a device removed through node A, and tells members on node C', async () => {
		const [a, b, c] = cluster.nodes;
		const { members } = await setUpCommunity([a!, b!, c!]);
		const person = members[1]!; // signed up on node B
		const other = await person.anotherSession();
		const { device } = await expectJson<{ device: { id: string } }>(other.send('POST', '/api/devices', body(registration({ otks: 1 }))), 201);
		const otherSocket = await other.socket();
		const watcherOnC = await members[2]!.socket();
		await expectJson(onNode(person, a!).send('DELETE', `/api/devices/${device.id}`), 200);
		expect((await otherSocket.closed).code).toBe(CloseCode.sessionRevoked);
		await watcherOnC.waitFor((f) => f.t === 'devices.changed' && f.userId === person.user.id);
		watcherOnC.close();
	});
});

describe.skipIf(skip)('cluster nodes killed (SIGKILL), drained (SIGTERM) or restarted while clients send', () => {
	let cluster: TestCluster;
	let balancer: TcpBalancer;
	beforeAll(async () => {
		cluster = await startTestCluster(3);
		balancer = await TcpBalancer.start(() => cluster.nodes);
	});
	afterAll(async () => {
		await balancer?.close();
		await cluster?.stop();
	});

	for (const how of ['SIGKILL', 'SIGTERM'] as const) it(`${how}: moves its clients to the other nodes through the load balancer, keeping every acknowledged message exactly once`, async () => {
		// Each run stops one node and starts it again afterwards, so both runs have three nodes.
		const { channelId, members } = await setUpCommunity(cluster.nodes);
		// Every request and socket goes through the balancer, which spreads them over the nodes.
		const people = members.map((member) => onNode(member, balancer.server as TestServer));
		// Raw sockets, one per node, see the wire of each node: no resume papers over a gap there.
		const raw = await Promise.all(cluster.nodes.map((node, i) => onNode(members[i]!, node).socket()));
		const clients: SyncClient[] = [];
		for (const person of people) {
			const client = createSyncClient(person);
			await waitOpen(client);
			await client.sync.open(channelId);
			clients.push(client);
		}
		const sending = Promise.all(clients.map((client, i) => sendSeries(client, channelId, `p${i}`, 80, 25)));
		await waitUntil(() => clients.every((client) => client.acks.length >= 15), 20_000, 'some messages are acknowledged');
		// Kill the node the first client's socket landed on.
		const socketPort = (clients[0]!.sockets.at(-1) as unknown as { _socket: { localPort: number } })._socket.localPort;
		const victim = balancer.nodeOf(socketPort)!;
		expect(victim).toBeDefined();
		if (how === 'SIGKILL') await victim.kill();
		else expect(await victim.stop()).toBe(0);
		const ackedBeforeKill = clients.flatMap((client) => client.acks.map((ack) => ack.messageId));
		const sent = await sending;

		await waitForAll(clients, channelId, 240, 60_000);
		const history = await serverHistory(people[0]!, channelId);
		expect(history).toHaveLength(240);
		const stored = new Set(history.map((m) => m.id));
		for (const id of ackedBeforeKill) expect(stored.has(id)).toBe(true);
		expectConsistent(clients, channelId, history, sent);
		// On the nodes that lived, sockets got every event once and in order, including those the
		// killed node committed but may never have published (caught up from PostgreSQL).
		const survivors = raw.filter((_, i) => cluster.nodes[i] !== victim);
		expect(survivors).toHaveLength(2);
		for (const socket of survivors) {
			await waitUntil(() => socket.matching((f) => f.t === 'event' && f.channelId === channelId && f.event.type === 'message.created').length >= 240, 20_000, 'a raw socket has every message');
			expectExactlyOnceInOrder(socket, channelId, 240);
		}
		// The kill really moved the first client: it reconnected, to a live node.
		await waitOpen(clients[0]!);
		expect(clients[0]!.connection.reconnects).toBeGreaterThanOrEqual(1);
		const nowOn = balancer.nodeOf((clients[0]!.sockets.at(-1) as unknown as { _socket: { localPort: number } })._socket.localPort);
		expect(nowOn).toBeDefined();
		expect(nowOn).not.toBe(victim);
		clients.forEach((client) => client.stop());
		raw.forEach((socket) => socket.close());
		await cluster.restartNode(cluster.nodes.indexOf(victim));
	});

	it('loses and duplicates nothing through a rolling restart of every node, one at a time, while clients send', async () => {
		const { channelId, members } = await setUpCommunity(cluster.nodes);
		const people = members.map((member) => onNode(member, balancer.server as TestServer));
		const clients: SyncClient[] = [];
		for (const person of people) {
			const client = createSyncClient(person);
			await waitOpen(client);
			await client.sync.open(channelId);
			clients.push(client);
		}
		const sending = Promise.all(clients.map((client, i) => sendSeries(client, channelId, `r${i}`, 150, 30)));
		for (let index = 0; index < cluster.nodes.length; index += 1) {
			await waitUntil(() => clients.every((client) => client.acks.length >= 10 * (index + 1)), 20_000, 'messages are acknowledged between restarts');
			await cluster.restartNode(index);
		}
		const sent = await sending;
		await waitForAll(clients, channelId, 450, 60_000);
		const history = await serverHistory(people[0]!, channelId);
		expect(history).toHaveLength(450);
		const stored = new Set(history.map((m) => m.id));
		for (const client of clients) for (const ack of client.acks) expect(stored.has(ack.messageId)).toBe(true);
		expectConsistent(clients, channelId, history, sent);
		// Every node went down once, so every client was moved at least once (counted when its new
		// socket is ready: the last restart may still be in progress when the messages are all in).
		await Promise.all(clients.map((client) => waitOpen(client)));
		for (const client of clients) expect(client.connection.reconnects).toBeGreaterThanOrEqual(1);
		clients.forEach((client) => client.stop());
	});

	it('shows the people of a killed node offline on the other nodes', async () => {
		const [first, second] = cluster.nodes.filter((node) => node.process.exitCode === null && node.process.signalCode === null);
		const { members } = await setUpCommunity([first!, second!]);
		const [person, watcher] = members;
		const watcherSocket = await watcher!.socket();
		await person!.socket();
		const is = (status: string) => (f: ServerFrame) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === person!.user.id && u.status === status);
		await watcherSocket.waitFor(is('online'));
		await first!.kill();
		// The node stops heartbeating; its peers drop it after a few missed beats.
		await watcherSocket.waitFor(is('offline'), 15_000);
		watcherSocket.close();
	});
});

describe.skipIf(skip)('Redis restarted while clients on three nodes send', () => {
	let cluster: TestCluster;
	beforeAll(async () => {
		cluster = await startTestCluster(3);
	});
	afterAll(async () => {
		await cluster?.stop();
	});

	it('keeps accepting and persisting, says degraded in /health, and every client ends with exactly the server’s history', async () => {
		const { communityId, channelId, members } = await setUpCommunity(cluster.nodes);
		const raw = await Promise.all(members.map((member) => member.socket()));
		// Someone on node A who leaves while Redis is away: node B must still learn they went offline.
		const leaver = await TestClient.signUp(cluster.nodes[0]!);
		await leaver.api.post(`/api/invites/${(await createInvite(members[0]!, communityId)).code}/accept`);
		const leaverSocket = await leaver.socket();
		const leaverIs = (status: string) => (f: ServerFrame) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === leaver.user.id && u.status === status);
		await raw[1]!.waitFor(leaverIs('online'));
		const clients = members.map((member) => createSyncClient(member));
		await Promise.all(clients.map((client) => waitOpen(client)));
		await Promise.all(clients.map((client) => client.sync.open(channelId)));
		const sending = Promise.all(clients.map((client, i) => sendSeries(client, channelId, `n${i}`, 100, 20)));
		await waitUntil(() => clients.every((client) => client.acks.length >= 10), 20_000, 'some messages are acknowledged');

		await cluster.redis.kill();
		await waitUntil(async () => (await Promise.all(cluster.nodes.map(health))).every((h) => h.status === 'degraded'), 10_000, 'every node reports degraded');
		const degraded = await health(cluster.nodes[0]!);
		expect(degraded.cluster).toMatchObject({ reachable: false });
		expect(degraded.cluster.reason).toMatch(/^Redis unreachable/);
		leaverSocket.close();
		await leaverSocket.closed;
		// Sends keep being acknowledged (persisted) while Redis is away.
		const acksDuringOutage = clients.map((client) => client.acks.length);
		await waitUntil(() => clients.every((client, i) => client.acks.length >= acksDuringOutage[i]! + 5), 10_000, 'sends are acknowledged without Redis');

		expect(raw[1]!.matching(leaverIs('offline'))).toEqual([]);
		await cluster.redis.start();
		await raw[1]!.waitFor(leaverIs('offline'), 15_000);
		const sent = await sending;
		await waitUntil(async () => (await Promise.all(cluster.nodes.map(health))).every((h) => h.status === 'ok'), 15_000, 'every node reports ok again');
		await waitForAll(clients, channelId, 300, 60_000);
		const history = await serverHistory(members[0]!, channelId);
		expect(history).toHaveLength(300);
		expectConsistent(clients, channelId, history, sent);
		// Nobody needed a new socket: the nodes caught their sockets up themselves, and on the wire
		// (raw sockets never resume) each node delivered every event once, in seq order.
		for (const client of clients) expect(client.connection.reconnects).toBe(0);
		for (const socket of raw) {
			await waitUntil(() => socket.matching((f) => f.t === 'event' && f.channelId === channelId && f.event.type === 'message.created').length >= 300, 20_000, 'a raw socket has every message');
			expectExactlyOnceInOrder(socket, channelId, 300);
			socket.close();
		}
		clients.forEach((client) => client.stop());
	});

	it('closes, once Redis is back, the socket on node B of a session revoked through node A while Redis was away', async () => {
		const [a, b] = cluster.nodes;
		const person = await TestClient.signUp(b!);
		const phone = await person.anotherSession();
		const phoneSocket = await phone.socket();
		// A session ended with no notice at all (as when its node died between commit and publish):
		// only the re-check after the outage can close its socket.
		const tablet = await person.anotherSession();
		const tabletSocket = await tablet.socket();
		await cluster.redis.kill();
		await waitUntil(async () => (await health(a!)).status === 'degraded', 10_000, 'node a reports degraded');
		await expectJson(onNode(person, a!).send('DELETE', `/api/me/sessions/${sha256Hex(phone.sessionToken!)}`), 200);
		const sql = postgres(cluster.database.url!, { max: 1, onnotice: () => {} });
		await sql`delete from sessions where id = ${sha256Hex(tablet.sessionToken!)}`;
		await sql.end();
		// REST refuses the session on every node at once (the database says so); node B's socket
		// waits for the notice, which node A keeps in its outbox until Redis is back.
		await expectError(phone.fetch('/api/me'), 401, 'unauthenticated', 'Sign in to continue.');
		await cluster.redis.start();
		for (const socket of [phoneSocket, tabletSocket]) {
			expect((await Promise.race([socket.closed, new Promise((resolve) => setTimeout(() => resolve('still open'), 15_000))])) as { code: number }).toMatchObject({
				code: CloseCode.sessionRevoked
			});
		}
		expect(b!.logs.some((line) => line.includes('re-checked connections after missed notices'))).toBe(true);
		expect(b!.logs.some((line) => line.includes('re-checking connections failed'))).toBe(false);
	});
});

describe.skipIf(skip)('starting a node in cluster mode', () => {
	it('stops with a clear reason, and no crash, when Redis cannot be reached', async () => {
		const database = await createTestDatabase();
		const port = await freePort();
		try {
			const error = await startServer({ database, env: { REDIS_URL: `redis://:not-shown-anywhere@127.0.0.1:${port}` } }).then(
				() => null,
				(e: Error) => e
			);
			expect(error?.message).toMatch(/server exited with 1 before starting/);
			expect(error?.message).toContain(`Hearth failed to start: cluster mode (REDIS_URL) cannot use Redis at redis://:*****@127.0.0.1:${port}`);
			expect(error?.message).not.toContain('not-shown-anywhere');
		} finally {
			await database.drop();
		}
	});
});
