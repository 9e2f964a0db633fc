// Cross-site request defences: every state-changing request needs an allowed Origin, and /api ones
// also the signed double-submit CSRF token (the X-CSRF-Token header must repeat the SameSite=Strict
// cookie, and carry the server's signature for the current session).
// A refused request has no effect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient } from '../helpers/clients.ts';
import { expectError, expectJson } from '../helpers/fixtures.ts';
import type { CommunityView } from '#lib/shared/api-types.ts';

const skip = postgresUnavailableReason();

const ORIGIN_REFUSED = 'Cross-site request refused: the Origin header is missing or not allowed.';
const CSRF_REFUSED = 'Missing or invalid CSRF token: fetch /api/csrf and send it as X-CSRF-Token.';

describe.skipIf(skip)('cross-site request defences', () => {
	let db: TestDatabase;
	let server: TestServer;
	let user: TestClient;
	let token: string;

	/** A request as a browser would send it, with full control over Origin and the CSRF header. */
	function request(client: TestClient, method: string, path: string, headers: Record<string, string | null>, body?: unknown) {
		const init: Record<string, string> = { 'content-type': 'application/json' };
		for (const [name, value] of Object.entries(headers)) if (value !== null) init[name] = value;
		// TestClient.fetch adds the app's Origin unless one is given; null here means "send none".
		if (headers.origin === null) init.origin = '';
		return client.fetch(path, { method, headers: init, body: body === undefined ? undefined : JSON.stringify(body) });
	}

	async function communityNames(): Promise<string[]> {
		return (await user.api.get<{ communities: CommunityView[] }>('/api/communities')).communities.map((c) => c.name);
	}

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		user = await TestClient.signUp(server);
		token = await user.csrfToken();
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	describe('Origin check on state-changing requests', () => {
		it('refuses a request without an Origin header with 403', async () => {
			await expectError(request(user, 'POST', '/api/communities', { origin: null, 'x-csrf-token': token }, { name: 'No origin' }), 403, 'forbidden', ORIGIN_REFUSED);
			expect(await communityNames()).not.toContain('No origin');
		});

		it.each([['a foreign site', 'https://evil.example'], ['an opaque origin', 'null'], ['another port of the same host', 'http://localhost:1']])(
			'refuses a request from %s with 403',
			async (_case, origin) => {
				await expectError(request(user, 'POST', '/api/communities', { origin, 'x-csrf-token': token }, { name: 'Foreign' }), 403, 'forbidden', ORIGIN_REFUSED);
				expect(await communityNames()).not.toContain('Foreign');
			}
		);

		it.each(['PUT', 'PATCH', 'DELETE'])('guards %s as well', async (method) => {
			await expectError(request(user, method, '/api/me', { origin: 'https://evil.example', 'x-csrf-token': token }, { displayName: 'Hacked' }), 403, 'forbidden', ORIGIN_REFUSED);
		});

		it('guards state-changing requests outside /api too', async () => {
			const response = await request(user, 'POST', '/', { origin: 'https://evil.example' }, {});
			await expectError(response, 403, 'forbidden', ORIGIN_REFUSED);
		});

		it('accepts the app origin under its loopback aliases in development', async () => {
			const alias = `http://127.0.0.1:${server.port}`;
			const body = await expectJson<{ community: CommunityView }>(request(user, 'POST', '/api/communities', { origin: alias, 'x-csrf-token': token }, { name: 'Via alias' }), 201);
			expect(body.community.name).toBe('Via alias');
		});
	});

	describe('CSRF token on /api', () => {
		it('refuses a request without X-CSRF-Token with 403 csrf', async () => {
			await expectError(request(user, 'POST', '/api/communities', {}, { name: 'No token' }), 403, 'csrf', CSRF_REFUSED);
			expect(await communityNames()).not.toContain('No token');
		});

		it('refuses a wrong token with 403 csrf', async () => {
			await expectError(request(user, 'POST', '/api/communities', { 'x-csrf-token': 'a'.repeat(32) }, { name: 'Wrong token' }), 403, 'csrf', CSRF_REFUSED);
			await expectError(request(user, 'POST', '/api/communities', { 'x-csrf-token': token.slice(0, -1) }, { name: 'Wrong token' }), 403, 'csrf', CSRF_REFUSED);
			expect(await communityNames()).not.toContain('Wrong token');
		});

		it("refuses another browser's valid token: it must match this browser's cookie", async () => {
			const other = new TestClient(server);
			const otherToken = await other.csrfToken();
			expect(otherToken).not.toBe(token);
			await expectError(request(user, 'POST', '/api/communities', { 'x-csrf-token': otherToken }, { name: 'Stolen token' }), 403, 'csrf', CSRF_REFUSED);
		});

		it('refuses a token header when the CSRF cookie is missing', async () => {
			const client = new TestClient(server);
			await client.signIn(user.user.username, PASSWORD);
			const own = await client.csrfToken();
			client.jar.cookies.delete('hearth_csrf');
			await expectError(request(client, 'POST', '/api/communities', { 'x-csrf-token': own }, { name: 'No cookie' }), 403, 'csrf', CSRF_REFUSED);
		});

		it('protects sign-in too, so a foreign page cannot sign a visitor into its own account', async () => {
			await expectError(request(new TestClient(server), 'POST', '/api/auth/sign-in', {}, { username: user.user.username, password: PASSWORD }), 403, 'csrf', CSRF_REFUSED);
		});

		it('issues the token in an HttpOnly, SameSite=Strict cookie and keeps it stable', async () => {
			const client = new TestClient(server);
			const response = await client.fetch('/api/csrf');
			const body = (await response.json()) as { token: string };
			const line = response.headers.getSetCookie().find((l) => l.startsWith('hearth_csrf='))!;
			expect(line.split(';')[0]).toBe(`hearth_csrf=${body.token}`);
			const attributes = line.split(';').map((a) => a.trim().toLowerCase());
			expect(attributes).toEqual(expect.arrayContaining(['httponly', 'samesite=strict', 'path=/']));
			expect(attributes).not.toContain('secure');
			expect(await client.csrfToken()).toBe(body.token);
		});

		it('refuses a token issued before sign-in once signed in: tokens are signed for one session', async () => {
			const client = new TestClient(server);
			const anonymous = await client.csrfToken();
			await client.signIn(user.user.username, PASSWORD);
			await expectError(request(client, 'POST', '/api/communities', { 'x-csrf-token': anonymous }, { name: 'Old token' }), 403, 'csrf', CSRF_REFUSED);
			const fresh = await client.csrfToken();
			expect(fresh).not.toBe(anonymous);
			await expectJson(request(client, 'POST', '/api/communities', { 'x-csrf-token': fresh }, { name: 'Fresh token' }), 201);
		});

		it('refuses a planted cookie and header pair the server did not sign', async () => {
			const client = new TestClient(server);
			await client.signIn(user.user.username, PASSWORD);
			const forged = `${'a'.repeat(32)}.${'B'.repeat(43)}`;
			client.jar.cookies.set('hearth_csrf', forged);
			await expectError(request(client, 'POST', '/api/communities', { 'x-csrf-token': forged }, { name: 'Planted' }), 403, 'csrf', CSRF_REFUSED);
			expect(await communityNames()).not.toContain('Planted');
		});

		it("refuses another session's valid pair planted in this browser", async () => {
			const attacker = await TestClient.signUp(server);
			const attackerToken = await attacker.csrfToken();
			const victim = new TestClient(server);
			await victim.signIn(user.user.username, PASSWORD);
			victim.jar.cookies.set('hearth_csrf', attackerToken);
			await expectError(request(victim, 'POST', '/api/communities', { 'x-csrf-token': attackerToken }, { name: 'Tossed' }), 403, 'csrf', CSRF_REFUSED);
		});

		it('lets safe methods through without a token or an Origin', async () => {
			const response = await user.fetch('/api/communities', { headers: { origin: '' } });
			expect(response.status).toBe(200);
			expect(await communityNames()).toContain('Via alias');
		});
	});
});
