// Opening /ws: who may connect (Origin, session), what a new connection is told, the ping frame,
// and shutdown: clients are told to reconnect, and every acknowledged message survives.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, restartServer, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, TestSocket } from '../helpers/clients.ts';
import { createCommunity, newClientId } from '../helpers/fixtures.ts';
import type { HistoryPage } from '#lib/shared/api-types.ts';
import { CloseCode } from '#lib/shared/protocol/codes.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();

/** Opens a raw WebSocket and reports how the attempt ended. */
function attempt(url: string, headers: Record<string, string>): Promise<{ status?: number; close?: { code: number; reason: string } }> {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, { headers, handshakeTimeout: 5_000 });
		ws.once('unexpected-response', (request, response) => {
			resolve({ status: response.statusCode });
			request.destroy();
		});
		ws.once('close', (code, reason) => resolve({ close: { code, reason: reason.toString() } }));
		ws.once('error', reject);
	});
}

describe.skipIf(skip)('/ws upgrade', () => {
	let db: TestDatabase;
	let server: TestServer;
	let user: TestClient;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		user = await TestClient.signUp(server);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	describe('who may connect', () => {
		it('refuses an upgrade from a foreign Origin with HTTP 403, even with a valid session', async () => {
			expect(await attempt(server.wsUrl, { origin: 'https://evil.example', cookie: user.jar.header() })).toEqual({ status: 403 });
		});

		it('refuses an upgrade without an Origin with HTTP 403', async () => {
			expect(await attempt(server.wsUrl, { cookie: user.jar.header() })).toEqual({ status: 403 });
		});

		it('closes a connection without a session with 4001', async () => {
			expect(await attempt(server.wsUrl, { origin: server.origin })).toEqual({ close: { code: CloseCode.unauthenticated, reason: 'sign in required' } });
		});

		it('closes a connection with an unknown or malformed session token with 4001', async () => {
			for (const token of ['a'.repeat(32), 'garbage']) {
				expect(await attempt(server.wsUrl, { origin: server.origin, cookie: `hearth_session=${token}` })).toEqual({
					close: { code: CloseCode.unauthenticated, reason: 'sign in required' }
				});
			}
		});

		it('refuses an upgrade to any other path with 404 instead of leaving it hanging', async () => {
			expect(await attempt(`ws://127.0.0.1:${server.port}/elsewhere`, { origin: server.origin, cookie: user.jar.header() })).toEqual({ status: 404 });
		});

		it('accepts a query string on /ws', async () => {
			const socket = new TestSocket(`${server.wsUrl}?v=1`, { origin: server.origin, cookie: user.jar.header() });
			expect((await socket.waitFor((f) => f.t === 'ready')).t).toBe('ready');
			socket.close();
		});
	});

	describe('a new connection', () => {
		it('is greeted with ready: who it is, its connection id, the heartbeat and the limits', async () => {
			const socket = await user.socket();
			expect(socket.frames[0]).toEqual({
				t: 'ready',
				userId: user.user.id,
				connectionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
				heartbeatMs: 25_000,
				limits: { messageMaxBytes: 16_384, maxFrameBytes: 65_536, uploadMaxBytes: 26_214_400 }
			});
			socket.close();
		});

		it('keeps the upgrade’s X-Request-ID (or a fresh id) in the 101 response and on the connection’s log lines', async () => {
			const requestId = `ws-trace-${Math.random().toString(36).slice(2, 10)}`;
			const headers = { origin: server.origin, cookie: user.jar.header(), 'x-request-id': requestId };
			const echoed = await new Promise<string | undefined>((resolve, reject) => {
				const ws = new WebSocket(server.wsUrl, { headers });
				ws.once('upgrade', (response) => resolve(response.headers['x-request-id'] as string | undefined));
				ws.once('error', reject);
				ws.once('open', () => ws.close());
			});
			expect(echoed).toBe(requestId);
			await until(() => server.logs.some((line) => line.includes('"msg":"ws closed"') && line.includes(requestId)));
			const lines = server.logs.filter((line) => line.includes(requestId)).map((line) => JSON.parse(line) as Record<string, unknown>);
			expect(lines.map((line) => line.msg)).toEqual(['ws connected', 'ws closed']);
			for (const line of lines) expect(line).toMatchObject({ requestId, user: user.user.id, conn: expect.any(String) });

			// A malformed id is replaced, also on refusals.
			const refused = await new Promise<string | undefined>((resolve) => {
				const ws = new WebSocket(server.wsUrl, { headers: { origin: 'https://evil.example', 'x-request-id': 'bad id' } });
				ws.once('unexpected-response', (request, response) => {
					resolve(response.headers['x-request-id'] as string | undefined);
					request.destroy();
				});
				ws.once('error', () => {});
			});
			expect(refused).toMatch(/^[0-9a-f-]{36}$/);
		});

		it('sends the 101 response and ready in one write (the response waits for the subscriptions)', async () => {
			// A raw TCP client, to see how the bytes arrive: written separately, the 101 would come a
			// statement (the subscription load) before ready, in a chunk of its own.
			const { hostname, port } = new URL(server.wsUrl);
			const first = await new Promise<string>((resolve, reject) => {
				const tcp = connect({ host: hostname, port: Number(port) }, () => {
					tcp.write(
						[
							'GET /ws HTTP/1.1',
							`Host: ${hostname}:${port}`,
							'Upgrade: websocket',
							'Connection: Upgrade',
							`Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
							'Sec-WebSocket-Version: 13',
							`Origin: ${server.origin}`,
							`Cookie: ${user.jar.header()}`,
							`X-Forwarded-For: ${user.ip}`,
							'',
							''
						].join('\r\n')
					);
				});
				tcp.once('data', (chunk) => {
					resolve(chunk.toString('latin1'));
					tcp.destroy();
				});
				tcp.once('error', reject);
			});
			expect(first).toMatch(/^HTTP\/1\.1 101 /);
			expect(first).toContain('{"t":"ready"');
		});

		it('answers ping with pong carrying the same id', async () => {
			const socket = await user.socket();
			socket.sendRaw(JSON.stringify({ t: 'ping', id: 'are-you-there' }));
			expect(await socket.waitFor((f) => f.t === 'pong')).toEqual({ t: 'pong', id: 'are-you-there' });
			socket.close();
		});
	});

	describe('shutdown (SIGTERM)', () => {
		it('tells every client to reconnect, closes with 1001, and keeps every acknowledged message', async () => {
			const community = await createCommunity(user);
			const sockets = [await user.socket(), await user.socket()];
			// Sends still in flight when the signal arrives: each is acknowledged (and then must be
			// stored), refused as unavailable, or unanswered (the client's outbox resends it after
			// reconnecting; idempotency makes that safe). None may be acknowledged and then lost.
			for (let i = 0; i < 40; i += 1) {
				sockets[0]!.sendRaw(JSON.stringify({ t: 'message.send', id: `send-${i}`, channelId: community.generalId, clientId: newClientId(), payload: `m${i}` }));
			}
			const stopped = server.stop();
			for (const socket of sockets) {
				const reconnect = await socket.waitFor((f) => f.t === 'reconnect');
				expect(reconnect).toEqual({ t: 'reconnect', afterMs: expect.any(Number) });
				const afterMs = (reconnect as Extract<ServerFrame, { t: 'reconnect' }>).afterMs;
				expect(afterMs).toBeGreaterThanOrEqual(500);
				expect(afterMs).toBeLessThanOrEqual(3_000);
				expect(await socket.closed).toEqual({ code: CloseCode.goingAway, reason: 'server restarting' });
			}
			expect(await stopped).toBe(0);

			const acked = sockets[0]!.matching<Extract<ServerFrame, { t: 'ack' }>>((f) => f.t === 'ack');
			const refused = sockets[0]!.matching((f) => f.t === 'error');
			for (const r of refused) expect(r).toMatchObject({ code: 'unavailable', message: 'The server is shutting down; retry in a moment.' });
			expect(acked.length).toBeGreaterThan(0);

			await restartServer(server);
			const stored = await user.api.get<HistoryPage>(`/api/channels/${community.generalId}/messages?limit=100`);
			const storedIds = new Set(stored.messages.map((m) => m.id));
			for (const ack of acked) expect(storedIds.has(ack.result!.messageId as string)).toBe(true);
		});
	});
});

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error('timed out');
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}
