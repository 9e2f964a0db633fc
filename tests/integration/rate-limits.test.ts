// Per-client-IP HTTP rate limits (general and auth scopes) answered with 429, Retry-After and the
// usual JSON error, exemptions for probes, and the /ws per-connection limit — each counted in the
// metrics; and the instance's rate-limit level multiplying them. The server runs with low limits;
// every TestClient has its own address (X-Forwarded-For through the trusted test proxy), so each
// test starts with full buckets.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient, uniqueName, type TestSocket } from '../helpers/clients.ts';
import { createCommunity, createInvite, expectError } from '../helpers/fixtures.ts';
import { parseMetrics, parserMissingReason, sampleSum, type ParsedMetrics } from '../helpers/prometheus.ts';
import { CloseCode } from '#lib/shared/protocol/codes.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();
const PER_MINUTE = 20;
const AUTH_PER_MINUTE = 3;
const HTTP_MESSAGE = 'Too many requests from your address. Wait a moment and try again.';
const AUTH_MESSAGE = 'Too many sign-in, sign-up or invite requests from your address. Wait a moment and try again.';
if (parserMissingReason) console.warn(`rate-limits.test.ts: metric assertions are skipped: ${parserMissingReason}`);

describe.skipIf(skip)('rate limits', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({
			database: db,
			env: {
				HTTP_RATE_PER_MINUTE: String(PER_MINUTE),
				HTTP_AUTH_RATE_PER_MINUTE: String(AUTH_PER_MINUTE),
				WS_RATE_PER_SECOND: '1',
				WS_RATE_BURST: '3',
				// The test runner itself (no X-Forwarded-For) reads the metrics.
				METRICS_ALLOWLIST: '127.0.0.1'
			}
		});
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	/** Rejections counted per scope, or null when no parser is installed (the HTTP assertions still run). */
	async function rejections(): Promise<ParsedMetrics | null> {
		if (parserMissingReason) return null;
		const response = await fetch(`${server.url}/metrics`);
		expect(response.status).toBe(200);
		return parseMetrics(await response.text());
	}
	function expectRejected(before: ParsedMetrics | null, after: ParsedMetrics | null, scope: string, count: number) {
		if (!before || !after) return;
		const name = 'hearth_rate_limit_rejections_total';
		expect(sampleSum(after, name, { scope }) - sampleSum(before, name, { scope })).toBe(count);
	}

	it('answers 429 with Retry-After and the JSON error once one address exceeds HTTP_RATE_PER_MINUTE, and only that address', async () => {
		const before = await rejections();
		const client = new TestClient(server);
		for (let i = 0; i < PER_MINUTE; i += 1) expect((await client.fetch('/api/instance')).status).toBe(200);
		const refused = await client.fetch('/api/instance');
		// One request per 60/20 = 3 s comes back.
		expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
		expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(3);
		expect(refused.headers.get('x-request-id')).toBeTruthy();
		await expectError(refused, 429, 'rate_limited', HTTP_MESSAGE);
		// Pages count too, and state-changing requests are refused before any work.
		expect((await client.fetch('/')).status).toBe(429);
		expect((await client.send('POST', '/api/communities', { name: 'never created' })).status).toBe(429);
		// Another address is unaffected.
		expect((await new TestClient(server).fetch('/api/instance')).status).toBe(200);
		expectRejected(before, await rejections(), 'http', 4);
	});

	it('never limits health probes, /metrics or built assets', async () => {
		const client = new TestClient(server);
		for (let i = 0; i < PER_MINUTE; i += 1) await client.fetch('/api/instance');
		expect((await client.fetch('/api/instance')).status).toBe(429);
		for (const path of ['/health', '/live', '/ready']) {
			for (let i = 0; i < 3; i += 1) expect((await client.fetch(path)).status, path).toBe(200);
		}
		expect((await client.fetch('/metrics')).status).toBe(403); // refused by its own rule, not 429
		const entry = readdirSync(join(ROOT, 'build/client/_app/immutable/entry')).find((name) => name.endsWith('.js'));
		for (let i = 0; i < 3; i += 1) expect((await client.fetch(`/_app/immutable/entry/${entry}`)).status).toBe(200);
	});

	it('limits sign-in, sign-up, password changes and invite codes by HTTP_AUTH_RATE_PER_MINUTE, apart from the rest', async () => {
		const owner = await TestClient.signUp(server);
		const invite = await createInvite(owner, (await createCommunity(owner)).id);
		const before = await rejections();
		const client = new TestClient(server);
		for (let i = 0; i < AUTH_PER_MINUTE; i += 1) {
			expect((await client.send('POST', '/api/auth/sign-in', { username: owner.user.username, password: `${PASSWORD}!` })).status).toBe(401);
		}
		const refused = await client.send('POST', '/api/auth/sign-in', { username: owner.user.username, password: PASSWORD });
		// One attempt per 60/3 = 20 s comes back.
		expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(15);
		expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(20);
		await expectError(refused, 429, 'rate_limited', AUTH_MESSAGE);
		await expectError(client.send('POST', '/api/auth/sign-up', { username: uniqueName(), password: PASSWORD }), 429, 'rate_limited', AUTH_MESSAGE);
		await expectError(client.fetch(`/api/invites/${invite.code}`), 429, 'rate_limited', AUTH_MESSAGE);
		await expectError(client.send('POST', `/api/invites/${invite.code}/accept`), 429, 'rate_limited', AUTH_MESSAGE);
		// The general scope of the same address is untouched (the CSRF fetches above used it).
		expect((await client.fetch('/api/instance')).status).toBe(200);
		expectRejected(before, await rejections(), 'auth', 4);

		// A password change is in the auth scope as well.
		const member = await TestClient.signUp(server);
		const statuses: number[] = [];
		for (let i = 0; i < AUTH_PER_MINUTE; i += 1) {
			statuses.push((await member.send('POST', '/api/me/password', { currentPassword: `${PASSWORD}!`, newPassword: `${PASSWORD}?` })).status);
		}
		// The sign-up took one of the three.
		expect(statuses).toEqual([400, 400, 429]);
	});

	it('refuses frames over the /ws token bucket with rate_limited errors, closes an abuser with 4008, and counts both', async () => {
		const user = await TestClient.signUp(server);
		const socket = await user.socket();
		const before = await rejections();
		for (let i = 0; i < 30; i += 1) socket.sendRaw(JSON.stringify({ t: 'ping', id: `p${i}` }));
		expect(await socket.closed).toEqual({ code: CloseCode.policyViolation, reason: 'too many invalid or rate-limited frames' });
		const limited = socket.matching<Extract<ServerFrame, { t: 'error' }>>((f) => f.t === 'error' && f.code === 'rate_limited');
		expect(limited.length).toBeGreaterThan(20);
		// The client can see the close before the server's close handler has counted it: wait for the
		// count (it must reach exactly 1), then compare everything on that one scrape.
		const closes = (metrics: ParsedMetrics) => sampleSum(metrics, 'hearth_ws_closes_total', { code: '4008' }) - sampleSum(before!, 'hearth_ws_closes_total', { code: '4008' });
		let after = await rejections();
		for (let attempt = 0; before && after && closes(after) < 1 && attempt < 50; attempt += 1) {
			await new Promise((resolve) => setTimeout(resolve, 100));
			after = await rejections();
		}
		expectRejected(before, after, 'ws', limited.length);
		if (before && after) {
			expect(sampleSum(after, 'hearth_ws_frames_rejected_total', { reason: 'rate_limited' }) - sampleSum(before, 'hearth_ws_frames_rejected_total', { reason: 'rate_limited' })).toBe(limited.length);
			expect(closes(after)).toBe(1);
		}
	});
});

// The rate-limit level is an instance setting (relaxed ×2, normal ×1, strict ×½ of the limits
// above) that applies to the next request and to /ws connections already open, without a restart.
describe.skipIf(skip)('rate-limit level (instance setting)', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { HTTP_RATE_PER_MINUTE: String(PER_MINUTE), WS_RATE_PER_SECOND: '1', WS_RATE_BURST: '8' } });
		owner = await TestClient.signUp(server);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	/** The owner, signed in from a fresh address each time, so the owner's own requests never hit the limits under test. */
	async function ownerFromFreshAddress(): Promise<TestClient> {
		const client = new TestClient(server);
		await client.signIn(owner.user.username);
		return client;
	}

	const setLevel = async (rateLimitLevel: string) => {
		const response = await (await ownerFromFreshAddress()).send('PATCH', '/api/admin/settings', { rateLimitLevel });
		expect(response.status).toBe(200);
		expect(((await response.json()) as { settings: { rateLimitLevel: string } }).settings.rateLimitLevel).toBe(rateLimitLevel);
	};

	/** How many requests a fresh address gets before its first 429. */
	async function allowedBeforeRefusal(): Promise<number> {
		const client = new TestClient(server);
		for (let i = 0; i < PER_MINUTE * 3; i += 1) if ((await client.fetch('/api/instance')).status === 429) return i;
		return Infinity;
	}

	it('multiplies HTTP_RATE_PER_MINUTE: strict refuses sooner and relaxed later, from the next request on', async () => {
		expect(await allowedBeforeRefusal()).toBe(PER_MINUTE);
		await setLevel('strict');
		expect(await allowedBeforeRefusal()).toBe(PER_MINUTE / 2);
		await setLevel('relaxed');
		expect(await allowedBeforeRefusal()).toBe(PER_MINUTE * 2);
		await setLevel('normal');
		expect(await allowedBeforeRefusal()).toBe(PER_MINUTE);
	});

	it('shrinks the /ws burst of connections already open when the level becomes strict', async () => {
		const sendSix = async (socket: TestSocket, tag: string) => {
			for (let i = 0; i < 6; i += 1) socket.sendRaw(JSON.stringify({ t: 'ping', id: `${tag}${i}` }));
			const answers = await socket.waitForCount(6, (f) => (f.t === 'pong' || f.t === 'error') && 'id' in f && String(f.id).startsWith(tag));
			return answers.filter((f) => f.t === 'error' && f.code === 'rate_limited').length;
		};
		const first = await (await TestClient.signUp(server)).socket();
		const second = await (await TestClient.signUp(server)).socket();
		try {
			// Burst 8 at the normal level: six frames at once all pass.
			expect(await sendSix(first, 'n')).toBe(0);
			await setLevel('strict');
			// Burst 4 now, on a connection opened before the change: two of six are refused.
			expect(await sendSix(second, 's')).toBe(2);
		} finally {
			first.close();
			second.close();
			await setLevel('normal');
		}
	});

	it('refuses an unknown level with a clear error and records each change in the audit log', async () => {
		await expectError((await ownerFromFreshAddress()).send('PATCH', '/api/admin/settings', { rateLimitLevel: 'extreme' }), 400, 'invalid', 'The rate-limit level is relaxed, normal or strict.');
		await setLevel('strict');
		await setLevel('normal');
		const { entries } = await (await ownerFromFreshAddress()).api.get<{ entries: { action: string; data: unknown }[] }>('/api/admin/audit-log?limit=5');
		expect(entries.filter((e) => e.action === 'instance.settings_changed').slice(0, 2).map((e) => e.data)).toEqual([
			{ rateLimitLevel: { from: 'strict', to: 'normal' } },
			{ rateLimitLevel: { from: 'normal', to: 'strict' } }
		]);
	});
});
