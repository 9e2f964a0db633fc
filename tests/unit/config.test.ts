import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '#lib/server/config/config.ts';
import { clientIp } from '#lib/server/client-ip.ts';

const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');

function problems(env: Record<string, string>): string[] {
	try {
		loadConfig(env);
		return [];
	} catch (error) {
		if (error instanceof ConfigError) return error.problems;
		throw error;
	}
}

describe('loadConfig', () => {
	it('runs with no configuration at all on the embedded database', () => {
		const config = loadConfig({});
		expect(config.database).toEqual({ kind: 'pglite', dataDir: './data' });
		expect(config.origin).toBe('http://localhost:3000');
		expect(config.env).toBe('development');
	});

	it('uses PostgreSQL when DATABASE_URL is set', () => {
		expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db/hearth' }).database).toEqual({
			kind: 'postgres',
			url: 'postgres://u:p@db/hearth',
			poolSize: 10,
			preparedStatements: true
		});
		expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db/hearth', DATABASE_PREPARED_STATEMENTS: 'false' }).database).toMatchObject({ preparedStatements: false });
		expect(() => loadConfig({ DATABASE_URL: 'postgres://u:p@db/hearth', DATABASE_PREPARED_STATEMENTS: 'sometimes' })).toThrow(/DATABASE_PREPARED_STATEMENTS must be true or false/);
	});

	it('refuses the embedded database, a missing secret and a missing or plain-http origin in production', () => {
		const secret = 'q3Jx8vY0bK2mT5wR7zN1pL4sD6fH9gA0cE3uI8oV2yM=';
		expect(problems({ APP_ENV: 'production' })).toEqual([
			'APP_ENV=production needs DATABASE_URL (PostgreSQL); the embedded database is for trying Hearth out',
			'APP_ENV=production needs APP_SECRET, at least 32 random bytes (scripts/generate-secrets.sh makes one)',
			'APP_ENV=production needs ORIGIN, the public https:// address users open'
		]);
		expect(problems({ APP_ENV: 'production', DATABASE_URL: 'postgres://db/x', ORIGIN: 'http://chat.example.com', APP_SECRET: secret })).toEqual([
			'APP_ENV=production needs an https:// ORIGIN (session cookies are Secure)'
		]);
		expect(problems({ APP_ENV: 'production', DATABASE_URL: 'postgres://db/x', ORIGIN: 'https://chat.example.com', APP_SECRET: secret })).toEqual([]);
	});

	it('refuses weak secrets in every mode, and weak database passwords in production', () => {
		expect(problems({ APP_SECRET: 'short' })).toEqual([
			'APP_SECRET is 5 bytes; it needs at least 32 random bytes (scripts/generate-secrets.sh makes one)'
		]);
		expect(problems({ APP_SECRET: 'a'.repeat(64) })).toEqual([
			'APP_SECRET repeats too few characters to be random; generate one (scripts/generate-secrets.sh)'
		]);
		expect(problems({ APP_SECRET: 'replace-this-with-the-output-of-generate-secrets' })[0]).toContain('looks like a placeholder');
		const production = { APP_ENV: 'production', ORIGIN: 'https://chat.example.com', APP_SECRET: randomHex(32) };
		expect(problems({ ...production, DATABASE_URL: 'postgres://hearth:hearth@db/hearth' })).toEqual([
			'APP_ENV=production: the password in DATABASE_URL is 4 bytes; it needs at least 32 random bytes (scripts/generate-secrets.sh makes one)'
		]);
		expect(problems({ ...production, DATABASE_URL: `postgres://hearth:${randomHex(32)}@db/hearth` })).toEqual([]);
		// 31 random bytes are not enough, 32 are.
		expect(problems({ APP_SECRET: randomHex(31) })[0]).toContain('is 31 bytes');
		expect(problems({ APP_SECRET: Buffer.from(randomHex(32), 'hex').toString('base64') })).toEqual([]);
	});

	it('needs TRUSTED_PROXIES for the admin client-certificate header, which only a proxy may set', () => {
		expect(problems({ ADMIN_CLIENT_CERT_HEADER: 'X-SSL-Client-Verify' })).toEqual([
			'ADMIN_CLIENT_CERT_HEADER needs TRUSTED_PROXIES: only the proxy that verified the certificate may set it'
		]);
		expect(loadConfig({ ADMIN_CLIENT_CERT_HEADER: 'X-SSL-Client-Verify', TRUSTED_PROXIES: '10.0.0.1' }).admin.clientCertHeader).toBe('x-ssl-client-verify');
		expect(problems({ ADMIN_ALLOWLIST: '10.0.0.0/8, nowhere' })).toEqual(['ADMIN_ALLOWLIST: "nowhere" is not an IP address or CIDR']);
	});

	it('refuses wildcard and malformed origins', () => {
		expect(problems({ ALLOWED_ORIGINS: '*' })).toEqual(['ALLOWED_ORIGINS: ALLOWED_ORIGINS must list origins explicitly; "*" is not allowed']);
		expect(problems({ ORIGIN: 'https://chat.example.com/path' })[0]).toContain('without path');
	});

	it('refuses an in-memory database outside tests, because it loses every message on restart', () => {
		expect(problems({ DATA_DIR: 'memory://' })[0]).toContain('only allowed with APP_ENV=test');
		expect(problems({ DATA_DIR: 'memory://', APP_ENV: 'test' })).toEqual([]);
	});

	it('reports every invalid number with its name', () => {
		expect(problems({ PORT: 'eighty', WS_RATE_BURST: '0' })).toEqual([
			'PORT: PORT must be a whole number, got "eighty"',
			'WS_RATE_BURST: WS_RATE_BURST must be between 1 and 100000, got 0'
		]);
	});

	it('rejects trusted proxies that are not addresses or CIDRs', () => {
		expect(problems({ TRUSTED_PROXIES: '10.0.0.0/8, proxy.local' })).toEqual(['TRUSTED_PROXIES: "proxy.local" is not an IP address or CIDR']);
	});

	it('limits HTTP per client IP by default (600 a minute, 30 for auth) and keeps /metrics closed', () => {
		const config = loadConfig({});
		expect([config.httpRatePerMinute, config.httpAuthRatePerMinute]).toEqual([600, 30]);
		expect(config.metrics.token).toBeUndefined();
		expect(config.metrics.hasAllowlist).toBe(false);
		expect(problems({ HTTP_RATE_PER_MINUTE: '0' })).toEqual(['HTTP_RATE_PER_MINUTE: HTTP_RATE_PER_MINUTE must be between 1 and 10000000, got 0']);
	});

	it('reads the metrics allowlist as addresses and CIDRs, and rejects anything else by name', () => {
		const token = randomHex(32);
		const { metrics } = loadConfig({ METRICS_ALLOWLIST: '10.0.0.0/8, 2001:db8::1', METRICS_TOKEN: ` ${token} ` });
		expect(metrics.token).toBe(token);
		expect(problems({ METRICS_TOKEN: 'secret-token' })).toEqual([
			'METRICS_TOKEN is 9 bytes; it needs at least 32 random bytes (scripts/generate-secrets.sh makes one)'
		]);
		expect(metrics.hasAllowlist).toBe(true);
		expect([metrics.allowlist.check('10.1.2.3', 'ipv4'), metrics.allowlist.check('11.1.2.3', 'ipv4'), metrics.allowlist.check('2001:db8::1', 'ipv6')]).toEqual([true, false, true]);
		expect(problems({ METRICS_ALLOWLIST: 'prometheus.local, 10.0.0.0/40' })).toEqual([
			'METRICS_ALLOWLIST: "prometheus.local" is not an IP address or CIDR',
			'METRICS_ALLOWLIST: "10.0.0.0/40" has an invalid prefix length'
		]);
	});
});

describe('clientIp', () => {
	const config = loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8,127.0.0.1' });

	it('ignores X-Forwarded-For from peers that are not trusted proxies', () => {
		expect(clientIp('203.0.113.9', '1.2.3.4', config.trustedProxies, true)).toBe('203.0.113.9');
		expect(clientIp('203.0.113.9', '1.2.3.4', config.trustedProxies, false)).toBe('203.0.113.9');
	});

	it('takes the right-most untrusted hop behind trusted proxies, so clients cannot spoof it', () => {
		expect(clientIp('127.0.0.1', '6.6.6.6, 198.51.100.7, 10.1.2.3', config.trustedProxies, true)).toBe('198.51.100.7');
	});

	it('normalises IPv4-mapped IPv6 peers', () => {
		expect(clientIp('::ffff:127.0.0.1', '198.51.100.7', config.trustedProxies, true)).toBe('198.51.100.7');
		expect(clientIp('::ffff:192.0.2.1', undefined, config.trustedProxies, true)).toBe('192.0.2.1');
	});
});
