// Safe defaults on every response, the CORS policy, the optional walls around the admin surface,
// and production mode: what it refuses, what it prints (with every secret masked), what it sends.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callWorkerUnavailableReason, createTestDatabase, postgresUnavailableReason, ROOT, startServer, testEngine, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { expectError } from '../helpers/fixtures.ts';

const skip = postgresUnavailableReason();

function directives(policy: string | null): Map<string, string[]> {
	const map = new Map<string, string[]>();
	for (const part of (policy ?? '').split(';').map((p) => p.trim()).filter(Boolean)) {
		const [name, ...values] = part.split(/\s+/);
		map.set(name!, values);
	}
	return map;
}

describe.skipIf(skip)('security headers and CORS', () => {
	let db: TestDatabase;
	let server: TestServer;
	const partner = 'https://partner.example';

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { ALLOWED_ORIGINS: partner } });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('serves pages with a nonce-based CSP that allows no inline or foreign script', async () => {
		const response = await fetch(`${server.url}/sign-in`);
		expect(response.status).toBe(200);
		const csp = directives(response.headers.get('content-security-policy'));
		const scriptSrc = csp.get('script-src')!;
		expect(scriptSrc).toContain("'self'");
		expect(scriptSrc).not.toContain("'unsafe-inline'");
		expect(scriptSrc).not.toContain("'unsafe-eval'");
		// WebAssembly may compile (libsodium has no plain-JS fallback), JavaScript eval may not.
		expect(scriptSrc).toContain("'wasm-unsafe-eval'");
		const nonce = scriptSrc.find((s) => s.startsWith("'nonce-"))!.slice(7, -1);
		expect(nonce.length).toBeGreaterThanOrEqual(16);
		expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
		expect(csp.get('object-src')).toEqual(["'none'"]);
		// Every inline script on the page carries that nonce, or the browser would refuse to run it.
		const html = await response.text();
		// (JSON data islands are not executed, so they need none.)
		const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!).filter((a) => !a.includes('type="application/json"'));
		expect(scripts.length).toBeGreaterThan(0);
		for (const attributes of scripts) expect(attributes).toContain(`nonce="${nonce}"`);
		// A new nonce per response.
		const again = directives((await fetch(`${server.url}/sign-in`)).headers.get('content-security-policy'));
		expect(again.get('script-src')).not.toEqual(scriptSrc);
	});

	it('sends the baseline headers on pages and API responses, and no HSTS outside production', async () => {
		for (const path of ['/sign-in', '/api/csrf', '/health']) {
			const response = await fetch(`${server.url}${path}`);
			expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
			expect(response.headers.get('referrer-policy'), path).toBe('same-origin');
			expect(response.headers.get('x-frame-options'), path).toBe('DENY');
			const permissions = response.headers.get('permissions-policy')!;
			expect(permissions).toContain('camera=(self)');
			expect(permissions).toContain('microphone=(self)');
			expect(permissions).toContain('geolocation=()');
			expect(response.headers.get('strict-transport-security'), path).toBeNull();
			expect(directives(response.headers.get('content-security-policy')).get('frame-ancestors'), path).toEqual(["'none'"]);
		}
		// JSON never needs to run or load anything.
		const api = directives((await fetch(`${server.url}/api/csrf`)).headers.get('content-security-policy'));
		expect(api.get('default-src')).toEqual(["'none'"]);
	});

	it('answers CORS only for configured origins, echoing the origin and never "*"', async () => {
		const allowed = await fetch(`${server.url}/api/instance`, { headers: { origin: partner } });
		expect(allowed.headers.get('access-control-allow-origin')).toBe(partner);
		expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
		expect(allowed.headers.get('vary')).toContain('Origin');

		const foreign = await fetch(`${server.url}/api/instance`, { headers: { origin: 'https://evil.example' } });
		expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
	});

	it('answers preflights for configured origins and refuses the others', async () => {
		const preflight = (origin: string) =>
			fetch(`${server.url}/api/communities`, {
				method: 'OPTIONS',
				headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-csrf-token' }
			});
		const allowed = await preflight(partner);
		expect(allowed.status).toBe(204);
		expect(allowed.headers.get('access-control-allow-origin')).toBe(partner);
		expect(allowed.headers.get('access-control-allow-headers')).toContain('x-csrf-token');
		const foreign = await preflight('https://evil.example');
		expect(foreign.status).toBe(403);
		expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
	});
});

describe.skipIf(skip)('admin surface walls', () => {
	let db: TestDatabase;
	let allowlisted: TestServer;
	const ADMIN_REFUSED = 'The admin area is not reachable from your network address (ADMIN_ALLOWLIST).';
	const CERT_REFUSED = 'The admin area needs a verified client certificate (ADMIN_CLIENT_CERT_HEADER).';

	beforeAll(async () => {
		db = await createTestDatabase();
		// Test clients reach the server through the trusted "proxy" 127.0.0.1 with their own X-Forwarded-For.
		allowlisted = await startServer({ database: db, env: { ADMIN_ALLOWLIST: '198.51.100.0/24' } });
	});
	afterAll(async () => {
		await allowlisted?.stop();
		await db?.drop();
	});

	it('refuses admin pages and API from addresses outside ADMIN_ALLOWLIST, before anything else', async () => {
		const outsider = new TestClient(allowlisted, { ip: '203.0.113.9' });
		await expectError(outsider.fetch('/api/admin/invites'), 403, 'admin_network', ADMIN_REFUSED);
		await expectError(outsider.fetch('/admin'), 403, 'admin_network', ADMIN_REFUSED);
		await expectError(outsider.fetch('/admin/users/__data.json'), 403, 'admin_network', ADMIN_REFUSED);
		// The rest of the app is unaffected.
		expect((await outsider.fetch('/api/instance')).status).toBe(200);
	});

	it('lets an allowlisted address through to the usual checks (here: not signed in)', async () => {
		const insider = new TestClient(allowlisted, { ip: '198.51.100.7' });
		const response = await insider.fetch('/api/admin/invites');
		expect(response.status).toBe(401);
	});

	it('requires the proxy-verified client certificate header, and believes it only from a trusted proxy', async () => {
		// Its own database: an embedded one serves one process at a time, and the allowlisted server is running.
		const own = await createTestDatabase();
		const server = await startServer({ database: own, env: { ADMIN_CLIENT_CERT_HEADER: 'X-SSL-Client-Verify' } });
		try {
			const client = new TestClient(server);
			await expectError(client.fetch('/api/admin/invites'), 403, 'admin_network', CERT_REFUSED);
			await expectError(client.fetch('/api/admin/invites', { headers: { 'x-ssl-client-verify': 'FAILED:self signed' } }), 403, 'admin_network', CERT_REFUSED);
			expect((await client.fetch('/api/admin/invites', { headers: { 'x-ssl-client-verify': 'SUCCESS' } })).status).toBe(401);
		} finally {
			await server.stop();
		}
		// Without the proxy in TRUSTED_PROXIES the header is the client's own word: refused.
		const direct = await startServer({
			database: own,
			env: { ADMIN_CLIENT_CERT_HEADER: 'X-SSL-Client-Verify', TRUSTED_PROXIES: '10.9.9.9' }
		});
		try {
			const client = new TestClient(direct);
			await expectError(client.fetch('/api/admin/invites', { headers: { 'x-ssl-client-verify': 'SUCCESS' } }), 403, 'admin_network', CERT_REFUSED);
		} finally {
			await direct.stop();
			await own.drop();
		}
	});
});

/** Runs the server with an environment and returns its exit code and everything it printed. */
function runServer(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, ['server/main.ts'], {
			cwd: ROOT,
			env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
			stdio: ['ignore', 'pipe', 'pipe']
		});
		let output = '';
		child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
		child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
		const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
		child.once('exit', (code) => {
			clearTimeout(timer);
			resolve({ code, output });
		});
	});
}

describe('production mode refuses unsafe configuration', () => {
	const secret = randomBytes(32).toString('base64');

	it('refuses the embedded database, a missing secret and a missing origin, naming each', async () => {
		const { code, output } = await runServer({ APP_ENV: 'production', DATA_DIR: '/nonexistent/never-created' });
		expect(code).toBe(1);
		expect(output).toContain('APP_ENV=production needs DATABASE_URL (PostgreSQL)');
		expect(output).toContain('APP_ENV=production needs APP_SECRET');
		expect(output).toContain('APP_ENV=production needs ORIGIN');
	});

	it('refuses weak secrets without printing them', async () => {
		const weakPassword = 'hunter2hunter2';
		const { code, output } = await runServer({
			APP_ENV: 'production',
			DATABASE_URL: `postgres://hearth:${weakPassword}@127.0.0.1:1/hearth`,
			ORIGIN: 'https://chat.example.com',
			APP_SECRET: 'change-me-to-something-long-and-random-please'
		});
		expect(code).toBe(1);
		expect(output).toContain('APP_SECRET looks like a placeholder');
		expect(output).toContain('the password in DATABASE_URL is 10 bytes; it needs at least 32 random bytes');
		expect(output).not.toContain(weakPassword);
		expect(output).not.toContain('change-me-to-something');
	});

	it('refuses a wildcard or plain-http origin', async () => {
		const { code, output } = await runServer({
			APP_ENV: 'production',
			DATABASE_URL: 'postgres://127.0.0.1:1/hearth',
			ORIGIN: 'http://chat.example.com',
			ALLOWED_ORIGINS: '*',
			APP_SECRET: secret
		});
		expect(code).toBe(1);
		expect(output).toContain('"*" is not allowed');
	});
});

describe.skipIf(testEngine() !== 'postgres' || skip)('production mode (PostgreSQL only: production refuses the embedded database)', () => {
	let db: TestDatabase;
	let server: TestServer;
	const secret = randomBytes(32).toString('base64url');

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({
			database: db,
			env: { APP_ENV: 'production', ORIGIN: 'https://chat.example.test', APP_SECRET: secret }
		});
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('prints a preflight report naming every protection, with every secret masked', async () => {
		// The human-readable copy goes to stderr, which may arrive after the JSON lines on stdout.
		await expect.poll(() => server.logs.join('\n')).toContain('Hearth preflight');
		const output = server.logs.join('\n');
		const report = server.logs.map((line) => {
			try {
				return JSON.parse(line) as { msg?: string; preflight?: Record<string, string> };
			} catch {
				return {};
			}
		}).find((entry) => entry.msg === 'preflight report')?.preflight;
		expect(report).toBeDefined();
		expect(report!.mode).toBe('production');
		expect(report!.database).toContain('PostgreSQL');
		expect(report!.csrf).toContain('APP_SECRET set (hidden)');
		expect(report!['security headers']).toContain('HSTS');
		expect(report!['allowed origins']).toMatch(/^1 \(https:\/\/chat\.example\.test\)$/);
		// Test servers get a mediasoup worker whenever one is available (tests/helpers/test-server.ts).
		if (callWorkerUnavailableReason() === null) expect(report!.calls).toMatch(/^1 mediasoup worker\(s\), free ports on 127\.0\.0\.1, announced \(listen address\), max 25 per call$/);
		else expect(report!.calls).toMatch(/^unavailable: no mediasoup worker: set MEDIASOUP_WORKER_BIN/);
		expect(report!.turn).toMatch(/^not configured/);
		expect(output).not.toContain(secret);
		const password = new URL(db.url!).password;
		if (password) expect(output).not.toContain(password);
	});

	it('sends HSTS and Secure, __Host- cookies', async () => {
		const response = await fetch(`${server.url}/api/csrf`);
		expect(response.headers.get('strict-transport-security')).toBe('max-age=63072000; includeSubDomains');
		const cookie = response.headers.getSetCookie()[0]!;
		expect(cookie.startsWith('__Host-hearth_csrf=')).toBe(true);
		expect(cookie.toLowerCase()).toContain('secure');
	});
});
