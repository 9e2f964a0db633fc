// /ws limits and hostile input: connection caps, frame and payload sizes, invalid frames (clear
// error frames that never echo what was sent; too many close the socket), the per-connection token
// bucket, and the heartbeat that drops dead connections.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, uniqueIp, type TestSocket } from '../helpers/clients.ts';
import { createCommunity, joinCommunity, newClientId } from '../helpers/fixtures.ts';
import { parseMetrics, parserMissingReason, sampleSum } from '../helpers/prometheus.ts';
import { CloseCode } from '#lib/shared/protocol/codes.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();
type ErrorFrame = Extract<ServerFrame, { t: 'error' }>;

async function healthConnections(server: TestServer): Promise<number> {
	const response = await fetch(`${server.url}/health`);
	return ((await response.json()) as { realtime: { connections: number } }).realtime.connections;
}

/**
 * /ws closes the server has counted with this code (the servers below let the test runner read
 * /metrics), or null when no Prometheus parser is installed (the behaviour is still asserted).
 */
async function closesCounted(server: TestServer, code: number): Promise<number | null> {
	if (parserMissingReason) return null;
	const response = await fetch(`${server.url}/metrics`);
	return sampleSum(parseMetrics(await response.text()), 'hearth_ws_closes_total', { code: String(code) });
}

async function expectCloseCounted(server: TestServer, code: number, before: number | null): Promise<void> {
	if (before === null) return;
	await until(async () => (await closesCounted(server, code)) === before + 1, 5_000, `close ${code} to be counted once`);
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await condition())) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

describe.skipIf(skip)('/ws limits', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({
			database: db,
			env: {
				WS_MAX_CONNECTIONS_PER_IP: '3',
				WS_MAX_CONNECTIONS_PER_USER: '2',
				WS_MAX_FRAME_BYTES: '1024',
				MESSAGE_MAX_BYTES: '256',
				WS_HEARTBEAT_SECONDS: '2',
				METRICS_ALLOWLIST: '127.0.0.1'
			}
		});
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	describe('connection caps', () => {
		it('closes a connection over the per-account cap with 4010 and admits one again when a slot frees', async () => {
			const user = await TestClient.signUp(server);
			const first = await user.socket();
			const second = await user.socket();
			const third = await user.socket({ waitReady: false });
			expect(await third.closed).toEqual({ code: CloseCode.tooManyConnections, reason: 'too many connections for this account' });
			first.close();
			await first.closed;
			await until(async () => (await healthConnections(server)) === 1, 5_000, 'the closed connection to be released');
			const again = await user.socket();
			expect((await again.ping()).t).toBe('pong');
			second.close();
			again.close();
		});

		it('closes a connection over the per-address cap with 4010, whoever signs in', async () => {
			const ip = uniqueIp();
			const users = [];
			for (let i = 0; i < 4; i += 1) users.push(await TestClient.signUp(server, { ip }));
			const sockets: TestSocket[] = [];
			for (const u of users.slice(0, 3)) sockets.push(await u.socket());
			const counted = await closesCounted(server, CloseCode.tooManyConnections);
			const fourth = await users[3]!.socket({ waitReady: false });
			expect(await fourth.closed).toEqual({ code: CloseCode.tooManyConnections, reason: 'too many connections from this address' });
			await expectCloseCounted(server, CloseCode.tooManyConnections, counted);
			// Another address is unaffected.
			const elsewhere = await TestClient.signUp(server);
			const ok = await elsewhere.socket();
			expect((await ok.ping()).t).toBe('pong');
			for (const s of [...sockets, ok]) s.close();
		});
	});

	describe('sizes', () => {
		it('closes the connection with 1009 when a frame exceeds WS_MAX_FRAME_BYTES', async () => {
			const user = await TestClient.signUp(server);
			const socket = await user.socket();
			const counted = await closesCounted(server, CloseCode.tooBig);
			socket.sendRaw(JSON.stringify({ t: 'ping', id: 'x'.repeat(1100) }));
			expect((await socket.closed).code).toBe(CloseCode.tooBig);
			await expectCloseCounted(server, CloseCode.tooBig, counted);
		});

		it('refuses a message payload over MESSAGE_MAX_BYTES with payload_too_large and stores nothing', async () => {
			const user = await TestClient.signUp(server);
			const community = await createCommunity(user);
			const socket = await user.socket();
			const answer = await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: 'x'.repeat(257) });
			expect(answer).toEqual({ t: 'error', id: expect.any(String), code: 'payload_too_large', message: 'Messages can be at most 256 bytes.' });
			const ok = await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: 'x'.repeat(256) });
			expect(ok).toMatchObject({ t: 'ack', result: { seq: 1 } });
			socket.close();
		});
	});

	describe('invalid frames', () => {
		let user: TestClient;
		let channelId: string;
		beforeAll(async () => {
			user = await TestClient.signUp(server);
			channelId = (await createCommunity(user)).generalId;
		});

		const CANARY = 'canary-4f1d-do-not-echo';
		const cases: Array<[string, string, string]> = [
			['text that is not JSON', `{"t":"ping",${CANARY}`, 'frame must be a JSON object'],
			['a JSON array', `["${CANARY}"]`, 'frame must be a JSON object'],
			['an unknown frame type', JSON.stringify({ t: CANARY }), 'unknown frame type'],
			['a missing type', JSON.stringify({ payload: CANARY }), 'unknown frame type'],
			['a channel id that is not a UUID', JSON.stringify({ t: 'read', channelId: CANARY, seq: 1 }), 'channelId: Invalid UUID'],
			['a negative seq', JSON.stringify({ t: 'read', channelId: '00000000-0000-4000-8000-000000000000', seq: -1 }), 'seq: Invalid value: Expected >=0'],
			['a bad presence status', JSON.stringify({ t: 'presence', status: CANARY }), 'status: Invalid type: Expected ("online" | "idle")'],
			['an unknown key', JSON.stringify({ t: 'typing', channelId: '00000000-0000-4000-8000-000000000000', extra: CANARY }), 'extra: Invalid key: Expected never']
		];

		it.each(cases)('answers %s with a bad_frame error that does not echo it, and keeps serving', async (_case, frame, message) => {
			const socket = await user.socket();
			socket.sendRaw(frame);
			const error = await socket.waitFor<ErrorFrame>((f) => f.t === 'error');
			expect(error).toEqual({ t: 'error', code: 'bad_frame', message });
			expect(JSON.stringify(error)).not.toContain(CANARY);
			expect((await socket.ping()).t).toBe('pong');
			socket.close();
		});

		const requests: Array<[string, Record<string, unknown>, string]> = [
			['an unknown frame type', { t: 'message.sned', id: 'req-1' }, 'unknown frame type'],
			['a payload that is not a string', { t: 'message.send', id: 'req-2', channelId: '00000000-0000-4000-8000-000000000000', clientId: 'abcdefgh', payload: 42 }, 'payload: Invalid type: Expected string'],
			['an empty payload', { t: 'message.send', id: 'req-3', channelId: '00000000-0000-4000-8000-000000000000', clientId: 'abcdefgh', payload: '' }, 'payload: Invalid length: Expected >=1'],
			['a clientId with bad characters', { t: 'message.send', id: 'req-4', channelId: '00000000-0000-4000-8000-000000000000', clientId: `${CANARY}!`, payload: 'x' }, 'clientId: clientId must be 8-64 url-safe characters'],
			['an unknown key', { t: 'ping', id: 'req-5', extra: CANARY }, 'extra: Invalid key: Expected never'],
			// PostgreSQL text cannot hold U+0000: such frames must be refused, not fail in the database.
			['a NUL in a payload', { t: 'message.send', id: 'req-6', channelId: '00000000-0000-4000-8000-000000000000', clientId: 'abcdefgh', payload: 'a\u0000b' }, 'strings cannot contain NUL characters'],
			['a NUL in an edit', { t: 'message.edit', id: 'req-7', messageId: '00000000-0000-4000-8000-000000000000', payload: '\u0000' }, 'strings cannot contain NUL characters'],
			['a NUL in a reaction key', { t: 'reaction.add', id: 'req-8', messageId: '00000000-0000-4000-8000-000000000000', key: 'k\u0000' }, 'strings cannot contain NUL characters']
		];

		it.each(requests)('answers a request with %s by its id, so the client can give up on it at once', async (_case, frame, message) => {
			const socket = await user.socket();
			socket.sendRaw(JSON.stringify(frame));
			const error = await socket.waitFor<ErrorFrame>((f) => f.t === 'error');
			expect(error).toEqual({ t: 'error', id: frame.id, code: 'bad_frame', message });
			expect(JSON.stringify(error)).not.toContain(CANARY);
			socket.close();
		});

		it('does not answer by an id that is itself invalid', async () => {
			const socket = await user.socket();
			socket.sendRaw(JSON.stringify({ t: 'ping', id: 'x'.repeat(65) }));
			expect(await socket.waitFor((f) => f.t === 'error')).toEqual({ t: 'error', code: 'bad_frame', message: 'id: Invalid length: Expected <=64' });
			socket.close();
		});

		it('refuses binary frames', async () => {
			const socket = await user.socket();
			socket.sendRaw(Buffer.from(JSON.stringify({ t: 'ping', id: '1' })), { binary: true });
			expect(await socket.waitFor((f) => f.t === 'error')).toEqual({ t: 'error', code: 'bad_frame', message: 'binary frames are not supported' });
			expect((await socket.ping()).t).toBe('pong');
			socket.close();
		});

		it('a valid frame still works after invalid ones (a send is stored once)', async () => {
			const socket = await user.socket();
			socket.sendRaw('nonsense');
			const ack = await socket.request({ t: 'message.send', channelId, clientId: newClientId(), payload: 'after the noise' });
			expect(ack).toMatchObject({ t: 'ack', result: { duplicate: false } });
			socket.close();
		});

		it('closes the connection with 4008 after more than 20 invalid frames', async () => {
			const socket = await user.socket();
			for (let i = 0; i < 21; i += 1) socket.sendRaw('not json');
			expect(await socket.closed).toEqual({ code: CloseCode.policyViolation, reason: 'too many invalid or rate-limited frames' });
			expect(socket.matching((f) => f.t === 'error')).toHaveLength(21);
		});
	});

	describe('heartbeat', () => {
		it('drops a connection that stops answering pings within two intervals', async () => {
			const user = await TestClient.signUp(server);
			const watcher = await TestClient.signUp(server);
			const watcherSocket = await watcher.socket();
			const before = await healthConnections(server);
			const socket = await user.socket();
			expect(await healthConnections(server)).toBe(before + 1);
			const counted = await closesCounted(server, CloseCode.heartbeatTimeout);
			// A frozen client: it no longer reads anything, so it never answers the server's pings.
			(socket.ws as unknown as { _socket: { pause(): void } })._socket.pause();
			const started = Date.now();
			await until(async () => (await healthConnections(server)) === before, 8_000, 'the dead connection to be dropped');
			// Heartbeat every 2 s: dropped at the second ping it fails to answer, so within about 4 s.
			expect(Date.now() - started).toBeLessThan(6_000);
			// No close handshake with a dead peer, but the metrics say why it went.
			await expectCloseCounted(server, CloseCode.heartbeatTimeout, counted);
			expect((await watcherSocket.ping()).t).toBe('pong');
			watcherSocket.close();
		});
	});
});

describe.skipIf(skip)('/ws heartbeat spread', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { WS_HEARTBEAT_SECONDS: '2', WS_MAX_CONNECTIONS_PER_USER: '20' } });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('pings connections in turns spread over the interval, not all in one go, and each once per interval', async () => {
		const user = await TestClient.signUp(server);
		const sockets: TestSocket[] = [];
		for (let i = 0; i < 10; i += 1) sockets.push(await user.socket());
		const pings = sockets.map(() => [] as number[]);
		sockets.forEach((socket, index) => socket.ws.on('ping', () => pings[index]!.push(Date.now())));
		await until(async () => pings.every((times) => times.length >= 2), 8_000, 'two pings on every socket');
		// Ten connections opened one after the other sit in ten different turns (a turn every 100 ms: a
		// 2 s interval has 20), so their pings span most of a second; all at once, they came within
		// the same few milliseconds.
		const firsts = pings.map((times) => times[0]!);
		expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(500);
		// Each connection is still pinged once per interval.
		for (const times of pings) expect(times[1]! - times[0]!).toBeGreaterThan(1_500);
		for (const times of pings) expect(times[1]! - times[0]!).toBeLessThan(2_600);
		for (const socket of sockets) socket.close();
	});
});

describe.skipIf(skip)('/ws rate limit and global cap', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { WS_RATE_PER_SECOND: '2', WS_RATE_BURST: '3', WS_MAX_CONNECTIONS: '2' } });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('answers frames beyond the burst with rate_limited and a retry delay, then serves again after it', async () => {
		const user = await TestClient.signUp(server);
		const socket = await user.socket();
		for (let i = 1; i <= 4; i += 1) socket.sendRaw(JSON.stringify({ t: 'ping', id: `burst-${i}` }));
		const limited = await socket.waitFor<ErrorFrame>((f) => f.t === 'error');
		expect(limited).toEqual({ t: 'error', id: 'burst-4', code: 'rate_limited', message: 'Slow down: too many frames.', retryAfterMs: expect.any(Number) });
		// Refill is 2 per second: the next token is at most 500 ms away.
		expect(limited.retryAfterMs).toBeGreaterThan(0);
		expect(limited.retryAfterMs).toBeLessThanOrEqual(500);
		expect(socket.matching((f) => f.t === 'pong').map((f) => (f as { id: string }).id)).toEqual(['burst-1', 'burst-2', 'burst-3']);
		await new Promise((resolve) => setTimeout(resolve, limited.retryAfterMs!));
		expect(await socket.ping()).toEqual({ t: 'pong', id: expect.any(String) });
		socket.close();
		await socket.closed;
	});

	it('closes a connection that keeps flooding with 4008', async () => {
		const user = await TestClient.signUp(server);
		const socket = await user.socket();
		for (let i = 0; i < 30; i += 1) socket.sendRaw(JSON.stringify({ t: 'ping', id: `flood-${i}` }));
		expect(await socket.closed).toEqual({ code: CloseCode.policyViolation, reason: 'too many invalid or rate-limited frames' });
	});

	it('closes connections over the global cap with 4010', async () => {
		const a = await TestClient.signUp(server);
		const b = await TestClient.signUp(server);
		const c = await TestClient.signUp(server);
		await until(async () => (await healthConnections(server)) === 0, 5_000, 'earlier connections to close');
		const open = [await a.socket(), await b.socket()];
		const refused = await c.socket({ waitReady: false });
		expect(await refused.closed).toEqual({ code: CloseCode.tooManyConnections, reason: 'server connection limit reached' });
		for (const s of open) s.close();
	});
});

describe.skipIf(skip)('/ws slow consumers', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		// Large messages and the smallest allowed outgoing buffer, so a client that stops reading
		// overflows it soon after the kernel's socket buffers fill.
		server = await startServer({ database: db, env: { MESSAGE_MAX_BYTES: '200000', WS_MAX_BUFFERED_BYTES: '65536', METRICS_ALLOWLIST: '127.0.0.1' } });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('disconnects a client that stops reading with 4009, and it catches up by resuming', async () => {
		const sender = await TestClient.signUp(server);
		const reader = await TestClient.signUp(server);
		const community = await createCommunity(sender);
		await joinCommunity(sender, reader, community.id);
		const channelId = community.generalId;
		const start = (await reader.api.get<{ channel: { lastSeq: number } }>(`/api/channels/${channelId}`)).channel.lastSeq;
		const slow = await reader.socket();
		const counted = await closesCounted(server, CloseCode.slowConsumer);
		const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
		socket.pause();

		// Send 200 kB messages (over REST: the sender has no socket to overflow) until the server
		// gives up on the reader, which it logs; at most 40 MB.
		const payload = 'x'.repeat(199_000);
		const gaveUp = () => server.logs.some((line) => line.includes('slow consumer: disconnecting'));
		let sent = 0;
		while (!gaveUp() && sent < 200) {
			await sender.api.post(`/api/channels/${channelId}/messages`, { clientId: newClientId(), payload: `${sent}:${payload}` });
			sent += 1;
		}
		expect(gaveUp()).toBe(true);

		// Read again at once: the close frame waits behind what was buffered (the server cuts off a
		// client that does not complete the close handshake within 5 s).
		socket.resume();
		expect(await slow.closed).toEqual({ code: CloseCode.slowConsumer, reason: 'slow consumer' });
		await expectCloseCounted(server, CloseCode.slowConsumer, counted);
		const delivered = slow.matching((f) => f.t === 'event' && f.channelId === channelId);
		expect(delivered.length).toBeLessThan(sent);

		// More is said while it is away: 8 MB, more than the kernel's socket buffers take at once.
		for (let i = 0; i < 40; i += 1) {
			await sender.api.post(`/api/channels/${channelId}/messages`, { clientId: newClientId(), payload: `${sent}:${payload}` });
			sent += 1;
		}

		// Reconnecting and resuming from the last event it got fills the gap exactly, though the
		// replay is far larger than the outgoing buffer.
		const lastSeen = Math.max(start, ...delivered.map((f) => (f as Extract<ServerFrame, { t: 'event' }>).event.seq));
		const again = await reader.socket();
		const ack = await again.request({ t: 'resume', cursors: [{ channelId, seq: lastSeen }] });
		expect(ack).toMatchObject({ t: 'ack', result: { resync: [], inaccessible: [] } });
		const replayed = again.matching((f) => f.t === 'events').flatMap((f) => (f as Extract<ServerFrame, { t: 'events' }>).events.map((e) => e.seq));
		expect(replayed).toEqual(Array.from({ length: start + sent - lastSeen }, (_, i) => lastSeen + 1 + i));
		again.close();
	});
});
