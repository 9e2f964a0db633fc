// The preflight report: what this server is about to run with, printed at start so an operator
// can check a deployment at a glance. It names every protection and limit; it never shows a
// secret (only whether it is set and how long) nor a database password.
import type { Config } from './config.ts';
import { maskDatabaseUrl, maskRedisUrl } from './secrets.ts';

export type PreflightReport = Record<string, string>;

/** `calls` is the call service's own description (server/calls/), which knows whether a worker runs. */
export function preflightReport(
	config: Config,
	origins: Set<string>,
	calls?: { describe(): string } | null,
	cluster?: { describe(): string } | null
): PreflightReport {
	const { limits } = config;
	return {
		mode: config.env,
		origin: config.origin ?? '(completed when the port is known)',
		'allowed origins': `${origins.size} (${[...origins].join(', ')})`,
		database:
			config.database.kind === 'postgres'
				? `PostgreSQL ${maskDatabaseUrl(config.database.url)}, pool ${config.database.poolSize}`
				: `embedded PGlite in ${config.database.dataDir}`,
		cluster: config.cluster
			? (cluster?.describe() ?? `node ${config.cluster.nodeId} on Redis ${maskRedisUrl(config.cluster.redisUrl)} (not connected yet)`)
			: 'off: one process (set REDIS_URL and DATABASE_URL to run several nodes)',
		csrf: `Origin check + signed double-submit token; APP_SECRET ${
			config.appSecretConfigured ? 'set (hidden)' : 'not set: a random key for this run (tokens reset on restart)'
		}`,
		cookies: config.env === 'production' || config.origin?.startsWith('https://') ? 'Secure, __Host- prefixed' : 'not Secure (plain http)',
		'security headers': `CSP with nonces, nosniff, frame-ancestors none, Permissions-Policy${config.env === 'production' ? ', HSTS' : ''}`,
		'trusted proxies': config.hasTrustedProxies ? 'configured (X-Forwarded-For believed from them only)' : 'none (X-Forwarded-For ignored)',
		'admin surface': [
			config.admin.allowlist ? 'IP allowlist' : 'no IP allowlist',
			config.admin.clientCertHeader ? `client certificate via ${config.admin.clientCertHeader}` : 'no client certificate'
		].join(', '),
		metrics: [
			config.metrics.token ? 'Bearer token (hidden)' : null,
			config.metrics.hasAllowlist ? 'IP allowlist' : null
		].filter(Boolean).join(' or ') || 'off (set METRICS_TOKEN or METRICS_ALLOWLIST)',
		'rate limits': [
			`HTTP ${config.httpRatePerMinute}/min/IP, auth ${config.httpAuthRatePerMinute}/min/IP`,
			`/ws ${limits.wsRatePerSecond}/s burst ${limits.wsRateBurst}`,
			`connections ${limits.wsMaxConnections} total, ${limits.wsMaxConnectionsPerIp}/IP, ${limits.wsMaxConnectionsPerUser}/user`,
			`sign-ups ${config.signUpsPerIpPerHour}/IP/hour`
		].join('; '),
		'message size': `${limits.messageMaxBytes} bytes`,
		'attachment size': `${limits.attachmentMaxBytes} bytes of ciphertext at most (ATTACHMENT_MAX_BYTES; admins may set less)`,
		calls: calls?.describe() ?? 'unavailable: the call service has not started',
		turn: turnLine(config),
		'log level': config.logLevel
	};
}

function turnLine(config: Config): string {
	const { stunUrls, turnUrls, turnSecret, turnTtlSeconds } = config.calls;
	const parts: string[] = [];
	if (turnUrls.length > 0) parts.push(`${turnUrls.join(', ')} with ${turnTtlSeconds} s credentials (TURN_SECRET ${turnSecret ? 'set, hidden' : 'missing'})`);
	if (stunUrls.length > 0) parts.push(`STUN ${stunUrls.join(', ')}`);
	return parts.join('; ') || 'not configured (browsers behind strict NATs or firewalls may not connect to calls)';
}

/** The report as aligned lines for a terminal or `docker logs`. */
export function formatPreflightReport(report: PreflightReport): string {
	const width = Math.max(...Object.keys(report).map((key) => key.length));
	return ['Hearth preflight', ...Object.entries(report).map(([key, value]) => `  ${key.padEnd(width)}  ${value}`)].join('\n');
}
