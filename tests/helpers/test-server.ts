// Starts the real server (node server/main.ts, the built app) as a child process for a test file,
// on a fresh database: an in-memory or temporary-folder PGlite, or a new database on the PostgreSQL
// server named by TEST_DATABASE_URL. Logs are captured so tests can inspect them.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { homedir } from 'node:os';
import { openDatabase } from '#lib/server/db/open.ts';
import { resolveWorkerBin } from '../../server/calls/worker-bin.ts';
import { SERVER_ENV, SERVER_NODE_FLAGS } from '../../server/node-flags.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;
export type Engine = 'pglite' | 'postgres';

export function testEngine(): Engine {
	return process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite';
}

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function postgresUnavailableReason(): string | null {
	if (testEngine() !== 'postgres') return null;
	return process.env.TEST_DATABASE_URL ? null : 'TEST_DATABASE_URL is not set (scripts/test-all.sh sets it when it can start PostgreSQL)';
}

/** Where CI and developers keep a mediasoup worker built outside the repository (scripts/test-all.sh). */
export const CACHED_WORKER_BIN = join(homedir(), '.cache/hearth/mediasoup-worker');

/** The mediasoup worker test servers use: MEDIASOUP_WORKER_BIN, else the cached one, else the package's own. */
export function testWorkerBin(): string | undefined {
	if (process.env.MEDIASOUP_WORKER_BIN) return process.env.MEDIASOUP_WORKER_BIN;
	if (existsSync(CACHED_WORKER_BIN)) return CACHED_WORKER_BIN;
	return undefined;
}

/** Why call tests cannot use a real mediasoup worker here, or null when they can. */
export function callWorkerUnavailableReason(): string | null {
	const resolved = resolveWorkerBin(testWorkerBin());
	return resolved.ok ? null : `${resolved.reason} (or place one at ${CACHED_WORKER_BIN})`;
}

export type TestDatabase = { env: Record<string, string>; drop(): Promise<void>; engine: Engine; url?: string };

/**
 * A fresh, empty database for one server (kept across restarts of that server). On PGlite it is a
 * copy of a migrated template folder: creating and migrating a cluster costs ~3 s, copying one a
 * fraction of that, and the server still runs its migrations (finding nothing to do).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
	if (testEngine() === 'postgres') {
		const adminUrl = process.env.TEST_DATABASE_URL!;
		const name = `hearth_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
		const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
		await admin.unsafe(`create database ${name}`);
		await admin.end();
		const url = new URL(adminUrl);
		url.pathname = `/${name}`;
		return {
			engine: 'postgres',
			url: url.toString(),
			env: { DATABASE_URL: url.toString() },
			async drop() {
				const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
				await sql.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
				await sql.end();
			}
		};
	}
	const dir = mkdtempSync(join(tmpdir(), 'hearth-test-'));
	cpSync(await pgliteTemplate(), dir, { recursive: true });
	return {
		engine: 'pglite',
		env: { DATA_DIR: dir },
		async drop() {
			rmSync(dir, { recursive: true, force: true });
		}
	};
}

/** A migrated, empty PGlite folder, built once per schema and PGlite version and reused. */
async function pgliteTemplate(): Promise<string> {
	const migrations = join(ROOT, 'drizzle');
	const hash = createHash('sha256');
	hash.update(JSON.parse(readFileSync(join(ROOT, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')).version);
	for (const file of readdirSync(migrations, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => join(f.parentPath, f.name)).sort()) {
		hash.update(file.slice(migrations.length)).update(readFileSync(file));
	}
	const template = join(tmpdir(), `hearth-pglite-template-${hash.digest('hex').slice(0, 16)}`);
	if (existsSync(template)) return template;
	const building = mkdtempSync(join(tmpdir(), 'hearth-pglite-building-'));
	const database = await openDatabase({ kind: 'pglite', dataDir: building }, migrations);
	await database.close();
	try {
		// Atomic: a parallel test worker either sees no template or a complete one.
		renameSync(building, template);
	} catch {
		rmSync(building, { recursive: true, force: true }); // another worker finished first
	}
	return template;
}

export type TestServer = {
	url: string;
	origin: string;
	port: number;
	wsUrl: string;
	/** Every line the server printed (JSON logs). */
	logs: string[];
	process: ChildProcess;
	/** Graceful stop (SIGTERM) and wait for exit. */
	stop(): Promise<number | null>;
	/** Hard kill (SIGKILL), as in a crash or power-cut of the process. */
	kill(): Promise<void>;
	/** How it was started, so it can be restarted the same way (see restartServer). */
	options: StartOptions;
};

export type StartOptions = { database: TestDatabase; env?: Record<string, string>; port?: number };

export async function startServer(options: StartOptions): Promise<TestServer> {
	if (!existsSync(join(ROOT, 'build/handler.js'))) {
		throw new Error('The app is not built: run `npm run build` before the integration tests (scripts/test-all.sh does).');
	}
	const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, 'server/main.ts'], {
		cwd: ROOT,
		env: {
			...SERVER_ENV,
			PATH: process.env.PATH ?? '',
			APP_ENV: 'test',
			HOST: '127.0.0.1',
			PORT: String(options.port ?? 0),
			LOG_LEVEL: 'info',
			// The tests play the reverse proxy in front of the server: each TestClient sends its own
			// X-Forwarded-For address, like users behind Traefik, so per-IP limits (sign-up, sign-in
			// throttle, /ws caps) apply per simulated client, not to the whole test run.
			TRUSTED_PROXIES: '127.0.0.1',
			// Integration tests open many connections and send fast.
			WS_MAX_CONNECTIONS_PER_IP: '10000',
			WS_RATE_PER_SECOND: '1000',
			WS_RATE_BURST: '2000',
			// Suites sign up and send far faster than people do; the HTTP limits get their own tests
			// (rate-limits.test.ts), which set low values.
			HTTP_RATE_PER_MINUTE: '1000000',
			HTTP_AUTH_RATE_PER_MINUTE: '1000000',
			// Calls run whenever a worker is available: one worker per test server (2 cores are shared
			// by parallel test files), on free ports so parallel servers never collide.
			...(testWorkerBin() ? { MEDIASOUP_WORKER_BIN: testWorkerBin()! } : {}),
			CALL_WORKERS: '1',
			CALL_PORT: '0',
			...options.database.env,
			...options.env
		},
		stdio: ['ignore', 'pipe', 'pipe']
	});
	const logs: string[] = [];
	let buffered = '';
	const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
	const port = await new Promise<number>((resolve, reject) => {
		const timer = setTimeout(() => {
			// A server that never said it was running (or whose message was filtered out by LOG_LEVEL)
			// would otherwise outlive the test run, holding its port.
			child.kill('SIGKILL');
			reject(new Error(`server did not start in time:\n${logs.join('\n')}`));
		}, 60_000);
		const onData = (chunk: Buffer) => {
			buffered += chunk.toString('utf8');
			let newline: number;
			while ((newline = buffered.indexOf('\n')) !== -1) {
				const line = buffered.slice(0, newline);
				buffered = buffered.slice(newline + 1);
				logs.push(line);
				if (line.includes('Hearth is running')) {
					clearTimeout(timer);
					resolve((JSON.parse(line) as { port: number }).port);
				}
			}
		};
		child.stdout!.on('data', onData);
		child.stderr!.on('data', onData);
		void exited.then((code) => {
			clearTimeout(timer);
			reject(new Error(`server exited with ${code} before starting:\n${logs.join('\n')}`));
		});
	});
	const url = `http://127.0.0.1:${port}`;
	return {
		url,
		origin: `http://localhost:${port}`,
		port,
		wsUrl: `ws://127.0.0.1:${port}/ws`,
		logs,
		process: child,
		options,
		async stop() {
			if (child.exitCode !== null) return child.exitCode;
			child.kill('SIGTERM');
			return exited;
		},
		async kill() {
			if (child.exitCode !== null) return;
			child.kill('SIGKILL');
			await exited;
		}
	};
}

/**
 * Stops the server (SIGTERM) and starts it again on the same port and database with the same
 * environment. The object is updated in place, so clients holding it keep working; in-memory
 * state (presence, throttles, connections) starts over as after any restart.
 */
export async function restartServer(server: TestServer, extraEnv: Record<string, string> = {}): Promise<TestServer> {
	await server.stop();
	const fresh = await startServer({ ...server.options, port: server.port, env: { ...server.options.env, ...extraEnv } });
	return Object.assign(server, fresh);
}
