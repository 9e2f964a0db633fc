// Command-line options of `npm run bench` (node bench/run.ts), with the defaults the issue's
// targets call for: 5,000 connections held, 10,000 deliveries/s, on a 2-core machine.
import { parseArgs } from 'node:util';

export type Engine = 'pglite' | 'postgres';
export type Target = 'baseline' | 'hearth';

export type BenchOptions = {
	connections: number;
	groupSize: number;
	rate: number;
	warmupSeconds: number;
	durationSeconds: number;
	maxSeconds: number;
	maxInflight: number;
	/** Messages/s sent during the reconnect storm by the clients already back; -1: no storm. */
	stormRate: number;
	payloadBytes: number;
	engine: Engine;
	pgUrl: string;
	targets: Target[];
	workers: number;
	/** Cluster: Hearth is measured a second time as this many nodes on one PostgreSQL and one Redis. */
	nodes: number;
	serverNodeArgs: string[];
	outDir: string;
	keepData: boolean;
};

export const USAGE = `Usage: node bench/run.ts [options]   (or: npm run bench -- [options])

Runs the bare ws baseline and Hearth one after the other under the same load, then prints a
table and writes bench/results/<timestamp>.json.

  --connections N      WebSocket clients held open, each its own user         (default 5000)
  --group-size N       members per community/channel (baseline: per group)     (default 50)
  --rate N             messages per second sent across all clients in the
                       fixed-rate phase; deliveries/s = rate x group size      (default 200)
  --warmup S           seconds of fixed-rate load before measuring             (default 5)
  --duration S         measured seconds of the fixed-rate phase                (default 30)
  --max-seconds S      measured seconds of the saturation phase, 0 to skip     (default 10)
  --max-inflight N     saturation phase: messages in flight per group          (default 4)
  --storm-rate N       reconnect storm (every socket cut at once, all reconnect
                       and resume): messages/s the clients already back send
                       meanwhile; off to skip the storm                        (default 200)
  --payload-bytes N    message payload size                                    (default 256)
  --engine E           pglite | postgres                                       (default pglite)
  --pg-url URL         PostgreSQL server to create the hearth_bench database on
                       (default postgres://hearth_test:hearth_test@127.0.0.1:5432/postgres)
  --targets LIST       baseline,hearth or just one of them                     (default both)
  --workers N          load-generator processes                                (default 1)
  --nodes N            also measure Hearth as N cluster nodes on one PostgreSQL
                       and one Redis (needs --engine postgres and redis-server,
                       or TEST_REDIS_SERVER_BIN)                               (default 1)
  --server-node-args=A extra node flags for the Hearth server (note the =),
                       e.g. --server-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"
  --out DIR            where results go                                        (default bench/results)
  --keep-data          keep the seeded PGlite folder / PostgreSQL database
`;

function positiveInteger(name: string, raw: string | undefined, fallback: number, min = 1): number {
	if (raw === undefined) return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got "${raw}"`);
	return value;
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
	const { values } = parseArgs({
		args: argv,
		strict: true,
		options: {
			connections: { type: 'string' },
			'group-size': { type: 'string' },
			rate: { type: 'string' },
			warmup: { type: 'string' },
			duration: { type: 'string' },
			'max-seconds': { type: 'string' },
			'max-inflight': { type: 'string' },
			'storm-rate': { type: 'string' },
			'payload-bytes': { type: 'string' },
			engine: { type: 'string' },
			'pg-url': { type: 'string' },
			targets: { type: 'string' },
			workers: { type: 'string' },
			nodes: { type: 'string' },
			'server-node-args': { type: 'string' },
			out: { type: 'string' },
			'keep-data': { type: 'boolean' },
			help: { type: 'boolean', short: 'h' }
		}
	});
	if (values.help) return 'help';
	const engine = values.engine ?? 'pglite';
	if (engine !== 'pglite' && engine !== 'postgres') throw new Error(`--engine must be pglite or postgres, got "${engine}"`);
	const targets = (values.targets ?? 'baseline,hearth').split(',').map((t) => t.trim());
	for (const target of targets) {
		if (target !== 'baseline' && target !== 'hearth') throw new Error(`--targets takes baseline and/or hearth, got "${target}"`);
	}
	const options: BenchOptions = {
		connections: positiveInteger('connections', values.connections, 5000),
		// 50 members: a busy community channel; with 5,000 clients that is 100 channels.
		groupSize: positiveInteger('group-size', values['group-size'], 50),
		// 200 messages/s × 50 members = the 10,000 deliveries/s.
		rate: positiveInteger('rate', values.rate, 200),
		// Long enough for JIT, pools and caches to settle before anything is counted.
		warmupSeconds: positiveInteger('warmup', values.warmup, 5, 0),
		durationSeconds: positiveInteger('duration', values.duration, 30),
		maxSeconds: positiveInteger('max-seconds', values['max-seconds'], 10, 0),
		// 4 per group keeps the server busy (group commit sees batches) without queueing so much
		// that the run measures queue length instead of throughput; see bench/README.md.
		maxInflight: positiveInteger('max-inflight', values['max-inflight'], 4),
		// The fixed rate goes on through the storm: the clients still away have something to resume.
		stormRate: values['storm-rate'] === 'off' ? -1 : positiveInteger('storm-rate', values['storm-rate'], 200, 0),
		// A short chat message once end-to-end encrypted and base64-encoded is a few hundred bytes.
		payloadBytes: positiveInteger('payload-bytes', values['payload-bytes'], 256, 32),
		engine,
		pgUrl: values['pg-url'] ?? 'postgres://hearth_test:hearth_test@127.0.0.1:5432/postgres',
		targets: targets as Target[],
		workers: positiveInteger('workers', values.workers, 1),
		nodes: positiveInteger('nodes', values.nodes, 1),
		serverNodeArgs: (values['server-node-args'] ?? '').split(/\s+/).filter(Boolean),
		outDir: values.out ?? 'bench/results',
		keepData: values['keep-data'] ?? false
	};
	if (options.groupSize > options.connections) throw new Error('--group-size cannot exceed --connections');
	if (options.nodes > 1 && options.engine !== 'postgres') throw new Error('--nodes needs --engine postgres: cluster mode refuses the embedded PGlite database');
	return options;
}

/** Members per group: consecutive clients fill groups of `groupSize`; the last one may be smaller. */
export function groupSizes(connections: number, groupSize: number): number[] {
	const sizes: number[] = [];
	for (let left = connections; left > 0; left -= groupSize) sizes.push(Math.min(groupSize, left));
	return sizes;
}
