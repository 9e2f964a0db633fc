// Prometheus metrics (prom-client): one registry per application context, served at /metrics
// (server/metrics-endpoint.ts). Labels are low-cardinality by construction: route ids (never raw
// paths), HTTP methods and close codes from fixed sets, never user, channel or connection ids.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CloseCode } from '#lib/shared/protocol/codes.ts';

export type RateLimitScope = 'http' | 'auth' | 'ws';
export type FrameRejection = 'binary' | 'invalid' | 'rate_limited';
export type ThrottledAction = 'sign_in' | 'sign_up' | 'password_change' | 'second_factor';

/** What the metrics read from the realtime hub when scraped (it starts after the context). */
type RealtimeGauges = { connections(): number; onlineUsers(): number } | null;
/** What the metrics read from the call service when scraped. */
type CallGauges = {
	counts(): { calls: number; participants: number; producers: number; consumers: number };
	workerCpuSeconds(): Promise<{ worker: number; seconds: number }[]>;
	workerObjectCounts(): Promise<{ routers: number; transports: number; producers: number; consumers: number }>;
} | null;

/** What the metrics read from the cluster (cluster mode only; src/lib/server/cluster/cluster.ts). */
type ClusterGauges = {
	reachable: boolean;
	peers: string[];
	outbox: number;
	sequencer: { delivered: number; duplicates: number; gaps: number; backfilled: number; resyncs: number };
};

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
// A client chooses the code of a close it initiates (any of 1000-4999): only codes that mean
// something here become label values, so a hostile client cannot mint thousands of series.
const KNOWN_CLOSE_CODES = new Set<number>([1000, 1001, 1002, 1005, 1006, 1007, 1009, 1011, ...Object.values(CloseCode)]);
// Seconds. prom-client's defaults stop at 10 s; long polls do not exist here, and the sub-5 ms
// buckets separate cached reads from database work.
const HTTP_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
// Powers of two up to the event writer's MAX_BATCH (256): group commit's effect is visible as mass
// moving to the right under load.
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export class Metrics {
	readonly registry = new Registry();
	readonly #httpRequests: Counter<'method' | 'route' | 'status'>;
	readonly #httpDuration: Histogram<'method' | 'route'>;
	readonly #rateLimitRejections: Counter<'scope'>;
	readonly #wsCloses: Counter<'code'>;
	readonly #wsFramesRejected: Counter<'reason'>;
	readonly #messagesPersisted: Counter;
	readonly #eventBatchSize: Histogram;
	readonly #authThrottled: Counter<'action'>;

	constructor(options: { realtime: () => RealtimeGauges; calls?: () => CallGauges; cluster?: (() => ClusterGauges) | null }) {
		const registers = [this.registry];
		// Process and Node.js runtime metrics (CPU, memory, event-loop lag, GC) under their standard
		// names, so existing dashboards for Node services work unchanged.
		collectDefaultMetrics({ register: this.registry });

		this.#httpRequests = new Counter({
			name: 'hearth_http_requests_total',
			help: 'HTTP requests answered by the app, by method, route id and status.',
			labelNames: ['method', 'route', 'status'],
			registers
		});
		this.#httpDuration = new Histogram({
			name: 'hearth_http_request_duration_seconds',
			help: 'Time until the response headers were ready, by method and route id.',
			labelNames: ['method', 'route'],
			buckets: HTTP_DURATION_BUCKETS,
			registers
		});
		this.#rateLimitRejections = new Counter({
			name: 'hearth_rate_limit_rejections_total',
			help: 'Requests or frames refused by a rate limit: http (general API), auth (sign-in, sign-up, password, invites), ws (frames on a connection).',
			labelNames: ['scope'],
			registers
		});
		new Gauge({
			name: 'hearth_ws_connections_open',
			help: 'Open /ws connections.',
			registers,
			collect() {
				this.set(options.realtime()?.connections() ?? 0);
			}
		});
		new Gauge({
			name: 'hearth_ws_online_users',
			help: 'Accounts with at least one open /ws connection.',
			registers,
			collect() {
				this.set(options.realtime()?.onlineUsers() ?? 0);
			}
		});
		const calls = options.calls ?? (() => null);
		for (const [name, help, key] of [
			['hearth_calls_active', 'Calls (voice channels with a router) in progress.', 'calls'],
			['hearth_call_participants', 'Participants in calls (one per joined connection).', 'participants'],
			['hearth_call_producers', 'Media streams sent into calls (mic, camera, screen).', 'producers'],
			['hearth_call_consumers', 'Media streams forwarded to call participants.', 'consumers']
		] as const) {
			new Gauge({
				name,
				help,
				registers,
				collect() {
					this.set(calls()?.counts()[key] ?? 0);
				}
			});
		}
		// Only ever grows, like a counter, but it is read from the workers (getrusage), not counted here:
		// a gauge set on scrape. Use rate() on it as on process_cpu_seconds_total.
		new Gauge({
			name: 'hearth_call_worker_cpu_seconds',
			help: 'CPU time (user + system) each mediasoup worker process has used, by worker index.',
			labelNames: ['worker'],
			registers,
			async collect() {
				this.reset();
				for (const { worker, seconds } of (await calls()?.workerCpuSeconds()) ?? []) this.set({ worker: String(worker) }, seconds);
			}
		});
		// Read from the workers' own dumps, not from our bookkeeping: a leak in either shows here.
		new Gauge({
			name: 'hearth_call_worker_objects',
			help: 'Objects the mediasoup workers hold, by kind (router, transport, producer, consumer).',
			labelNames: ['kind'],
			registers,
			async collect() {
				const counts = await calls()?.workerObjectCounts();
				for (const kind of ['router', 'transport', 'producer', 'consumer'] as const) this.set({ kind }, counts?.[`${kind}s`] ?? 0);
			}
		});
		if (options.cluster) this.#registerClusterGauges(options.cluster, registers);
		this.#wsCloses = new Counter({
			name: 'hearth_ws_closes_total',
			help: 'Closed /ws connections by close code (4008 abuse, 4009 slow consumer, 4010 caps, 4011 heartbeat, 1009 frame too big; "other" for unknown client codes).',
			labelNames: ['code'],
			registers
		});
		this.#wsFramesRejected = new Counter({
			name: 'hearth_ws_frames_rejected_total',
			help: 'Client frames refused before dispatch: binary, invalid (schema or JSON), rate_limited (token bucket).',
			labelNames: ['reason'],
			registers
		});
		this.#messagesPersisted = new Counter({
			name: 'hearth_messages_persisted_total',
			help: 'New messages committed to the database (idempotent retries of a stored message are not counted).',
			registers
		});
		this.#eventBatchSize = new Histogram({
			name: 'hearth_event_writer_batch_size',
			help: 'Operations per committed group-commit transaction of the event writer.',
			buckets: BATCH_SIZE_BUCKETS,
			registers
		});
		this.#authThrottled = new Counter({
			name: 'hearth_auth_throttled_total',
			help: 'Account actions refused by the brute-force throttle (sign_in, password_change, second_factor codes) or the per-IP sign-up limit (sign_up).',
			labelNames: ['action'],
			registers
		});
		// Known label values start at 0, so rate() and alerts see the first rejection as an increase.
		for (const scope of ['http', 'auth', 'ws'] as const) this.#rateLimitRejections.inc({ scope }, 0);
		for (const reason of ['binary', 'invalid', 'rate_limited'] as const) this.#wsFramesRejected.inc({ reason }, 0);
		for (const action of ['sign_in', 'sign_up', 'password_change'] as const) this.#authThrottled.inc({ action }, 0);
	}

	/** One answered HTTP request. `routeId` is SvelteKit's route id (null when no route matched). */
	httpRequest(method: string, routeId: string | null, status: number, durationMs: number): void {
		const labels = { method: KNOWN_METHODS.has(method) ? method : 'other', route: routeId ?? 'unmatched' };
		this.#httpRequests.inc({ ...labels, status: String(status) });
		this.#httpDuration.observe(labels, durationMs / 1000);
	}

	rateLimited(scope: RateLimitScope): void {
		this.#rateLimitRejections.inc({ scope });
	}

	wsClosed(code: number): void {
		this.#wsCloses.inc({ code: KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other' });
	}

	wsFrameRejected(reason: FrameRejection): void {
		this.#wsFramesRejected.inc({ reason });
	}

	/** A committed event-writer transaction: its size, and how many new messages it stored. */
	eventBatchCommitted(operations: number, newMessages: number): void {
		this.#eventBatchSize.observe(operations);
		if (newMessages > 0) this.#messagesPersisted.inc(newMessages);
	}

	authThrottled(action: ThrottledAction): void {
		this.#authThrottled.inc({ action });
	}

	/** Cluster mode only: Redis reachability, peers, the outbox, and how channel events reached this node. */
	#registerClusterGauges(cluster: () => ClusterGauges, registers: Registry[]) {
		new Gauge({
			name: 'hearth_cluster_redis_up',
			help: '1 when Redis answers for publishing, reading and pub/sub; 0 while this node serves its own sockets only.',
			registers,
			collect() {
				this.set(cluster().reachable ? 1 : 0);
			}
		});
		new Gauge({
			name: 'hearth_cluster_peers',
			help: 'Other nodes seen heartbeating.',
			registers,
			collect() {
				this.set(cluster().peers.length);
			}
		});
		new Gauge({
			name: 'hearth_cluster_outbox_notices',
			help: 'Notices waiting for Redis to reach the other nodes (grows while Redis is away).',
			registers,
			collect() {
				this.set(cluster().outbox);
			}
		});
		// Only ever grow, like counters, but counted by the sequencer: gauges set on scrape (use rate()).
		new Gauge({
			name: 'hearth_cluster_channel_events',
			help: 'Channel events handled by this node since start, by outcome: delivered to sockets, duplicate (dropped), backfilled (read from the database after a gap).',
			labelNames: ['outcome'],
			registers,
			collect() {
				const stats = cluster().sequencer;
				this.set({ outcome: 'delivered' }, stats.delivered);
				this.set({ outcome: 'duplicate' }, stats.duplicates);
				this.set({ outcome: 'backfilled' }, stats.backfilled);
			}
		});
		new Gauge({
			name: 'hearth_cluster_channel_catchups',
			help: 'Channel catch-ups from the database since start: gap (events missing before one received) and resync (too far behind; sockets refetch).',
			labelNames: ['kind'],
			registers,
			collect() {
				const stats = cluster().sequencer;
				this.set({ kind: 'gap' }, stats.gaps);
				this.set({ kind: 'resync' }, stats.resyncs);
			}
		});
	}
}
