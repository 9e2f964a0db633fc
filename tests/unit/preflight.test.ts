import { describe, expect, it } from 'vitest';
import { loadConfig } from '#lib/server/config/config.ts';
import { formatPreflightReport, preflightReport } from '#lib/server/config/preflight.ts';
import { maskDatabaseUrl, maskSecret } from '#lib/server/config/secrets.ts';

describe('preflight report', () => {
	const secret = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG8=';
	const password = '9f2c7e1a4b8d6035e2f1c9a7b4d8e6f0a1c3e5b7d9f2a4c6e8b0d2f4a6c8e0b2';
	const config = loadConfig({
		APP_ENV: 'production',
		ORIGIN: 'https://chat.example.com',
		APP_SECRET: secret,
		DATABASE_URL: `postgres://hearth:${password}@db:5432/hearth`,
		TRUSTED_PROXIES: '10.0.0.0/8',
		ADMIN_ALLOWLIST: '192.168.0.0/16'
	});
	const report = preflightReport(config, new Set(['https://chat.example.com']));
	const text = formatPreflightReport(report);

	it('names the mode, engine, origins and protections', () => {
		expect(report.mode).toBe('production');
		expect(report.database).toBe('PostgreSQL postgres://hearth:*****@db:5432/hearth, pool 10');
		expect(report['allowed origins']).toBe('1 (https://chat.example.com)');
		expect(report.csrf).toContain('signed double-submit');
		expect(report['admin surface']).toContain('IP allowlist');
		expect(report['trusted proxies']).toContain('configured');
		expect(report['security headers']).toContain('HSTS');
		expect(report['rate limits']).toContain('/ws 20/s burst 60');
	});

	it('never contains a secret or the database password', () => {
		expect(text).not.toContain(secret);
		expect(text).not.toContain(password);
		expect(JSON.stringify(report)).not.toContain(password);
	});

	it('masks secrets to their length and database URLs to their host', () => {
		expect(maskSecret(undefined)).toBe('not set');
		expect(maskSecret(secret)).toBe('set (38 bytes, hidden)');
		expect(maskDatabaseUrl('postgres://u:p%40ss@h/db')).toBe('postgres://u:*****@h/db');
		expect(maskDatabaseUrl('not a url')).not.toContain('not a url');
	});
});
