// A throwaway redis-server for one test file (no persistence, only 127.0.0.1, files in a temporary
// folder), which the test may kill and start again on the same port: cluster tests break Redis on
// purpose, so each file has its own. scripts/test-all.sh installs redis-server (scripts/lib/test-redis.sh).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The redis-server binary: TEST_REDIS_SERVER_BIN, else one on PATH; undefined when there is none. */
export function redisServerBin(): string | undefined {
	if (process.env.TEST_REDIS_SERVER_BIN) return process.env.TEST_REDIS_SERVER_BIN;
	const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
	return found.status === 0 ? found.stdout.trim() || undefined : undefined;
}

/** Why cluster tests cannot run here, or null when they can (they need PostgreSQL and redis-server). */
export function clusterUnavailableReason(): string | null {
	if (process.env.TEST_DB !== 'postgres') return 'cluster mode needs PostgreSQL: these tests run in the integration-postgres project';
	if (!process.env.TEST_DATABASE_URL) return 'TEST_DATABASE_URL is not set (scripts/test-all.sh sets it when it can start PostgreSQL)';
	if (!redisServerBin()) return process.env.HEARTH_REDIS_SKIP_REASON ?? 'redis-server is not installed (scripts/test-all.sh installs it: apt-get install redis-server)';
	return null;
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const port = (server.address() as { port: number }).port;
	await new Promise((resolve) => server.close(resolve));
	return port;
}

export type TestRedis = {
	url: string;
	port: number;
	/** Kills the server (SIGKILL: its data is gone, as after a crash without persistence). */
	kill(): Promise<void>;
	/** Starts it again on the same port, empty. */
	start(): Promise<void>;
	stop(): Promise<void>;
};

export async function startTestRedis(): Promise<TestRedis> {
	const bin = redisServerBin();
	if (!bin) throw new Error('redis-server is not installed');
	const port = await freePort();
	const dir = mkdtempSync(join(tmpdir(), 'hearth-redis-'));
	let child: ChildProcess | undefined;
	let exited: Promise<void> = Promise.resolve();

	async function start() {
		child = spawn(bin!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
		const current = child;
		exited = new Promise((resolve) => current.once('exit', () => resolve()));
		const deadline = Date.now() + 10_000;
		while (!(await answers(port))) {
			if (current.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on 127.0.0.1:${port}`);
			await new Promise((resolve) => setTimeout(resolve, 25));
		}
	}
	async function kill() {
		if (child && child.exitCode === null) {
			child.kill('SIGKILL');
			await exited;
		}
	}
	await start();
	return {
		url: `redis://127.0.0.1:${port}`,
		port,
		kill,
		start,
		async stop() {
			await kill();
			rmSync(dir, { recursive: true, force: true });
		}
	};
}

/** Whether something answers PING on the port. */
function answers(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = connect(port, '127.0.0.1');
		socket.setTimeout(500);
		socket.once('connect', () => socket.write('PING\r\n'));
		socket.once('data', (data) => {
			socket.destroy();
			resolve(data.toString().startsWith('+PONG'));
		});
		socket.once('error', () => resolve(false));
		socket.once('timeout', () => {
			socket.destroy();
			resolve(false);
		});
	});
}
