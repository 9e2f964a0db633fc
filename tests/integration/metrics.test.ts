// GET /metrics: who may read it (token, allowlist, nobody by default), that a real Prometheus
// parser accepts the output, and that the counters move with what the server does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient, uniqueName } from '../helpers/clients.ts';
import { createCommunity, expectError, newClientId, sendMessage } from '../helpers/fixtures.ts';
import { parseMetrics, parserMissingReason, promtoolProblems, sampleSum, type ParsedMetrics } from '../helpers/prometheus.ts';
import { CloseCode } from '#lib/shared/protocol/codes.ts';

const skip = postgresUnavailableReason();
// 32 bytes of hex, as .env.example suggests.
const TOKEN = 'f3b1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const ALLOWED_IP = '198.51.100.23';
const OUTSIDE_IP = '192.0.2.77';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
if (parserMissingReason) console.warn(`metrics.test.ts: tests that parse /metrics are skipped: ${parserMissingReason}`);

function scrape(server: TestServer, headers: Record<string, string> = {}): Promise<Response> {
	// The test runner is the trusted proxy (TRUSTED_PROXIES=127.0.0.1): X-Forwarded-For names the client.
	return fetch(`${server.url}/metrics`, { headers: { 'x-forwarded-for': OUTSIDE_IP, ...headers } });
}

async function metricsOf(server: TestServer): Promise<ParsedMetrics> {
	const response = await scrape(server, { authorization: `Bearer ${TOKEN}` });
	expect(response.status).toBe(200);
	return parseMetrics(await response.text());
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await condition())) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

describe.skipIf(skip)('GET /metrics', () => {
	const databases: TestDatabase[] = [];
	let server: TestServer;
	let allowlistOnly: TestServer;
	let unconfigured: TestServer;
	beforeAll(async () => {
		const start = async (env: Record<string, string>) => {
			const db = await createTestDatabase();
			databases.push(db);
			return startServer({ database: db, env });
		};
		[server, allowlistOnly, unconfigured] = await Promise.all([
			start({ METRICS_TOKEN: TOKEN, METRICS_ALLOWLIST: '198.51.100.0/24, 2001:db8::/32' }),
			start({ METRICS_ALLOWLIST: ALLOWED_IP, TRUSTED_PROXIES: '' }),
			start({})
		]);
	});
	afterAll(async () => {
		await Promise.all([server, allowlistOnly, unconfigured].map((s) => s?.stop()));
		await Promise.all(databases.map((db) => db.drop()));
	});

	describe('access', () => {
		it('is off, with a 404 saying how to turn it on, when neither METRICS_TOKEN nor METRICS_ALLOWLIST is set', async () => {
			await expectError(
				scrape(unconfigured, { 'x-forwarded-for': '127.0.0.1' }),
				404,
				'not_found',
				'Metrics are off on this server: set METRICS_TOKEN or METRICS_ALLOWLIST to serve /metrics.'
			);
		});

		it('refuses a request without the token, or with a wrong one, with 401 and a Bearer challenge', async () => {
			const message = 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>".';
			for (const authorization of [undefined, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN]) {
				const response = await scrape(server, authorization ? { authorization } : {});
				expect(response.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
				await expectError(response, 401, 'unauthenticated', message);
			}
		});

		it('refuses a client outside METRICS_ALLOWLIST with 403 when no token is configured, and believes X-Forwarded-For only from TRUSTED_PROXIES', async () => {
			const message = 'Your address is not in METRICS_ALLOWLIST.';
			await expectError(scrape(allowlistOnly, { 'x-forwarded-for': OUTSIDE_IP }), 403, 'forbidden', message);
			// This server trusts no proxy: a client naming an allowlisted address in the header is still itself.
			await expectError(scrape(allowlistOnly, { 'x-forwarded-for': ALLOWED_IP }), 403, 'forbidden', message);
		});

		it('serves the token holder, and an allowlisted client (IPv4 or IPv6 CIDR) without a token, in the Prometheus text format', async () => {
			for (const response of [
				await scrape(server, { authorization: `Bearer ${TOKEN}` }),
				await scrape(server, { 'x-forwarded-for': '198.51.100.200' }),
				await scrape(server, { 'x-forwarded-for': '2001:db8::42' })
			]) {
				expect(response.status).toBe(200);
				expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
				expect(await response.text()).toContain('# TYPE hearth_http_requests_total counter');
			}
		});
	});

	describe.skipIf(parserMissingReason)('content', () => {
		it('parses with a real Prometheus parser and holds the process metrics and every Hearth family', async () => {
			const text = await (await scrape(server, { authorization: `Bearer ${TOKEN}` })).text();
			const { families } = parseMetrics(text);
			expect(Object.fromEntries([...families].filter(([name]) => name.startsWith('hearth_')))).toEqual({
				hearth_http_requests: 'counter',
				hearth_http_request_duration_seconds: 'histogram',
				hearth_rate_limit_rejections: 'counter',
				hearth_ws_connections_open: 'gauge',
				hearth_ws_online_users: 'gauge',
				hearth_ws_closes: 'counter',
				hearth_ws_frames_rejected: 'counter',
				hearth_messages_persisted: 'counter',
				hearth_event_writer_batch_size: 'histogram',
				hearth_auth_throttled: 'counter',
				hearth_calls_active: 'gauge',
				hearth_call_participants: 'gauge',
				hearth_call_producers: 'gauge',
				hearth_call_consumers: 'gauge',
				hearth_call_worker_cpu_seconds: 'gauge',
				hearth_call_worker_objects: 'gauge'
			});
			for (const name of ['process_cpu_user_seconds', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
				expect(families.has(name), name).toBe(true);
			}
			const lint = promtoolProblems(text);
			if (lint !== null) expect(lint).toBe('');
		});

		it('counts HTTP requests by method, route id and status, never by raw path', async () => {
			const client = await TestClient.signUp(server);
			const unknownPage = `/no-such-page-${uniqueName('p')}`;
			const channelPath = `/api/channels/${crypto.randomUUID()}/messages`;
			const before = await metricsOf(server);
			expect((await client.fetch(channelPath)).status).toBe(404);
			expect((await client.fetch(unknownPage)).status).toBe(404);
			const text = await (await scrape(server, { authorization: `Bearer ${TOKEN}` })).text();
			const after = parseMetrics(text);
			const count = (m: ParsedMetrics, route: string) => sampleSum(m, 'hearth_http_requests_total', { method: 'GET', route, status: '404' });
			expect(count(after, '/api/channels/[id]/messages') - count(before, '/api/channels/[id]/messages')).toBe(1);
			expect(count(after, 'unmatched') - count(before, 'unmatched')).toBe(1);
			expect(sampleSum(after, 'hearth_http_request_duration_seconds_count', { method: 'GET', route: '/api/channels/[id]/messages' })).toBeGreaterThanOrEqual(1);
			// No path, id or user name became a label value.
			expect(text).not.toMatch(UUID);
			expect(text).not.toContain(unknownPage);
			expect(text).not.toContain(client.user.username);
		});

		it('counts new messages once, whether sent over /ws or REST, and the event-writer batches that stored them', async () => {
			const alice = await TestClient.signUp(server);
			const community = await createCommunity(alice);
			const socket = await alice.socket();
			const before = await metricsOf(server);
			const frame = { t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: 'counted once' };
			expect((await socket.request(frame)).t).toBe('ack');
			// A retry of a stored message is acknowledged as a duplicate and stores nothing new.
			expect(await socket.request(frame)).toMatchObject({ t: 'ack', result: { duplicate: true } });
			await Promise.all([1, 2, 3].map((i) => socket.request({ ...frame, clientId: newClientId(), payload: `burst ${i}` })));
			await sendMessage(alice, community.generalId, 'over REST');
			const after = await metricsOf(server);
			expect(sampleSum(after, 'hearth_messages_persisted_total') - sampleSum(before, 'hearth_messages_persisted_total')).toBe(5);
			const batches = sampleSum(after, 'hearth_event_writer_batch_size_count') - sampleSum(before, 'hearth_event_writer_batch_size_count');
			const operations = sampleSum(after, 'hearth_event_writer_batch_size_sum') - sampleSum(before, 'hearth_event_writer_batch_size_sum');
			// Six writer operations (the duplicate too: it is looked up in a batch), in one to six batches.
			expect(operations).toBe(6);
			expect(batches).toBeGreaterThanOrEqual(1);
			expect(batches).toBeLessThanOrEqual(6);
			socket.close();
			await socket.closed;
		});

		it('reports open /ws connections, closes by code and rejected frames', async () => {
			const user = await TestClient.signUp(server);
			const open = async () => sampleSum(await metricsOf(server), 'hearth_ws_connections_open');
			await until(async () => (await open()) === 0, 'earlier sockets to close');
			const before = await metricsOf(server);
			const first = await user.socket();
			const second = await user.socket();
			expect(sampleSum(await metricsOf(server), 'hearth_ws_connections_open')).toBe(2);
			expect(sampleSum(await metricsOf(server), 'hearth_ws_online_users')).toBe(1);

			first.sendRaw('{"t":"message.send"');
			first.sendRaw(Buffer.from([1, 2, 3]), { binary: true });
			await first.waitForCount(2, (f) => f.t === 'error' && f.code === 'bad_frame');
			first.close();
			await first.closed;
			const anonymous = new TestClient(server);
			expect(await (await anonymous.socket({ waitReady: false })).closed).toMatchObject({ code: CloseCode.unauthenticated });
			await until(async () => (await open()) === 1, 'the closed socket to be released');

			const after = await metricsOf(server);
			const delta = (name: string, labels: Record<string, string>) => sampleSum(after, name, labels) - sampleSum(before, name, labels);
			expect(delta('hearth_ws_frames_rejected_total', { reason: 'invalid' })).toBe(1);
			expect(delta('hearth_ws_frames_rejected_total', { reason: 'binary' })).toBe(1);
			expect(delta('hearth_ws_closes_total', { code: '1005' }) + delta('hearth_ws_closes_total', { code: '1000' })).toBe(1);
			expect(delta('hearth_ws_closes_total', { code: String(CloseCode.unauthenticated) })).toBe(1);
			second.close();
			await second.closed;
		});

		it('counts sign-ins refused by the brute-force throttle', async () => {
			const victim = await TestClient.signUp(server);
			const attacker = new TestClient(server);
			const before = await metricsOf(server);
			// Five failures are free; the sixth starts a wait, during which the next attempt is refused.
			for (let i = 0; i < 6; i += 1) {
				expect((await attacker.send('POST', '/api/auth/sign-in', { username: victim.user.username, password: `${PASSWORD}!` })).status).toBe(401);
			}
			expect((await attacker.send('POST', '/api/auth/sign-in', { username: victim.user.username, password: PASSWORD })).status).toBe(429);
			const after = await metricsOf(server);
			expect(sampleSum(after, 'hearth_auth_throttled_total', { action: 'sign_in' }) - sampleSum(before, 'hearth_auth_throttled_total', { action: 'sign_in' })).toBe(1);
		});
	});
});
