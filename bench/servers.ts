// Starting and stopping the two servers under test as child processes: the bare baseline and the
// real Hearth server (built app, seeded database).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import type { GroupPlan } from './ipc.ts';
import type { BenchOptions } from './options.ts';
import type { SeededGroup } from './seed.ts';
import { SERVER_ENV, SERVER_NODE_FLAGS } from '../server/node-flags.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH_DATABASE = 'hearth_bench';
// Seeding 5,000 users and starting PGlite take seconds; these only catch a hung start.
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 20_000;
// Lines of server output kept for the report (everything at LOG_LEVEL=warn is worth reading).
const KEPT_LOG_LINES = 50;

export type RunningServer = {
	label: string;
	process: ChildProcess;
	pid: number;
	/** Cluster: the other processes whose CPU counts as the server's (the other nodes, Redis). */
	otherPids?: number[];
	wsUrl: string;
	/** Cluster: every node's /ws URL (clients are spread over them). */
	wsUrls?: string[];
	origin?: string;
	groups: GroupPlan[];
	/** PostgreSQL database whose backends count as the server's (postgres engine). */
	postgresDatabase?: string;
	/** Lines the server printed (warnings and errors at LOG_LEVEL=warn), the first ones. */
	log: string[];
	logLines: () => number;
	stop(): Promise<void>;
};

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const probe = createServer();
		probe.once('error', reject);
		probe.listen(0, '127.0.0.1', () => {
			const address = probe.address();
			probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
		});
	});
}

function captureOutput(child: ChildProcess, onLine: (line: string) => void) {
	let buffered = '';
	const onData = (chunk: Buffer) => {
		buffered += chunk.toString('utf8');
		let newline: number;
		while ((newline = buffered.indexOf('\n')) !== -1) {
			onLine(buffered.slice(0, newline));
			buffered = buffered.slice(newline + 1);
		}
	};
	child.stdout?.on('data', onData);
	child.stderr?.on('data', onData);
}

function stopProcess(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	return new Promise((resolve) => {
		const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
		child.once('exit', () => {
			clearTimeout(timer);
			resolve();
		});
		child.kill('SIGTERM');
	});
}

function runToCompletion(args: string[], what: string): Promise<void> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
		child.once('error', reject);
		child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code})`))));
	});
}

export async function startBaseline(groupSizes: number[]): Promise<RunningServer> {
	const child = spawn(process.execPath, ['bench/baseline-server.ts', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
	const log: string[] = [];
	let lines = 0;
	const port = await new Promise<number>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('the baseline server did not start')), START_TIMEOUT_MS);
		captureOutput(child, (line) => {
			const listening = /^\{"listening":(\d+)\}$/.exec(line);
			if (listening) {
				clearTimeout(timer);
				return resolve(Number(listening[1]));
			}
			lines += 1;
			if (log.length < KEPT_LOG_LINES) log.push(line);
		});
		child.once('exit', (code) => reject(new Error(`the baseline server exited (${code}):\n${log.join('\n')}`)));
	});
	return {
		label: 'baseline (bare ws)',
		process: child,
		pid: child.pid!,
		wsUrl: `ws://127.0.0.1:${port}/`,
		groups: groupSizes.map((size, index) => ({ index, size })),
		log,
		logLines: () => lines,
		stop: () => stopProcess(child)
	};
}

type Database = { env: Record<string, string>; seedArgs: string[]; drop(): Promise<void>; postgresDatabase?: string };

async function prepareDatabase(options: BenchOptions): Promise<Database> {
	if (options.engine === 'postgres') {
		const admin = postgres(options.pgUrl, { max: 1, onnotice: () => {} });
		try {
			await admin.unsafe(`drop database if exists ${BENCH_DATABASE} with (force)`);
			await admin.unsafe(`create database ${BENCH_DATABASE}`);
		} finally {
			await admin.end();
		}
		const url = new URL(options.pgUrl);
		url.pathname = `/${BENCH_DATABASE}`;
		return {
			env: { DATABASE_URL: url.toString() },
			seedArgs: ['--database-url', url.toString()],
			postgresDatabase: BENCH_DATABASE,
			async drop() {
				if (options.keepData) return;
				const sql = postgres(options.pgUrl, { max: 1, onnotice: () => {} });
				await sql.unsafe(`drop database if exists ${BENCH_DATABASE} with (force)`).catch(() => {});
				await sql.end();
			}
		};
	}
	const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-'));
	return {
		env: { DATA_DIR: dir },
		seedArgs: ['--data-dir', dir],
		async drop() {
			if (options.keepData) console.error(`  kept the PGlite data in ${dir}`);
			else rmSync(dir, { recursive: true, force: true });
		}
	};
}

/** `extra`: settings on top of the bench's (bench/calls.ts adds the call settings) and the seeded channel's kind. */
export async function startHearth(options: BenchOptions, extra: { env?: Record<string, string>; channelKind?: 'text' | 'voice'; nodes?: number } = {}): Promise<RunningServer> {
	if (!existsSync(join(ROOT, 'build/handler.js'))) {
		throw new Error('The app is not built: run `npx vite build` (npm run build) before benchmarking Hearth.');
	}
	const database = await prepareDatabase(options);
	const seedFile = join(mkdtempSync(join(tmpdir(), 'hearth-bench-seed-')), 'groups.json');
	await runToCompletion(
		['bench/seed.ts', '--out', seedFile, ...database.seedArgs, '--connections', String(options.connections), '--group-size', String(options.groupSize), '--channel-kind', extra.channelKind ?? 'text'],
		'seeding the bench database'
	);
	const seeded = JSON.parse(readFileSync(seedFile, 'utf8')) as SeededGroup[];
	rmSync(seedFile, { force: true });

	const groups = seeded.map((group, index) => ({ index, size: group.tokens.length, channelId: group.channelId, tokens: group.tokens }));
	const nodeCount = extra.nodes ?? 1;
	if (nodeCount === 1) {
		const node = await startNode(options, { ...database.env, ...extra.env });
		return {
			label: `hearth (${options.engine})`,
			process: node.child,
			pid: node.child.pid!,
			wsUrl: `ws://127.0.0.1:${node.port}/ws`,
			// The default ORIGIN is http://localhost:PORT, what a browser on this machine would send.
			origin: `http://localhost:${node.port}`,
			groups,
			...(database.postgresDatabase ? { postgresDatabase: database.postgresDatabase } : {}),
			log: node.log,
			logLines: node.lines,
			async stop() {
				await stopProcess(node.child);
				await database.drop();
			}
		};
	}

	// A cluster: one Redis, then the nodes one after another (the first applies the migrations).
	const redis = await startRedis();
	const nodes: Node[] = [];
	try {
		const origin = 'http://localhost:5173';
		const shared = { ...database.env, ...extra.env, REDIS_URL: redis.url, ORIGIN: origin, APP_SECRET: randomBytes(32).toString('base64url') };
		for (let index = 0; index < nodeCount; index += 1) nodes.push(await startNode(options, { ...shared, NODE_ID: `bench-${index + 1}` }));
		return {
			label: `hearth (${options.engine}, ${nodeCount} nodes)`,
			process: nodes[0]!.child,
			pid: nodes[0]!.child.pid!,
			otherPids: [...nodes.slice(1).map((node) => node.child.pid!), redis.child.pid!],
			wsUrl: `ws://127.0.0.1:${nodes[0]!.port}/ws`,
			wsUrls: nodes.map((node) => `ws://127.0.0.1:${node.port}/ws`),
			origin,
			groups,
			...(database.postgresDatabase ? { postgresDatabase: database.postgresDatabase } : {}),
			log: nodes.flatMap((node) => node.log),
			logLines: () => nodes.reduce((sum, node) => sum + node.lines(), 0),
			async stop() {
				await Promise.all(nodes.map((node) => stopProcess(node.child)));
				await stopProcess(redis.child);
				await database.drop();
			}
		};
	} catch (error) {
		await Promise.all(nodes.map((node) => stopProcess(node.child)));
		await stopProcess(redis.child);
		await database.drop();
		throw error;
	}
}

type Node = { child: ChildProcess; port: number; log: string[]; lines: () => number };

/** One Hearth process on a free port, started as npm start does, once it answers /ready. */
async function startNode(options: BenchOptions, env: Record<string, string>): Promise<Node> {
	const port = await freePort();
	const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...options.serverNodeArgs, 'server/main.ts'], {
		cwd: ROOT,
		// A clean environment: nothing from the caller's shell (a stray DATABASE_URL) leaks in.
		env: {
			...SERVER_ENV,
			PATH: process.env.PATH ?? '',
			APP_ENV: 'development',
			HOST: '127.0.0.1',
			PORT: String(port),
			// Request logs at info level would cost more than the work being measured.
			LOG_LEVEL: 'warn',
			// Every bench client comes from 127.0.0.1 and the defaults (64 per IP) are for real users.
			WS_MAX_CONNECTIONS: String(options.connections + 1000),
			WS_MAX_CONNECTIONS_PER_IP: String(options.connections + 1000),
			// The saturation phase may send several frames per connection per second; the limit under
			// test is the server's throughput, not the abuse guard.
			WS_RATE_PER_SECOND: '1000',
			WS_RATE_BURST: '1000',
			MESSAGE_MAX_BYTES: String(Math.max(16_384, options.payloadBytes)),
			WS_MAX_FRAME_BYTES: String(Math.max(65_536, options.payloadBytes * 2 + 1024)),
			...env
		},
		stdio: ['ignore', 'pipe', 'pipe']
	});
	const log: string[] = [];
	let lines = 0;
	captureOutput(child, (line) => {
		lines += 1;
		if (log.length < KEPT_LOG_LINES) log.push(line);
	});
	let exited = false;
	child.once('exit', () => (exited = true));
	const deadline = Date.now() + START_TIMEOUT_MS;
	for (;;) {
		if (exited) throw new Error(`the Hearth server exited while starting:\n${log.join('\n')}`);
		if (Date.now() > deadline) {
			await stopProcess(child);
			throw new Error(`the Hearth server did not become ready:\n${log.join('\n')}`);
		}
		const ready = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false);
		if (ready) break;
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
	return { child, port, log, lines: () => lines };
}

/** A throwaway redis-server (Valkey works the same) on a free port, nothing saved to disk. */
async function startRedis(): Promise<{ child: ChildProcess; url: string }> {
	const bin = process.env.TEST_REDIS_SERVER_BIN ?? 'redis-server';
	const port = await freePort();
	const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
	const output: string[] = [];
	captureOutput(child, (line) => output.length < KEPT_LOG_LINES && output.push(line));
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output.join('\n')}`)), 10_000);
		child.once('error', (error) => reject(new Error(`cannot run ${bin} (install redis-server or valkey, or set TEST_REDIS_SERVER_BIN): ${error.message}`)));
		const poll = setInterval(() => {
			if (output.some((line) => /Ready to accept connections/i.test(line))) {
				clearInterval(poll);
				clearTimeout(timer);
				resolve();
			}
		}, 50);
	});
	return { child, url: `redis://127.0.0.1:${port}` };
}
