// Builds everything the server needs from the configuration: database (migrated), event bus (in
// process, or shared through Redis in cluster mode), group-commit writer and the domain services.
// Created once per process by server/main.ts.
import type { Config } from './config/config.ts';
import { openDatabase, type DatabaseHandle } from './db/open.ts';
import { LocalEventBus, type EventBus } from './events/bus.ts';
import type { Cluster } from './cluster/cluster.ts';
import { HttpRateLimiter } from './http-rate-limit.ts';
import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitStore } from './rate-limiters.ts';
import { safeError, type Logger } from './logger.ts';
import { Metrics } from './metrics.ts';
import { Accounts } from './services/accounts.ts';
import { Channels } from './services/channels.ts';
import { Communities } from './services/communities.ts';
import { EventWriter } from './services/event-writer.ts';
import { Instance } from './services/instance.ts';
import { Invites } from './services/invites.ts';
import { Messages } from './services/messages.ts';
import { Pins } from './services/pins.ts';
import { Threads } from './services/threads.ts';
import { Blocks } from './services/blocks.ts';
import { DisappearingMessages } from './services/disappearing.ts';
import { AuditLog } from './services/audit-log.ts';
import { Moderation } from './services/moderation.ts';
import { Roles } from './services/roles.ts';
import { UserAdmin } from './services/user-admin.ts';
import { Reports } from './services/reports.ts';
import { Devices } from './services/devices.ts';
import { KeyBackups } from './services/key-backups.ts';
import { Attachments } from './services/attachments.ts';
import { TwoFactor } from './services/two-factor.ts';
import { SecretBox } from './auth/secret-box.ts';
import { Passkeys } from './services/passkeys.ts';
import { Push } from './services/push.ts';
import { Profiles } from './services/profiles.ts';
import { CustomEmoji } from './services/custom-emoji.ts';
import { relyingParty } from './auth/webauthn-relying-party.ts';

export type Services = {
	accounts: Accounts;
	instance: Instance;
	communities: Communities;
	channels: Channels;
	messages: Messages;
	pins: Pins;
	threads: Threads;
	blocks: Blocks;
	disappearing: DisappearingMessages;
	invites: Invites;
	roles: Roles;
	moderation: Moderation;
	auditLog: AuditLog;
	userAdmin: UserAdmin;
	reports: Reports;
	devices: Devices;
	keyBackups: KeyBackups;
	attachments: Attachments;
	twoFactor: TwoFactor;
	passkeys: Passkeys;
	push: Push;
	profiles: Profiles;
	customEmoji: CustomEmoji;
};

/** What the realtime hub reports about itself (health, readiness, metrics). */
export type RealtimeStatus = {
	connections(): number;
	onlineUsers(): number;
};

/** What health, preflight and metrics read about calls (server/calls/call-service.ts). */
export type CallsStatus = {
	status(): { available: true; workers: number; calls: number; participants: number } | { available: false; reason: string };
	describe(): string;
	counts(): { calls: number; participants: number; producers: number; consumers: number };
	workerCpuSeconds(): Promise<{ worker: number; seconds: number }[]>;
	workerObjectCounts(): Promise<{ routers: number; transports: number; producers: number; consumers: number }>;
};

export type AppContext = {
	config: Config;
	log: Logger;
	version: string;
	startedAt: Date;
	database: DatabaseHandle;
	bus: EventBus;
	/** Cluster mode (REDIS_URL): this node among the others; null for the single-process default. */
	cluster: Cluster | null;
	writer: EventWriter;
	services: Services;
	/** The Prometheus registry and the instruments the server updates (served at /metrics). */
	metrics: Metrics;
	/** Per-client-IP HTTP limits, checked by hooks.server.ts. */
	httpRateLimiter: HttpRateLimiter;
	/** Set once the HTTP server is up; false while shutting down (readiness). */
	state: { ready: boolean; shuttingDown: boolean };
	realtime: RealtimeStatus | null;
	/** Set by server/main.ts once the call workers started (or were found unavailable). */
	calls: CallsStatus | null;
	/** The allowed origins, completed with the real port once listening. */
	origins: Set<string>;
};

export async function createAppContext(options: {
	config: Config;
	log: Logger;
	version: string;
	migrationsFolder: string;
}): Promise<AppContext> {
	const { config, log } = options;
	const sqlLog = log.child({ component: 'db' });
	// Long enough for the send statement's whole WITH (messages grew thread columns), so a statement's
	// gist (every table it writes) stays readable; parameters are never part of it.
	const SQL_LOG_MAX_CHARS = 4000;
	const database = await openDatabase(config.database, options.migrationsFolder, {
		// Statement text only (never parameters).
		onQuery: config.logSql ? (sql) => sqlLog.debug({ sql: sql.slice(0, SQL_LOG_MAX_CHARS) }, 'sql') : undefined
	});
	const db = database.db;
	// The hub registers itself in `context.realtime` after this function returns; the gauges read it
	// when scraped.
	let context: AppContext | undefined;
	let cluster: Cluster | null = null;
	if (config.cluster) {
		try {
			// Loaded only in cluster mode: ioredis and the Redis bus are ~2.5 MB of heap a single
			// process never uses.
			const { Cluster } = await import('./cluster/cluster.ts');
			cluster = await Cluster.start(config.cluster, db, log);
		} catch (error) {
			await database.close();
			throw error;
		}
	}
	const metrics = new Metrics({
		realtime: () => context?.realtime ?? null,
		calls: () => context?.calls ?? null,
		cluster: cluster ? () => cluster.status() : null
	});
	const bus: EventBus = cluster?.bus ?? new LocalEventBus((error) => log.error({ err: safeError(error) }, 'event subscriber failed'));
	// Rate-limit counters: shared through Redis in cluster mode, so every node enforces one total.
	const rateLimits: RateLimitStore = cluster ? new RedisRateLimitStore(cluster.commandConnection) : new MemoryRateLimitStore();
	const writer = new EventWriter(db, bus, log.child({ component: 'event-writer' }), (operations, newMessages) =>
		metrics.eventBatchCommitted(operations, newMessages)
	);

	// Services refer to each other lazily (through these getters) to avoid construction cycles.
	const services = {} as Services;
	services.instance = new Instance({
		db,
		bus,
		messageMaxBytesCeiling: config.limits.messageMaxBytes,
		uploadMaxBytesCeiling: config.limits.attachmentMaxBytes,
		iceDefaults: { stunUrls: config.calls.stunUrls, turnUrls: config.calls.turnUrls, turnSecretSet: Boolean(config.calls.turnSecret) }
	});
	services.channels = new Channels({ db, bus });
	services.communities = new Communities({ db, bus, writer, channels: () => services.channels });
	services.invites = new Invites({ db, communities: () => services.communities });
	services.roles = new Roles({ db, bus });
	services.moderation = new Moderation({ db, writer });
	services.auditLog = new AuditLog({ db, retentionDays: config.auditLogRetentionDays });
	services.messages = new Messages({ db, bus, writer, maxPayloadBytes: () => services.instance.messageMaxBytes() });
	services.pins = new Pins({ db, writer });
	services.threads = new Threads({ db, bus });
	services.blocks = new Blocks({ db });
	services.profiles = new Profiles({ db, bus });
	services.customEmoji = new CustomEmoji({ db, bus });
	services.disappearing = new DisappearingMessages({ db, writer });
	services.accounts = new Accounts({
		db,
		bus,
		sessionTtlMs: config.sessionTtlMs,
		signUpsPerIpPerHour: config.signUpsPerIpPerHour,
		rateLimits,
		invites: () => services.invites,
		communities: () => services.communities,
		onThrottled: (action) => metrics.authThrottled(action),
		guestAccess: () => services.instance.guestAccess(),
		twoFactor: () => services.twoFactor,
		passkeys: () => services.passkeys
	});
	services.passkeys = new Passkeys({
		db,
		passwordThrottle: () => services.accounts.throttle,
		// Read when used: the origins are completed with the real port once the server listens.
		relyingParty: () => relyingParty(config.origin, context?.origins ?? []),
		rpName: () => services.instance.branding().name
	});
	services.twoFactor = new TwoFactor({
		db,
		box: new SecretBox(config.appSecret, 'totp-secret'),
		appSecretConfigured: config.appSecretConfigured,
		passkeys: () => services.passkeys,
		onThrottled: () => metrics.authThrottled('second_factor'),
		rateLimits,
		passwordThrottle: () => services.accounts.throttle,
		// The name authenticator apps show beside the code: the server's name, read when set up.
		issuer: () => services.instance.branding().name
	});
	services.reports = new Reports({ db, messages: () => services.messages });
	services.devices = new Devices({ db, bus });
	services.keyBackups = new KeyBackups({ db });
	services.attachments = new Attachments({ db, maxBytes: () => services.instance.uploadMaxBytes() });
	services.userAdmin = new UserAdmin({ db, bus, throttle: () => services.accounts.throttle });
	services.push = new Push({ db, bus, config: config.push, log: log.child({ component: 'push' }) });
	writer.afterCommit((notices) => services.push.dispatch(notices));
	await services.instance.ensureDefaults(config.registrationModeDefault);
	await services.push.loadRoutingHints();

	context = {
		config,
		log,
		version: options.version,
		startedAt: new Date(),
		database,
		bus,
		cluster,
		writer,
		services,
		metrics,
		httpRateLimiter: new HttpRateLimiter({
			perMinute: config.httpRatePerMinute,
			authPerMinute: config.httpAuthRatePerMinute,
			store: rateLimits,
			scale: () => services.instance.rateLimitFactor(),
			onRejected: (scope) => metrics.rateLimited(scope)
		}),
		state: { ready: false, shuttingDown: false },
		realtime: null,
		calls: null,
		origins: new Set()
	};
	return context;
}
