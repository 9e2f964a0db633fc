// The bench report: its JSON shape (written to bench/results/) and the table printed at the end,
// with the issue's targets checked against the figures.
import type { Summary } from './histogram.ts';
import type { ConnectResult, DeliveryCheck, StormResult } from './ipc.ts';
import type { BenchOptions } from './options.ts';

export type PhaseReport = {
	kind: 'fixed-rate' | 'saturation';
	offeredMessagesPerSecond?: number;
	inflightPerGroup?: number;
	windowMs: number;
	sent: number;
	deliveries: number;
	messagesPerSecond: number;
	deliveriesPerSecond: number;
	perSecond: number[];
	latencyMs: Summary;
	ackMs: Summary;
	sendLagMs: Summary;
	check: DeliveryCheck;
	/** % of one core over the measured window (the machine has 100 % per core). */
	cpu: { serverPct: number; loadGeneratorPct: number; postgresPct: number; machineBusyPct: number; otherPct: number };
};

export type TargetReport = {
	label: string;
	connections: number;
	/** serverCpuSeconds: what the server spent accepting them (upgrade, session, subscriptions). */
	connect: ConnectResult & { serverCpuSeconds: number };
	held: { readyAtEnd: number; drops: number; dropReasons: Record<string, number>; socketErrors: number };
	memory: {
		idleBytes: number;
		/** After the first half of the clients connected (see perConnectionBytes). */
		halfConnectedBytes: number;
		connectedBytes: number;
		peakBytes: number;
		/** What one more connection costs: (connected − half connected) / the second half's clients. */
		perConnectionBytes: number;
		/** (connected − idle) / clients: also holds the young generation's growth while connecting, a fixed ~30 MB. */
		growthPerConnectionBytes: number;
		samples: Array<{ atMs: number; rssBytes: number }>;
	};
	fixed: PhaseReport;
	saturation?: PhaseReport;
	/** Reconnect storm: every socket cut at once, all back (and resumed) together. */
	storm?: Omit<StormResult, 'backAfter'> & { backAfterMs: Summary; serverCpuSeconds: number };
	serverLog: { lines: number; first: string[] };
};

export type Verdict = { target: string; pass: boolean; detail: string; note?: string };

export type BenchReport = {
	startedAt: string;
	options: BenchOptions;
	machine: {
		cores: number;
		cpuModel: string;
		memoryBytes: number;
		kernel: string;
		node: string;
		loadAverageBefore: number[];
		loadAverageAfter: number[];
	};
	targets: TargetReport[];
	verdicts?: Verdict[];
};

// The issues' targets for this 2-core machine (issue 16: performance).
const TARGET_CONNECTIONS = 5_000;
const TARGET_DELIVERIES_PER_SECOND = 10_000;
const TARGET_P99_MS = 10;
const TARGET_BASELINE_SHARE = 0.85;
const TARGET_CPU_PER_DELIVERY_FACTOR = 3;
const TARGET_CONNECT_CPU_MS = 0.5;
const TARGET_STORM_MS = 5_000;
const TARGET_IDLE_RSS_BYTES = { pglite: 300 * 1024 * 1024, postgres: 150 * 1024 * 1024 } as const;
const TARGET_PER_CONNECTION_BYTES = 8 * 1024;
const TARGET_CLUSTER_P99_MS = 100;
const TARGET_CLUSTER_CPU_FACTOR = 2;
// A process using this much of one core during saturation is the side that limits throughput.
const SATURATED_PCT = 90;
// % of one core used by other processes above which the report warns that the machine was busy.
const BUSY_MACHINE_PCT = 25;
// A window's edges cut off a few in-flight messages: 1 % under the offered rate still "keeps up".
const KEEPS_UP = 0.99;

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const ms = (n: number) => (!Number.isFinite(n) ? '—' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toString());
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const pct = (n: number) => `${n.toFixed(0)}%`;

/** µs of server CPU (PostgreSQL's included) per delivery over a phase's window. */
export function cpuPerDelivery(phase: PhaseReport): number {
	const cpuShare = (phase.cpu.serverPct + phase.cpu.postgresPct) / 100;
	return phase.deliveriesPerSecond > 0 ? (cpuShare / phase.deliveriesPerSecond) * 1e6 : Number.NaN;
}

/** Which side limited a saturation phase: the one using (nearly) all of its cores. */
function saturatedSide(phase: PhaseReport, workers: number): string {
	const server = phase.cpu.serverPct >= SATURATED_PCT;
	const loadGenerator = phase.cpu.loadGeneratorPct >= SATURATED_PCT * workers;
	if (server && !loadGenerator) return 'server';
	if (loadGenerator && !server) return 'load generator';
	if (server && loadGenerator) return 'both';
	return 'neither (the machine?)';
}

export function checkPassed(check: DeliveryCheck): boolean {
	return (
		check.missing === 0 &&
		check.duplicates === 0 &&
		check.reordered === 0 &&
		check.seqGaps === 0 &&
		check.acksMissing === 0 &&
		check.delivered - check.late === check.expected &&
		Object.keys(check.errors).length === 0
	);
}

function describeCheck(check: DeliveryCheck): string {
	if (checkPassed(check)) return `exactly once (${int(check.delivered)} of ${int(check.messages)} msgs)`;
	const problems = [
		check.missing && `${int(check.missing)} missing`,
		check.duplicates && `${int(check.duplicates)} dup`,
		check.reordered && `${int(check.reordered)} reordered`,
		check.seqGaps && `${int(check.seqGaps)} seq gaps`,
		check.acksMissing && `${int(check.acksMissing)} unacked`,
		...Object.entries(check.errors).map(([code, count]) => `${count}× error ${code}`)
	].filter(Boolean);
	return `FAILED: ${problems.join(', ') || `${int(check.delivered)} of ${int(check.expected)} delivered`}`;
}

function cpuLine(phase: PhaseReport): string {
	const c = phase.cpu;
	return `${pct(c.serverPct)} / ${pct(c.loadGeneratorPct)} / ${c.postgresPct ? pct(c.postgresPct) : '—'} / ${pct(c.otherPct)}`;
}

function phaseRows(phases: Array<PhaseReport | undefined>): string[][] {
	const cell = (f: (p: PhaseReport) => string) => phases.map((p) => (p ? f(p) : '—'));
	const hasAcks = phases.some((p) => p && p.ackMs.count > 0);
	return [
		['  messages/s sent', ...cell((p) => int(p.messagesPerSecond))],
		['  deliveries/s', ...cell((p) => int(p.deliveriesPerSecond))],
		['  slowest / fastest second', ...cell((p) => (p.perSecond.length ? `${int(Math.min(...p.perSecond))} / ${int(Math.max(...p.perSecond))}` : '—'))],
		['  latency p50/p95/p99/max ms', ...cell((p) => `${ms(p.latencyMs.p50)} / ${ms(p.latencyMs.p95)} / ${ms(p.latencyMs.p99)} / ${ms(p.latencyMs.max)}`)],
		...(hasAcks ? [['  ack (durable) p50/p99 ms', ...cell((p) => (p.ackMs.count ? `${ms(p.ackMs.p50)} / ${ms(p.ackMs.p99)}` : '—'))]] : []),
		...(phases.some((p) => p?.kind === 'fixed-rate') ? [['  sender schedule lag p99 ms', ...cell((p) => ms(p.sendLagMs.p99))]] : []),
		['  CPU server/loadgen/pg/other', ...cell(cpuLine)],
		['  server CPU per delivery', ...cell((p) => `${cpuPerDelivery(p).toFixed(1)} µs`)],
		['  delivery check', ...cell((p) => describeCheck(p.check))]
	];
}

function table(rows: string[][]): string {
	const widths: number[] = [];
	for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
	return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('   ').trimEnd()).join('\n');
}

export function computeVerdicts(report: BenchReport): Verdict[] {
	const hearth = report.targets.find((t) => t.label.startsWith('hearth'));
	const baseline = report.targets.find((t) => t.label.startsWith('baseline'));
	if (!hearth) return [];
	const options = report.options;
	const verdicts: Verdict[] = [];
	const smaller = (what: string) => `this run used ${what}; the issue's target needs the default configuration`;

	const held = hearth.connect.ready === hearth.connections && hearth.held.drops === 0 && hearth.held.readyAtEnd === hearth.connections;
	verdicts.push({
		target: `${int(TARGET_CONNECTIONS)} concurrent connections held`,
		pass: held && hearth.connections >= TARGET_CONNECTIONS,
		detail: `${int(hearth.connect.ready)}/${int(hearth.connections)} ready, ${int(hearth.held.readyAtEnd)} still open at the end, ${hearth.held.drops} dropped`,
		...(hearth.connections < TARGET_CONNECTIONS ? { note: smaller(`${int(hearth.connections)} connections`) } : {})
	});

	const fixed = hearth.fixed;
	const offered = options.rate * options.groupSize;
	const keptUp = fixed.deliveriesPerSecond >= offered * KEEPS_UP && checkPassed(fixed.check);
	verdicts.push({
		target: `${int(TARGET_DELIVERIES_PER_SECOND)} deliveries/s with p99 < ${TARGET_P99_MS} ms`,
		pass: keptUp && fixed.latencyMs.p99 < TARGET_P99_MS && offered >= TARGET_DELIVERIES_PER_SECOND,
		detail: `${int(fixed.deliveriesPerSecond)} deliveries/s of ${int(offered)} offered, p99 ${ms(fixed.latencyMs.p99)} ms, ${checkPassed(fixed.check) ? 'all delivered exactly once' : 'delivery check failed'}`,
		...(offered < TARGET_DELIVERIES_PER_SECOND ? { note: smaller(`${int(offered)} deliveries/s offered`) } : {})
	});

	if (baseline) {
		const ratio = cpuPerDelivery(hearth.fixed) / cpuPerDelivery(baseline.fixed);
		verdicts.push({
			target: `server CPU per delivery at the fixed rate at most ${TARGET_CPU_PER_DELIVERY_FACTOR}× the baseline's`,
			pass: ratio <= TARGET_CPU_PER_DELIVERY_FACTOR,
			detail: `${cpuPerDelivery(hearth.fixed).toFixed(1)} vs ${cpuPerDelivery(baseline.fixed).toFixed(1)} µs per delivery (${ratio.toFixed(1)}×)`
		});
	}

	if (baseline?.saturation && hearth.saturation) {
		const ratio = hearth.saturation.deliveriesPerSecond / baseline.saturation.deliveriesPerSecond;
		const sides = `saturated: baseline ${saturatedSide(baseline.saturation, options.workers)}, hearth ${saturatedSide(hearth.saturation, options.workers)}`;
		verdicts.push({
			target: `throughput at saturation at least ${TARGET_BASELINE_SHARE}× the bare baseline's`,
			pass: ratio >= TARGET_BASELINE_SHARE && checkPassed(hearth.saturation.check),
			detail: `${int(hearth.saturation.deliveriesPerSecond)} vs ${int(baseline.saturation.deliveriesPerSecond)} deliveries/s (${ratio.toFixed(2)}×; ${sides})`
		});
	}

	const connectMs = (hearth.connect.serverCpuSeconds * 1000) / Math.max(1, hearth.connect.ready);
	verdicts.push({
		target: `connecting at most ${TARGET_CONNECT_CPU_MS} ms of server CPU per connection`,
		pass: connectMs <= TARGET_CONNECT_CPU_MS && hearth.connect.ready === hearth.connections,
		detail: `${connectMs.toFixed(2)} ms (${hearth.connect.serverCpuSeconds.toFixed(1)} s for ${int(hearth.connect.ready)})`
	});

	if (hearth.storm) {
		const storm = hearth.storm;
		verdicts.push({
			target: `reconnect storm: all ${int(storm.clients)} back and resumed within ${TARGET_STORM_MS / 1000} s, nothing missed`,
			pass: storm.back === storm.clients && storm.ms <= TARGET_STORM_MS && storm.missingEvents === 0 && storm.duplicateEvents === 0,
			detail: `${int(storm.back)} back in ${(storm.ms / 1000).toFixed(1)} s, ${int(storm.replayedEvents)} events replayed, ${int(storm.missingEvents)} missed, ${int(storm.duplicateEvents)} twice`
		});
	}

	// Issue 11: the cluster beside one node, in the same run.
	const cluster = report.targets.find((t) => / nodes\)$/.test(t.label));
	if (cluster) {
		const clusterFixed = cluster.fixed;
		verdicts.push({
			target: `cluster: ${int(TARGET_DELIVERIES_PER_SECOND)} deliveries/s with p99 < ${TARGET_CLUSTER_P99_MS} ms, every message exactly once`,
			pass: clusterFixed.deliveriesPerSecond >= offered * KEEPS_UP && checkPassed(clusterFixed.check) && clusterFixed.latencyMs.p99 < TARGET_CLUSTER_P99_MS,
			detail: `${int(clusterFixed.deliveriesPerSecond)} deliveries/s, p99 ${ms(clusterFixed.latencyMs.p99)} ms, ${describeCheck(clusterFixed.check)}`
		});
		const ratio = cpuPerDelivery(clusterFixed) / cpuPerDelivery(hearth.fixed);
		verdicts.push({
			target: `cluster CPU per delivery (all nodes, Redis and PostgreSQL) at most ${TARGET_CLUSTER_CPU_FACTOR}× one node's`,
			pass: ratio <= TARGET_CLUSTER_CPU_FACTOR,
			detail: `${cpuPerDelivery(clusterFixed).toFixed(1)} vs ${cpuPerDelivery(hearth.fixed).toFixed(1)} µs per delivery (${ratio.toFixed(2)}×)`
		});
	}

	const idleTarget = TARGET_IDLE_RSS_BYTES[options.engine];
	verdicts.push({
		target: `memory: idle under ${mb(idleTarget)} (${options.engine}), under ${TARGET_PER_CONNECTION_BYTES / 1024} kB per connection`,
		pass: hearth.memory.idleBytes < idleTarget && hearth.memory.perConnectionBytes < TARGET_PER_CONNECTION_BYTES,
		detail: `idle ${mb(hearth.memory.idleBytes)}, ${(hearth.memory.perConnectionBytes / 1024).toFixed(1)} kB per connection (second half; (connected − idle) / all: ${(hearth.memory.growthPerConnectionBytes / 1024).toFixed(1)} kB)`
	});
	return verdicts;
}

export function printReport(report: BenchReport): string {
	const o = report.options;
	const t = report.targets;
	const head = ['', ...t.map((x) => x.label)];
	const rows: string[][] = [
		head,
		['Connections'],
		['  ready / asked', ...t.map((x) => `${int(x.connect.ready)} / ${int(x.connections)}`)],
		['  time to connect all (server CPU)', ...t.map((x) => `${(x.connect.ms / 1000).toFixed(1)} s (${x.connect.serverCpuSeconds.toFixed(1)} s)`)],
		['  server CPU per connection', ...t.map((x) => `${((x.connect.serverCpuSeconds * 1000) / Math.max(1, x.connect.ready)).toFixed(2)} ms`)],
		['  open at end / dropped', ...t.map((x) => `${int(x.held.readyAtEnd)} / ${int(x.held.drops)}`)],
		[`Fixed rate: ${int(o.rate)} msg/s × ${o.groupSize} members, ${o.durationSeconds} s window`],
		...phaseRows(t.map((x) => x.fixed)),
		...(o.maxSeconds > 0 ? [[`Saturation: ${o.maxInflight} msgs in flight per group, ${o.maxSeconds} s window`], ...phaseRows(t.map((x) => x.saturation))] : []),
		...(t.some((x) => x.storm)
			? [
					[`Reconnect storm: every socket cut at once, ${o.stormRate} msg/s meanwhile`],
					['  back / clients', ...t.map((x) => (x.storm ? `${int(x.storm.back)} / ${int(x.storm.clients)}` : '—'))],
					['  all back in (server CPU)', ...t.map((x) => (x.storm ? `${(x.storm.ms / 1000).toFixed(1)} s (${x.storm.serverCpuSeconds.toFixed(1)} s)` : '—'))],
					['  back after p50/p99 ms', ...t.map((x) => (x.storm ? `${ms(x.storm.backAfterMs.p50)} / ${ms(x.storm.backAfterMs.p99)}` : '—'))],
					['  events replayed / missed / twice', ...t.map((x) => (x.storm && x.label.startsWith('hearth') ? `${int(x.storm.replayedEvents)} / ${int(x.storm.missingEvents)} / ${int(x.storm.duplicateEvents)}` : '—'))],
					['  live and replayed (resume overlap)', ...t.map((x) => (x.storm && x.label.startsWith('hearth') ? int(x.storm.overlapEvents) : '—'))]
				]
			: []),
		['Server memory (RSS)'],
		['  idle / half / all connected / peak (a cluster: its first node)', ...t.map((x) => `${mb(x.memory.idleBytes)} / ${mb(x.memory.halfConnectedBytes)} / ${mb(x.memory.connectedBytes)} / ${mb(x.memory.peakBytes)}`)],
		// Garbage collection timing makes both approximate; see bench/README.md.
		['  per connection (second half)', ...t.map((x) => (x.memory.perConnectionBytes > 0 ? `${(x.memory.perConnectionBytes / 1024).toFixed(1)} kB` : '—'))],
		['  (connected − idle) / connections', ...t.map((x) => (x.memory.growthPerConnectionBytes > 0 ? `${(x.memory.growthPerConnectionBytes / 1024).toFixed(1)} kB` : '—'))],
		['Server log lines (warn+)', ...t.map((x) => int(x.serverLog.lines))]
	];
	const m = report.machine;
	const lines = [
		'',
		`Hearth bench, ${report.startedAt}: ${int(o.connections)} connections in groups of ${o.groupSize}, payload ${o.payloadBytes} B, engine ${o.engine}`,
		`Machine: ${m.cores} × ${m.cpuModel}, node ${m.node}, load average before ${m.loadAverageBefore.join(' ')}, after ${m.loadAverageAfter.join(' ')}`,
		'',
		table(rows),
		''
	];
	// Other processes' CPU during the measured windows: beyond a quarter of a core, the figures say
	// more about the neighbours than about the servers.
	const busiest = Math.max(...t.flatMap((x) => [x.fixed, x.saturation].filter((p) => p !== undefined).map((p) => p.cpu.otherPct)));
	if (busiest > BUSY_MACHINE_PCT) {
		lines.push(`WARNING: other processes used up to ${pct(busiest)} of a core during the measured windows; rerun on a quiet machine for representative figures.`, '');
	}
	const verdicts = report.verdicts ?? [];
	if (verdicts.length) {
		lines.push('Targets (issue):');
		for (const v of verdicts) lines.push(`  [${v.pass ? 'PASS' : 'FAIL'}] ${v.target}: ${v.detail}${v.note ? ` (${v.note})` : ''}`);
		lines.push('');
	}
	return lines.join('\n');
}
