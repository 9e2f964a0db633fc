// Cluster mode settings (REDIS_URL, NODE_ID in src/env.ts, config.ts) and how the preflight report
// states them, without ever showing a Redis password.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '#lib/server/config/config.ts';
import { preflightReport } from '#lib/server/config/preflight.ts';

const POSTGRES = 'postgres://hearth@127.0.0.1:5432/hearth';

function problems(env: Record<string, string>): string[] {
	try {
		loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://', ...env });
		return [];
	} catch (error) {
		if (error instanceof ConfigError) return error.problems;
		throw error;
	}
}

describe('cluster settings', () => {
	it('are off by default: one process, no Redis', () => {
		expect(loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://' }).cluster).toBeNull();
		expect(preflightReport(loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://' }), new Set()).cluster).toBe(
			'off: one process (set REDIS_URL and DATABASE_URL to run several nodes)'
		);
	});

	it('turn cluster mode on with REDIS_URL and PostgreSQL, with NODE_ID as the node id', () => {
		const config = loadConfig({ APP_ENV: 'test', DATABASE_URL: POSTGRES, REDIS_URL: 'redis://127.0.0.1:6379', NODE_ID: 'node-a' });
		expect(config.cluster).toEqual({ redisUrl: 'redis://127.0.0.1:6379', nodeId: 'node-a' });
	});

	it('make up a node id from the host name and a random suffix when NODE_ID is unset', () => {
		const a = loadConfig({ APP_ENV: 'test', DATABASE_URL: POSTGRES, REDIS_URL: 'redis://127.0.0.1:6379' }).cluster!.nodeId;
		const b = loadConfig({ APP_ENV: 'test', DATABASE_URL: POSTGRES, REDIS_URL: 'redis://127.0.0.1:6379' }).cluster!.nodeId;
		expect(a).toMatch(/^[A-Za-z0-9._-]+-[0-9a-f]{6}$/);
		expect(a).not.toBe(b);
	});

	it('refuse the embedded database in cluster mode, with the reason', () => {
		expect(problems({ REDIS_URL: 'redis://127.0.0.1:6379' })).toEqual([
			'REDIS_URL (cluster mode) needs DATABASE_URL: every node must share one PostgreSQL database; the embedded PGlite database belongs to a single process'
		]);
	});

	it('refuse a REDIS_URL that is not a redis:// or rediss:// URL, without echoing it, and a NODE_ID unfit for keys', () => {
		expect(problems({ DATABASE_URL: POSTGRES, REDIS_URL: 'http://valkey:6379' })).toEqual(['REDIS_URL: REDIS_URL must start with redis:// or rediss://']);
		const unparsable = problems({ DATABASE_URL: POSTGRES, REDIS_URL: 'not a url:s3cretpass' });
		expect(unparsable).toHaveLength(1);
		expect(unparsable[0]).not.toContain('s3cretpass');
		expect(problems({ DATABASE_URL: POSTGRES, REDIS_URL: 'redis://x', NODE_ID: 'a b' })).toEqual([
			'NODE_ID: NODE_ID must be 1 to 64 letters, digits, dots, dashes or underscores, got "a b"'
		]);
	});

	it('show the node and the Redis address in the preflight report, with the password hidden', () => {
		const config = loadConfig({ APP_ENV: 'test', DATABASE_URL: POSTGRES, REDIS_URL: 'redis://:hunter2hunter2@valkey:6379/0', NODE_ID: 'n1' });
		const line = preflightReport(config, new Set(), null, { describe: () => 'node n1 on Redis redis://:*****@valkey:6379/0; 2 other nodes seen (n2, n3)' }).cluster!;
		expect(line).toContain('node n1');
		expect(line).not.toContain('hunter2');
		const before = preflightReport(config, new Set()).cluster!;
		expect(before).toBe('node n1 on Redis redis://:*****@valkey:6379/0 (not connected yet)');
		expect(JSON.stringify(preflightReport(config, new Set()))).not.toContain('hunter2');
	});
});
