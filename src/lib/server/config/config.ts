// Turns the environment into one validated, typed configuration object. The variable definitions
// live in src/env.ts (shared with SvelteKit); this module adds what is derived from them and the
// rules that need several variables at once.
import { BlockList, isIP } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { variables } from '../../../env.ts';
import type { DatabaseConfig } from '../db/open.ts';
import { parseOrigin } from './env-schema.ts';
import { databasePassword, secretBytes, secretWeakness } from './secrets.ts';

type Variables = typeof variables;
// The parsed type of each variable: what its schema outputs.
type OutputOf<S> = S extends { '~standard': { types?: { output: infer O } } } ? O : never;
type Values = { [K in keyof Variables]: OutputOf<Variables[K]['schema']> };

export type Config = {
	env: 'development' | 'production' | 'test';
	host: string;
	port: number;
	/** Public origin; when PORT is 0 it is completed once the server listens. */
	origin: string | undefined;
	extraOrigins: string[];
	database: DatabaseConfig;
	logLevel: string;
	/** Log each SQL statement's text (debug level); parameters are never logged. */
	logSql: boolean;
	trustedProxies: BlockList;
	hasTrustedProxies: boolean;
	/** Key for signing CSRF tokens: APP_SECRET, or random bytes for this run outside production. */
	appSecret: Uint8Array;
	/** Whether APP_SECRET came from the environment (the preflight report says so). */
	appSecretConfigured: boolean;
	admin: {
		/** Addresses allowed to reach /admin and /api/admin; null when anyone may. */
		allowlist: BlockList | null;
		/** Header a trusted proxy sets to SUCCESS after verifying a client certificate; null when not required. */
		clientCertHeader: string | null;
	};
	sessionTtlMs: number;
	signUpsPerIpPerHour: number;
	/** Per-client-IP HTTP limits (src/lib/server/http-rate-limit.ts). */
	httpRatePerMinute: number;
	httpAuthRatePerMinute: number;
	/** Who may read /metrics: a bearer token and/or client addresses. Neither set: nobody. */
	metrics: { token: string | undefined; allowlist: BlockList; hasAllowlist: boolean };
	registrationModeDefault: 'open' | 'invite_only' | 'closed';
	auditLogRetentionDays: number;
	limits: {
		messageMaxBytes: number;
		/** ATTACHMENT_MAX_BYTES: default and ceiling of the upload limit setting. */
		attachmentMaxBytes: number;
		wsMaxFrameBytes: number;
		wsRatePerSecond: number;
		wsRateBurst: number;
		wsMaxConnections: number;
		wsMaxConnectionsPerIp: number;
		wsMaxConnectionsPerUser: number;
		heartbeatMs: number;
		wsMaxBufferedBytes: number;
	};
	calls: CallsConfig;
	push: PushConfig;
	/** Cluster mode (REDIS_URL set): null runs one self-contained process. */
	cluster: ClusterConfig | null;
};

/** Web Push: src/lib/server/services/push.ts. */
export type PushConfig = {
	/** From VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY; undefined: generated once and kept in the database. */
	vapid: { publicKey: string; privateKey: string } | undefined;
	subject: string;
	/** Allowed push service hosts (lower case; "*.x" matches subdomains of x). */
	serviceHosts: string[];
	/** Plain-http endpoints on loopback hosts, for a fake push service in tests (never in production). */
	allowLoopbackHttp: boolean;
};

/** Several nodes sharing events through Valkey/Redis: src/lib/server/cluster/. */
export type ClusterConfig = {
	redisUrl: string;
	/** NODE_ID, or the host name plus a random suffix (a restarted node is a new node to its peers). */
	nodeId: string;
};

/** The SFU (mediasoup) and ICE servers: server/calls/. */
export type CallsConfig = {
	/** MEDIASOUP_WORKER_BIN; undefined: look inside node_modules/mediasoup. */
	workerBin: string | undefined;
	workers: number;
	listenIp: string;
	announcedAddress: string | undefined;
	/** Port of worker 0's WebRtcServer (UDP and TCP); worker N uses port + N; 0 picks free ports. */
	port: number;
	maxParticipants: number;
	stunUrls: string[];
	turnUrls: string[];
	turnSecret: string | undefined;
	turnTtlSeconds: number;
	/** CALL_TEST_TAP_PORT (APP_ENV=test only): where plain-RTP copies of every stream go; 0 off. */
	testTapPort: number;
};

export class ConfigError extends Error {
	readonly problems: string[];
	constructor(problems: string[]) {
		super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
		this.name = 'ConfigError';
		this.problems = problems;
	}
}

function parseVariables(env: Record<string, string | undefined>): { values: Values; problems: string[] } {
	const values: Record<string, unknown> = {};
	const problems: string[] = [];
	for (const [name, definition] of Object.entries(variables)) {
		const result = definition.schema['~standard'].validate(env[name]);
		if (result instanceof Promise) throw new Error(`${name}: asynchronous validators are not supported`);
		if (result.issues) problems.push(`${name}: ${result.issues.map((issue) => issue.message).join('; ')}`);
		else values[name] = result.value;
	}
	return { values: values as Values, problems };
}

/** A comma-separated list of IPs and CIDRs (TRUSTED_PROXIES, ADMIN_ALLOWLIST, ...) as a BlockList to match against. */
export function parseAddressList(name: string, raw: string, problems: string[]): BlockList {
	const list = new BlockList();
	for (const item of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
		const [address, prefix] = item.split('/');
		const family = isIP(address ?? '');
		if (!address || family === 0) {
			problems.push(`${name}: "${item}" is not an IP address or CIDR`);
			continue;
		}
		const type = family === 6 ? 'ipv6' : 'ipv4';
		if (prefix === undefined) list.addAddress(address, type);
		else {
			const bits = Number(prefix);
			if (!Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32)) {
				problems.push(`${name}: "${item}" has an invalid prefix length`);
				continue;
			}
			list.addSubnet(address, bits, type);
		}
	}
	return list;
}

/** Comma-separated STUN or TURN URLs (RFC 7064/7065 schemes), as given to browsers' RTCPeerConnection. */
function iceUrlList(name: string, raw: string, schemes: string[], problems: string[]): string[] {
	const urls = raw.split(',').map((s) => s.trim()).filter(Boolean);
	for (const url of urls) {
		if (!schemes.some((scheme) => url.startsWith(scheme)) || /\s/.test(url)) {
			problems.push(`${name}: "${url}" must start with ${schemes.join(' or ')}`);
		}
	}
	return urls;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
	const { values, problems } = parseVariables(env);
	if (problems.length) throw new ConfigError(problems);

	let origin: string | undefined;
	if (values.ORIGIN) {
		try {
			origin = parseOrigin('ORIGIN', values.ORIGIN);
		} catch (error) {
			problems.push((error as Error).message);
		}
	} else if (values.PORT !== 0) {
		origin = `http://localhost:${values.PORT}`;
	}

	const database: DatabaseConfig = values.DATABASE_URL
		? { kind: 'postgres', url: values.DATABASE_URL, poolSize: values.DATABASE_POOL_SIZE, preparedStatements: values.DATABASE_PREPARED_STATEMENTS }
		: { kind: 'pglite', dataDir: values.DATA_DIR };

	const trustedProxies = parseAddressList('TRUSTED_PROXIES', values.TRUSTED_PROXIES, problems);
	const adminAllowlist = values.ADMIN_ALLOWLIST.trim() ? parseAddressList('ADMIN_ALLOWLIST', values.ADMIN_ALLOWLIST, problems) : null;
	const clientCertHeader = values.ADMIN_CLIENT_CERT_HEADER?.toLowerCase() ?? null;
	if (clientCertHeader && !/^[a-z0-9-]+$/.test(clientCertHeader)) {
		problems.push('ADMIN_CLIENT_CERT_HEADER must be a header name such as X-SSL-Client-Verify');
	}
	if (clientCertHeader && !values.TRUSTED_PROXIES.trim()) {
		problems.push('ADMIN_CLIENT_CERT_HEADER needs TRUSTED_PROXIES: only the proxy that verified the certificate may set it');
	}
	// A weak secret is refused in every mode: someone who set one expects it to protect something.
	for (const name of ['APP_SECRET', 'METRICS_TOKEN', 'TURN_SECRET'] as const) {
		const value = values[name];
		const weakness = value ? secretWeakness(value) : null;
		if (weakness) problems.push(`${name} ${weakness}`);
	}
	const stunUrls = iceUrlList('STUN_URLS', values.STUN_URLS, ['stun:', 'stuns:'], problems);
	const turnUrls = iceUrlList('TURN_URLS', values.TURN_URLS, ['turn:', 'turns:'], problems);
	if (turnUrls.length > 0 && !values.TURN_SECRET) problems.push('TURN_URLS needs TURN_SECRET, the static-auth-secret shared with the TURN server');
	// A copy of every call stream on a plain socket: for tests that show the server sees only ciphertext.
	if (values.CALL_TEST_TAP_PORT !== 0 && values.APP_ENV !== 'test') problems.push('CALL_TEST_TAP_PORT is for tests only: it needs APP_ENV=test');
	if (isIP(values.CALL_LISTEN_IP) === 0) problems.push(`CALL_LISTEN_IP must be an IP address, got "${values.CALL_LISTEN_IP}"`);
	if (values.CALL_PORT !== 0 && values.CALL_PORT + Math.max(values.CALL_WORKERS ?? 1, 1) - 1 > 65535) problems.push('CALL_PORT + CALL_WORKERS - 1 must stay below 65536');
	const metricsAllowlist = parseAddressList('METRICS_ALLOWLIST', values.METRICS_ALLOWLIST, problems);

	// Production refuses what is only acceptable on a developer's machine.
	if (values.APP_ENV === 'production') {
		if (database.kind === 'pglite') {
			problems.push('APP_ENV=production needs DATABASE_URL (PostgreSQL); the embedded database is for trying Hearth out');
		}
		if (!values.APP_SECRET) problems.push('APP_ENV=production needs APP_SECRET, at least 32 random bytes (scripts/generate-secrets.sh makes one)');
		const password = values.DATABASE_URL ? databasePassword(values.DATABASE_URL) : undefined;
		const passwordWeakness = password === undefined ? null : secretWeakness(password);
		if (passwordWeakness) problems.push(`APP_ENV=production: the password in DATABASE_URL ${passwordWeakness}`);
		if (!values.ORIGIN) problems.push('APP_ENV=production needs ORIGIN, the public https:// address users open');
		else if (origin && !origin.startsWith('https://')) {
			problems.push('APP_ENV=production needs an https:// ORIGIN (session cookies are Secure)');
		}
	}
	// Every node must read and write the same database: an embedded one belongs to a single process.
	if (values.REDIS_URL && database.kind === 'pglite') {
		problems.push('REDIS_URL (cluster mode) needs DATABASE_URL: every node must share one PostgreSQL database; the embedded PGlite database belongs to a single process');
	}
	if (database.kind === 'pglite' && database.dataDir.startsWith('memory://') && values.APP_ENV !== 'test') {
		problems.push('DATA_DIR=memory:// loses every message on restart; it is only allowed with APP_ENV=test');
	}
	if ((values.VAPID_PUBLIC_KEY === undefined) !== (values.VAPID_PRIVATE_KEY === undefined)) {
		problems.push('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together: set both, or neither (then a key pair is generated and kept in the database)');
	}
	if (values.VAPID_SUBJECT && !/^(mailto:|https:\/\/)/.test(values.VAPID_SUBJECT)) problems.push('VAPID_SUBJECT must be a mailto: or https:// URL');
	if (problems.length) throw new ConfigError(problems);

	return {
		env: values.APP_ENV,
		host: values.HOST,
		port: values.PORT,
		origin,
		extraOrigins: values.ALLOWED_ORIGINS,
		database,
		logLevel: values.LOG_LEVEL,
		logSql: values.LOG_SQL,
		trustedProxies,
		hasTrustedProxies: values.TRUSTED_PROXIES.trim() !== '',
		appSecret: values.APP_SECRET ? secretBytes(values.APP_SECRET) : crypto.getRandomValues(new Uint8Array(32)),
		appSecretConfigured: values.APP_SECRET !== undefined,
		admin: { allowlist: adminAllowlist, clientCertHeader },
		sessionTtlMs: values.SESSION_TTL_DAYS * 24 * 60 * 60 * 1000,
		signUpsPerIpPerHour: values.SIGN_UPS_PER_IP_PER_HOUR,
		httpRatePerMinute: values.HTTP_RATE_PER_MINUTE,
		httpAuthRatePerMinute: values.HTTP_AUTH_RATE_PER_MINUTE,
		metrics: { token: values.METRICS_TOKEN, allowlist: metricsAllowlist, hasAllowlist: values.METRICS_ALLOWLIST.trim() !== '' },
		registrationModeDefault: values.REGISTRATION_MODE,
		auditLogRetentionDays: values.AUDIT_LOG_RETENTION_DAYS,
		limits: {
			messageMaxBytes: values.MESSAGE_MAX_BYTES,
			attachmentMaxBytes: values.ATTACHMENT_MAX_BYTES,
			wsMaxFrameBytes: values.WS_MAX_FRAME_BYTES,
			wsRatePerSecond: values.WS_RATE_PER_SECOND,
			wsRateBurst: values.WS_RATE_BURST,
			wsMaxConnections: values.WS_MAX_CONNECTIONS,
			wsMaxConnectionsPerIp: values.WS_MAX_CONNECTIONS_PER_IP,
			wsMaxConnectionsPerUser: values.WS_MAX_CONNECTIONS_PER_USER,
			heartbeatMs: values.WS_HEARTBEAT_SECONDS * 1000,
			wsMaxBufferedBytes: values.WS_MAX_BUFFERED_BYTES
		},
		push: {
			vapid: values.VAPID_PUBLIC_KEY && values.VAPID_PRIVATE_KEY ? { publicKey: values.VAPID_PUBLIC_KEY, privateKey: values.VAPID_PRIVATE_KEY } : undefined,
			// Push services accept only https: or mailto: contacts: an http ORIGIN (development) becomes a mailto.
			subject: values.VAPID_SUBJECT ?? (origin?.startsWith('https://') ? origin : `mailto:hearth@${origin ? new URL(origin).hostname : 'localhost'}`),
			serviceHosts: values.PUSH_SERVICE_HOSTS.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
			allowLoopbackHttp: values.APP_ENV !== 'production'
		},
		calls: {
			workerBin: values.MEDIASOUP_WORKER_BIN,
			// Unset: one per core. 0: this node runs no calls (cluster mode places them on other nodes).
			workers: values.CALL_WORKERS ?? availableParallelism(),
			listenIp: values.CALL_LISTEN_IP,
			announcedAddress: values.CALL_ANNOUNCED_ADDRESS,
			port: values.CALL_PORT,
			maxParticipants: values.CALL_MAX_PARTICIPANTS,
			stunUrls,
			turnUrls,
			turnSecret: values.TURN_SECRET,
			turnTtlSeconds: values.TURN_TTL_SECONDS,
			testTapPort: values.CALL_TEST_TAP_PORT
		},
		cluster: values.REDIS_URL ? { redisUrl: values.REDIS_URL, nodeId: values.NODE_ID ?? generatedNodeId() } : null
	};
}

function generatedNodeId(): string {
	const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 48) || 'node';
	return `${host}-${randomBytes(3).toString('hex')}`;
}

/** Every origin allowed to make state-changing requests and open /ws. */
export function allowedOrigins(config: Config): Set<string> {
	return new Set([...(config.origin ? [config.origin] : []), ...config.extraOrigins]);
}
