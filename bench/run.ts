// `npm run bench`: the realtime load harness. In one run, on the same machine and with the same
// load, it measures the bare `ws` baseline (bench/baseline-server.ts) and then Hearth itself (the
// built app on a freshly seeded database), and reports both side by side.
//
// Per target: start the server → connect every client (each waits for `ready`) → fixed-rate phase
// (warm-up, then a measured window at --rate messages/s) → saturation phase (a closed loop keeping
// --max-inflight messages per group in flight, so deliveries/s is what the server can sustain) →
// close the clients and stop the server. Load generators are separate processes (load-worker.ts);
// server memory and CPU come from /proc. See bench/README.md for how to read the output.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Histogram } from './histogram.ts';
import type { DeliveryCheck, GroupPlan, ParentToWorker, PhaseResult, StormResult, WorkerStatus, WorkerToParent } from './ipc.ts';
import { USAGE, groupSizes, parseOptions, type BenchOptions } from './options.ts';
import { cpuSeconds, ephemeralPortCount, loadAverage, machineCpu, openFileLimit, postgresBackendPids, RssSampler } from './proc.ts';
import { computeVerdicts, printReport, type BenchReport, type PhaseReport, type TargetReport } from './report.ts';
import { ROOT, startBaseline, startHearth, type RunningServer } from './servers.ts';

// How many WebSocket handshakes each worker keeps in flight while connecting: enough to connect
// 5,000 clients in seconds, few enough to stay under the listen backlog (511) with room to spare.
const CONNECT_CONCURRENCY = 100;
const CONNECT_TIMEOUT_MS = 60_000;
// Before the idle and after the last connection: start-up garbage, presence batches (flushed every
// 500 ms) and allocations settle before memory is read.
const SETTLE_MS = 2_000;
// Messages still in flight when a phase ends get this long to arrive before counting as missing.
const DRAIN_TIMEOUT_MS = 10_000;
// Saturation phase: a short ramp before its window so the queues are full when measuring starts.
const SATURATION_WARMUP_MS = 2_000;
const RSS_SAMPLE_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (text: string) => console.error(text);

// --- load-generator processes ----------------------------------------------------------------

class Worker {
	readonly child: ChildProcess;
	#waiting = new Map<WorkerToParent['type'], (message: WorkerToParent) => void>();
	#failed: Error | null = null;

	constructor() {
		// No inherited node flags: a --cpu-prof meant for the orchestrator must not profile clients.
		this.child = fork(join(ROOT, 'bench/load-worker.ts'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
		this.child.on('message', (message: WorkerToParent) => {
			if (message.type === 'fatal') return this.#fail(new Error(`load worker failed: ${message.message}`));
			const waiter = this.#waiting.get(message.type);
			this.#waiting.delete(message.type);
			waiter?.(message);
		});
		this.child.once('exit', (code) => {
			if (this.#waiting.size > 0) this.#fail(new Error(`load worker exited (${code})`));
		});
	}

	#fail(error: Error) {
		this.#failed = error;
		for (const reject of this.#rejects) reject(error);
		this.#rejects.clear();
	}
	#rejects = new Set<(error: Error) => void>();

	get pid(): number {
		return this.child.pid!;
	}

	send(message: ParentToWorker) {
		this.child.send(message);
	}

	/** Sends a command and waits for the answer of the given type. */
	request<T extends WorkerToParent['type']>(message: ParentToWorker, answer: T): Promise<Extract<WorkerToParent, { type: T }>> {
		if (this.#failed) return Promise.reject(this.#failed);
		return new Promise((resolve, reject) => {
			this.#rejects.add(reject);
			this.#waiting.set(answer, (reply) => {
				this.#rejects.delete(reject);
				resolve(reply as Extract<WorkerToParent, { type: T }>);
			});
			this.send(message);
		});
	}
}

/** Splits whole groups over the workers, as evenly as their member counts allow. */
function assignGroups(groups: GroupPlan[], workers: number): GroupPlan[][] {
	const shares: GroupPlan[][] = Array.from({ length: workers }, () => []);
	const load = new Array<number>(workers).fill(0);
	for (const group of groups) {
		const lightest = load.indexOf(Math.min(...load));
		shares[lightest]!.push(group);
		load[lightest]! += group.size;
	}
	return shares.filter((share) => share.length > 0);
}

// --- measuring -------------------------------------------------------------------------------

type CpuSnapshot = { at: number; server: number; workers: number; postgres: Map<number, number>; orchestrator: number; machineBusy: number };

/** CPU seconds of the server's processes (a cluster: every node and Redis). */
function serverCpuSeconds(server: RunningServer): number {
	return [server.pid, ...(server.otherPids ?? [])].reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
}

function cpuSnapshot(server: RunningServer, workers: Worker[]): CpuSnapshot {
	const postgres = new Map<number, number>();
	if (server.postgresDatabase) {
		for (const pid of postgresBackendPids(server.postgresDatabase)) postgres.set(pid, cpuSeconds(pid) ?? 0);
	}
	const usage = process.cpuUsage();
	return {
		at: performance.now(),
		server: serverCpuSeconds(server),
		workers: workers.reduce((sum, w) => sum + (cpuSeconds(w.pid) ?? 0), 0),
		postgres,
		orchestrator: (usage.user + usage.system) / 1e6,
		machineBusy: machineCpu().busySeconds
	};
}

/** CPU used between two snapshots, in % of one core (the machine has 100 % × cores). */
function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): PhaseReport['cpu'] {
	const seconds = (after.at - before.at) / 1000;
	const pct = (cpuSecondsUsed: number) => Math.round((cpuSecondsUsed / seconds) * 1000) / 10;
	let postgresUsed = 0;
	for (const [pid, end] of after.postgres) postgresUsed += end - (before.postgres.get(pid) ?? 0);
	const server = after.server - before.server;
	const workers = after.workers - before.workers;
	const orchestrator = after.orchestrator - before.orchestrator;
	const busy = after.machineBusy - before.machineBusy;
	return {
		serverPct: pct(server),
		loadGeneratorPct: pct(workers + orchestrator),
		postgresPct: pct(postgresUsed),
		machineBusyPct: pct(busy),
		otherPct: pct(Math.max(0, busy - server - workers - orchestrator - postgresUsed))
	};
}

function mergeChecks(checks: DeliveryCheck[]): DeliveryCheck {
	const merged: DeliveryCheck = { messages: 0, expected: 0, delivered: 0, missing: 0, duplicates: 0, reordered: 0, seqGaps: 0, late: 0, errors: {}, acks: 0, acksMissing: 0 };
	for (const check of checks) {
		for (const key of ['messages', 'expected', 'delivered', 'missing', 'duplicates', 'reordered', 'seqGaps', 'late', 'acks', 'acksMissing'] as const) {
			merged[key] += check[key];
		}
		for (const [code, count] of Object.entries(check.errors)) merged.errors[code] = (merged.errors[code] ?? 0) + count;
	}
	return merged;
}

function mergePhase(results: PhaseResult[], cpu: PhaseReport['cpu'], details: Pick<PhaseReport, 'kind' | 'offeredMessagesPerSecond' | 'inflightPerGroup'>): PhaseReport {
	const histogram = (pick: (r: PhaseResult) => PhaseResult['latency']) => {
		const merged = new Histogram();
		for (const result of results) merged.merge(Histogram.fromJSON(pick(result)));
		return merged.summary();
	};
	const windowMs = Math.max(...results.map((r) => r.windowMs));
	const perSecond: number[] = [];
	for (const result of results) result.perSecond.forEach((count, i) => (perSecond[i] = (perSecond[i] ?? 0) + count));
	const sent = results.reduce((sum, r) => sum + r.sent, 0);
	const deliveries = results.reduce((sum, r) => sum + r.deliveries, 0);
	return {
		...details,
		windowMs,
		sent,
		deliveries,
		messagesPerSecond: sent / (windowMs / 1000),
		deliveriesPerSecond: deliveries / (windowMs / 1000),
		perSecond,
		latencyMs: histogram((r) => r.latency),
		ackMs: histogram((r) => r.ack),
		sendLagMs: histogram((r) => r.sendLag),
		check: mergeChecks(results.map((r) => r.check)),
		cpu
	};
}

async function runPhase(
	server: RunningServer,
	workers: Worker[],
	start: (worker: Worker, share: number) => ParentToWorker,
	shares: number[],
	warmupMs: number,
	windowMs: number,
	details: Pick<PhaseReport, 'kind' | 'offeredMessagesPerSecond' | 'inflightPerGroup'>
): Promise<{ report: PhaseReport; statuses: WorkerStatus[] }> {
	workers.forEach((worker, i) => worker.send(start(worker, shares[i]!)));
	await sleep(warmupMs);
	for (const worker of workers) worker.send({ cmd: 'measure' });
	const before = cpuSnapshot(server, workers);
	await sleep(windowMs);
	const after = cpuSnapshot(server, workers);
	const replies = await Promise.all(workers.map((w) => w.request({ cmd: 'finish', drainTimeoutMs: DRAIN_TIMEOUT_MS }, 'phase')));
	return {
		report: mergePhase(replies.map((r) => r.result), cpuBetween(before, after), details),
		statuses: replies.map((r) => r.status)
	};
}

function mergeStorms(results: StormResult[]): Omit<NonNullable<TargetReport['storm']>, 'serverCpuSeconds'> {
	const backAfter = new Histogram();
	const failures: Record<string, number> = {};
	for (const result of results) {
		backAfter.merge(Histogram.fromJSON(result.backAfter));
		for (const [why, count] of Object.entries(result.failures)) failures[why] = (failures[why] ?? 0) + count;
	}
	const sum = (key: 'clients' | 'back' | 'sent' | 'acked' | 'expectedEvents' | 'missingEvents' | 'duplicateEvents' | 'overlapEvents' | 'replayedEvents') =>
		results.reduce((total, result) => total + result[key], 0);
	return {
		clients: sum('clients'),
		back: sum('back'),
		failures,
		ms: Math.max(...results.map((r) => r.ms)),
		backAfterMs: backAfter.summary(),
		sent: sum('sent'),
		acked: sum('acked'),
		expectedEvents: sum('expectedEvents'),
		missingEvents: sum('missingEvents'),
		duplicateEvents: sum('duplicateEvents'),
		overlapEvents: sum('overlapEvents'),
		replayedEvents: sum('replayedEvents')
	};
}

function mergeStatuses(statuses: WorkerStatus[]): WorkerStatus {
	const merged: WorkerStatus = { ready: 0, drops: 0, dropReasons: {}, socketErrors: 0 };
	for (const status of statuses) {
		merged.ready += status.ready;
		merged.drops += status.drops;
		merged.socketErrors += status.socketErrors;
		for (const [reason, count] of Object.entries(status.dropReasons)) merged.dropReasons[reason] = (merged.dropReasons[reason] ?? 0) + count;
	}
	return merged;
}

async function measureTarget(server: RunningServer, options: BenchOptions): Promise<TargetReport> {
	const rss = new RssSampler(server.pid, RSS_SAMPLE_MS);
	// Start-up garbage (migrations, module loading) is collected in the first seconds; reading the
	// idle size right away would make it look larger than the connected one.
	await sleep(SETTLE_MS);
	const idleBytes = rss.sample() ?? 0;
	const shares = assignGroups(server.groups, options.workers);
	const workers = shares.map(() => new Worker());
	try {
		const cpuBeforeConnect = serverCpuSeconds(server);
		log(`  connecting ${options.connections} clients in ${server.groups.length} groups (${workers.length} load worker${workers.length > 1 ? 's' : ''}), in two halves…`);
		// Two halves, memory read after each. The first connections also grow V8's young generation
		// to its working size under the allocation rate of connecting (~30 MB, the same for 500 or
		// 50,000 sockets, bare ws included: bench/README.md); the second half's growth is what one
		// more connection costs.
		const firstHalf = await Promise.all(
			workers.map((worker, i) =>
				worker.request(
					{
						cmd: 'connect',
						plan: {
							target: server.label.startsWith('hearth') ? 'hearth' : 'baseline',
							wsUrl: server.wsUrl,
							...(server.wsUrls ? { wsUrls: server.wsUrls } : {}),
							...(server.origin ? { origin: server.origin } : {}),
							groups: shares[i]!,
							payloadBytes: options.payloadBytes,
							connectConcurrency: CONNECT_CONCURRENCY,
							connectTimeoutMs: CONNECT_TIMEOUT_MS
						},
						firstGroups: Math.ceil(shares[i]!.length / 2)
					},
					'connected'
				)
			)
		);
		const cpuFirstHalf = serverCpuSeconds(server) - cpuBeforeConnect;
		await sleep(SETTLE_MS);
		const halfReady = firstHalf.reduce((sum, c) => sum + c.result.ready, 0);
		const halfBytes = rss.sample() ?? 0;
		const cpuBeforeRest = serverCpuSeconds(server);
		const rest = await Promise.all(workers.map((worker) => worker.request({ cmd: 'connect-rest' }, 'connected')));
		const connects = [...firstHalf, ...rest];
		const connect: TargetReport['connect'] = {
			ready: rest.reduce((sum, c) => sum + c.result.ready, 0),
			failed: connects.reduce((sum, c) => sum + c.result.failed, 0),
			failures: {},
			ms: Math.max(...firstHalf.map((c) => c.result.ms)) + Math.max(...rest.map((c) => c.result.ms)),
			serverCpuSeconds: Math.round((cpuFirstHalf + serverCpuSeconds(server) - cpuBeforeRest) * 100) / 100
		};
		for (const { result } of connects) {
			for (const [why, count] of Object.entries(result.failures)) connect.failures[why] = (connect.failures[why] ?? 0) + count;
		}
		log(`  ${connect.ready} ready, ${connect.failed} failed, in ${(connect.ms / 1000).toFixed(1)} s`);
		await sleep(SETTLE_MS);
		const connectedBytes = rss.sample() ?? 0;

		// A worker's share of the fixed rate follows its share of the groups (each group gets the same rate).
		const groupCount = server.groups.length;
		const rateShares = shares.map((share) => (options.rate * share.length) / groupCount);
		log(`  fixed rate: ${options.rate} messages/s for ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s measured…`);
		const fixed = await runPhase(
			server,
			workers,
			(_worker, share) => ({ cmd: 'open-loop', messagesPerSecond: share }),
			rateShares,
			options.warmupSeconds * 1000,
			options.durationSeconds * 1000,
			{ kind: 'fixed-rate', offeredMessagesPerSecond: options.rate }
		);
		log(`  → ${Math.round(fixed.report.deliveriesPerSecond)} deliveries/s, p99 ${fixed.report.latencyMs.p99.toFixed(1)} ms`);
		let statuses = fixed.statuses;

		let saturation: PhaseReport | undefined;
		if (options.maxSeconds > 0) {
			log(`  saturation: ${options.maxInflight} messages in flight per group for ${options.maxSeconds} s…`);
			const max = await runPhase(
				server,
				workers,
				() => ({ cmd: 'closed-loop', inflightPerGroup: options.maxInflight }),
				shares.map(() => 0),
				SATURATION_WARMUP_MS,
				options.maxSeconds * 1000,
				{ kind: 'saturation', inflightPerGroup: options.maxInflight }
			);
			saturation = max.report;
			statuses = max.statuses;
			log(`  → ${Math.round(saturation.deliveriesPerSecond)} deliveries/s, p99 ${saturation.latencyMs.p99.toFixed(1)} ms`);
		}
		const held = mergeStatuses(statuses);

		let storm: TargetReport['storm'];
		if (options.stormRate >= 0) {
			log(`  reconnect storm: every socket cut at once; all reconnect${server.label.startsWith('hearth') ? ' and resume' : ''} while ${options.stormRate} messages/s go on…`);
			const cpuBefore = serverCpuSeconds(server);
			const rateShares = shares.map((share) => (options.stormRate * share.length) / server.groups.length);
			const replies = await Promise.all(
				workers.map((worker, i) => worker.request({ cmd: 'storm', messagesPerSecond: rateShares[i]!, drainTimeoutMs: DRAIN_TIMEOUT_MS }, 'stormed'))
			);
			storm = { ...mergeStorms(replies.map((r) => r.result)), serverCpuSeconds: Math.round((serverCpuSeconds(server) - cpuBefore) * 100) / 100 };
			log(`  → ${storm.back} of ${storm.clients} back in ${(storm.ms / 1000).toFixed(1)} s; ${storm.sent} sent meanwhile (${storm.acked} acked); ${storm.replayedEvents} events replayed, ${storm.missingEvents} missed`);
		}
		const peakBytes = rss.peak;

		const closed = await Promise.all(workers.map((w) => w.request({ cmd: 'close' }, 'closed')));
		const final = mergeStatuses(closed.map((c) => c.status));
		return {
			label: server.label,
			connections: options.connections,
			connect,
			held: { readyAtEnd: held.ready, drops: final.drops, dropReasons: final.dropReasons, socketErrors: final.socketErrors },
			memory: {
				idleBytes,
				connectedBytes,
				peakBytes,
				halfConnectedBytes: halfBytes,
				perConnectionBytes: connect.ready > halfReady ? Math.round((connectedBytes - halfBytes) / (connect.ready - halfReady)) : 0,
				growthPerConnectionBytes: connect.ready > 0 ? Math.round((connectedBytes - idleBytes) / connect.ready) : 0,
				samples: rss.samples
			},
			fixed: fixed.report,
			...(saturation ? { saturation } : {}),
			...(storm ? { storm } : {}),
			serverLog: { lines: server.logLines(), first: server.log.slice() }
		};
	} finally {
		rss.stop();
		for (const worker of workers) if (worker.child.connected) worker.child.kill();
	}
}

// --- main ------------------------------------------------------------------------------------

function preflight(options: BenchOptions) {
	const files = openFileLimit();
	// The server holds one descriptor per connection (workers fewer), plus some for itself.
	if (files !== null && files < options.connections + 1000) {
		throw new Error(`The open-file limit is ${files}; ${options.connections} connections need about ${options.connections + 1000}. Raise it first: ulimit -n ${options.connections + 2000}`);
	}
	const ports = ephemeralPortCount();
	if (ports !== null && ports < options.connections + 1000) {
		throw new Error(`Only ${ports} local ports for outgoing connections (net.ipv4.ip_local_port_range); ${options.connections} clients need more.`);
	}
}

async function main() {
	let options: BenchOptions | 'help';
	try {
		options = parseOptions(process.argv.slice(2));
	} catch (error) {
		console.error(`${(error as Error).message}\n\n${USAGE}`);
		process.exit(2);
	}
	if (options === 'help') {
		console.log(USAGE);
		return;
	}
	preflight(options);
	const startedAt = new Date();
	const loadBefore = loadAverage();
	const sizes = groupSizes(options.connections, options.groupSize);
	log(`Hearth bench: ${options.connections} connections, ${sizes.length} groups of ≤${options.groupSize}, ${options.rate} messages/s, payload ${options.payloadBytes} B, engine ${options.engine}`);
	log(`load average before: ${loadBefore.join(' ')}`);

	const targets: TargetReport[] = [];
	// --nodes N measures Hearth twice: one node, then N nodes on one PostgreSQL and one Redis.
	const runs = options.targets.flatMap((target) => (target === 'hearth' && options.nodes > 1 ? [{ target, nodes: 1 }, { target, nodes: options.nodes }] : [{ target, nodes: 1 }]));
	for (const { target, nodes } of runs) {
		log(`\n${target}${nodes > 1 ? ` (${nodes} nodes)` : ''}: starting server…`);
		const server = target === 'baseline' ? await startBaseline(sizes) : await startHearth(options, { nodes });
		try {
			targets.push(await measureTarget(server, options));
		} finally {
			await server.stop();
		}
	}

	const cpuList = cpus();
	const report: BenchReport = {
		startedAt: startedAt.toISOString(),
		options: { ...options },
		machine: {
			cores: cpuList.length,
			cpuModel: cpuList[0]?.model ?? 'unknown',
			memoryBytes: totalmem(),
			kernel: release(),
			node: process.version,
			loadAverageBefore: loadBefore,
			loadAverageAfter: loadAverage()
		},
		targets
	};
	report.verdicts = computeVerdicts(report);
	const text = printReport(report);
	console.log(text);
	const outDir = resolve(ROOT, options.outDir);
	mkdirSync(outDir, { recursive: true });
	const file = join(outDir, `${startedAt.toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`);
	writeFileSync(file, `${JSON.stringify(report, null, '\t')}\n`);
	console.log(`Results written to ${file}`);
}

main().catch((error: unknown) => {
	console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
	process.exit(1);
});
