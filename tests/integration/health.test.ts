// Operator endpoints (health, liveness, readiness) and what every response carries: request ids
// and baseline security headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callWorkerUnavailableReason, createTestDatabase, postgresUnavailableReason, startServer, testEngine, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { expectJson } from '../helpers/fixtures.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('operator endpoints', () => {
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

	it('GET /health reports status, version, database engine, realtime counts, call availability and the single-process mode without signing in', async () => {
		const user = await TestClient.signUp(server);
		const socket = await user.socket();
		const health = await expectJson<Record<string, unknown>>(new TestClient(server).fetch('/health'), 200);
		expect(health).toEqual({
			status: 'ok',
			version: expect.stringMatching(/^\d+\.\d+\.\d+/),
			uptimeSeconds: expect.any(Number),
			database: { ok: true, engine: testEngine() },
			realtime: { connections: 1, onlineUsers: 1 },
			// Test servers get a mediasoup worker whenever one is available (tests/helpers/test-server.ts).
			calls: callWorkerUnavailableReason() === null ? { available: true, workers: 1, calls: 0, participants: 0 } : { available: false, reason: expect.stringMatching(/^no mediasoup worker: set MEDIASOUP_WORKER_BIN/) },
			// Without REDIS_URL: one process (cluster mode is covered by cluster.test.ts).
			cluster: { mode: 'single' }
		});
		socket.close();
	});

	it('GET /live and GET /ready answer while the server is up', async () => {
		expect(await expectJson(new TestClient(server).fetch('/live'), 200)).toEqual({ status: 'live' });
		expect(await expectJson(new TestClient(server).fetch('/ready'), 200)).toEqual({ status: 'ready' });
	});

	it('echoes a well-formed X-Request-Id and replaces a malformed one', async () => {
		const client = new TestClient(server);
		const echoed = await client.fetch('/api/instance', { headers: { 'x-request-id': 'trace-123.abc' } });
		expect(echoed.headers.get('x-request-id')).toBe('trace-123.abc');
		const replaced = await client.fetch('/api/instance', { headers: { 'x-request-id': 'bad id with spaces' } });
		expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
	});

	it('sends baseline security headers on API responses, errors included', async () => {
		for (const path of ['/api/instance', '/api/me']) {
			const response = await new TestClient(server).fetch(path);
			expect(response.headers.get('x-content-type-options')).toBe('nosniff');
			expect(response.headers.get('x-frame-options')).toBe('DENY');
			expect(response.headers.get('referrer-policy')).toBe('same-origin');
			expect(response.headers.get('cache-control')).toBe('no-store');
		}
	});
});
