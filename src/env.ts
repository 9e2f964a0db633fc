// Every environment variable the product reads, declared once. SvelteKit validates them when the
// app starts; the companion server (server/config.ts) validates the same definitions. Document each
// one in .env.example as well.
import { defineEnvVars } from '@sveltejs/kit/env';
import {
	flag,
	integer,
	oneOf,
	optionalInteger,
	optionalString,
	originList,
	nodeId,
	postgresUrl,
	redisUrl,
	stringWithDefault
} from './lib/server/config/env-schema.ts';

export const variables = defineEnvVars({
	APP_ENV: {
		description: 'development or production. Production refuses unsafe configuration.',
		schema: oneOf('APP_ENV', ['development', 'production', 'test'], 'development')
	},
	HOST: {
		description: 'Interface to listen on.',
		schema: stringWithDefault('127.0.0.1')
	},
	PORT: {
		description: 'TCP port for HTTP and /ws (0 picks a free port).',
		schema: integer('PORT', 3000, 0, 65535)
	},
	ORIGIN: {
		description: 'Public origin users open, e.g. https://chat.example.com. Default http://localhost:PORT.',
		schema: optionalString
	},
	ALLOWED_ORIGINS: {
		description: 'Extra origins allowed to make state-changing requests and open /ws (comma separated).',
		schema: originList('ALLOWED_ORIGINS')
	},
	APP_SECRET: {
		description: 'At least 32 random bytes (base64 or hex; scripts/generate-secrets.sh makes one). Signs CSRF tokens and encrypts two-factor secrets (after a change, authenticator codes stop working: people sign in with a recovery code and set the app up again). Required in production; a random one per run otherwise, and then two-factor set-up is refused.',
		schema: optionalString
	},
	ADMIN_ALLOWLIST: {
		description: 'IPs/CIDRs allowed to reach the instance admin pages and API (/admin, /api/admin). Empty: everyone signed in as an admin.',
		schema: stringWithDefault('')
	},
	ADMIN_CLIENT_CERT_HEADER: {
		description: 'Header a trusted proxy sets after verifying a client certificate (e.g. X-SSL-Client-Verify); when set, admin requests need it to say SUCCESS and to come through TRUSTED_PROXIES.',
		schema: optionalString
	},
	DATABASE_URL: {
		description: 'postgres:// URL. When unset, the embedded PGlite database in DATA_DIR is used.',
		schema: postgresUrl
	},
	REDIS_URL: {
		description: 'redis:// or rediss:// URL of a Valkey 8 or Redis 7 server. Setting it turns cluster mode on: several Hearth nodes behind one load balancer share events through it. Needs DATABASE_URL (PostgreSQL). Unset: one process, no extra service.',
		schema: redisUrl
	},
	NODE_ID: {
		description: 'Name of this node in a cluster (letters, digits, . _ -), shown in /health and logs. Unset: the host name and a random suffix, new at each start.',
		schema: nodeId
	},
	DATA_DIR: {
		description: 'Folder of the embedded database (PGlite). memory:// keeps it in memory (tests only).',
		schema: stringWithDefault('./data')
	},
	DATABASE_POOL_SIZE: {
		description: 'Maximum PostgreSQL connections.',
		schema: integer('DATABASE_POOL_SIZE', 10, 1, 200)
	},
	DATABASE_PREPARED_STATEMENTS: {
		description:
			'Run the statements that recur as named prepared statements with generic plans (PostgreSQL parses and plans them once per connection instead of on every run). Set false behind a pooler in transaction mode that does not keep prepared statements (PgBouncer before 1.21, or without max_prepared_statements).',
		schema: flag('DATABASE_PREPARED_STATEMENTS', true)
	},
	LOG_LEVEL: {
		description: 'fatal, error, warn, info, debug or trace.',
		schema: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info')
	},
	VAPID_PUBLIC_KEY: {
		description: 'Web Push (VAPID) public key, base64url. With VAPID_PRIVATE_KEY. Unset: a key pair is generated once and kept in the database.',
		schema: optionalString
	},
	VAPID_PRIVATE_KEY: {
		description: 'Web Push (VAPID) private key, base64url (secret). Set both or neither.',
		schema: optionalString
	},
	VAPID_SUBJECT: {
		description: 'Contact the push services may use about this server (mailto: or https: URL). Unset: ORIGIN when it is https, else mailto:hearth@<host>.',
		schema: optionalString
	},
	PUSH_SERVICE_HOSTS: {
		description: 'Push service hosts subscriptions may point at (comma separated; *.example.com matches subdomains; host:port allowed). The server sends pushes to nothing else.',
		schema: stringWithDefault('fcm.googleapis.com,updates.push.services.mozilla.com,*.push.apple.com,*.notify.windows.com')
	},
	METRICS_TOKEN: {
		description: 'Bearer token that grants access to /metrics (Authorization: Bearer <token>). Use 32+ random bytes. Unset: no token access.',
		schema: optionalString
	},
	METRICS_ALLOWLIST: {
		description: 'Client IPs/CIDRs allowed to read /metrics without a token (comma separated; the client IP honours TRUSTED_PROXIES). Empty: none.',
		schema: stringWithDefault('')
	},
	LOG_SQL: {
		description: 'Log the text of each SQL statement (never its parameters) at debug level, to see what requests cost.',
		schema: flag('LOG_SQL')
	},
	TRUSTED_PROXIES: {
		description: 'Comma-separated IPs/CIDRs whose X-Forwarded-For is believed. Empty: none.',
		schema: stringWithDefault('')
	},
	SESSION_TTL_DAYS: {
		description: 'Session lifetime; extended while in use (sliding expiry).',
		schema: integer('SESSION_TTL_DAYS', 30, 1, 365)
	},
	SIGN_UPS_PER_IP_PER_HOUR: {
		description: 'Accounts one client IP may create per hour (raise it to onboard many people behind one NAT).',
		schema: integer('SIGN_UPS_PER_IP_PER_HOUR', 20, 1, 100000)
	},
	HTTP_RATE_PER_MINUTE: {
		description: 'Requests per minute one client IP may make to the app (pages and API; health probes, /metrics and assets are exempt). Also the burst. Admins scale this and the other HTTP and /ws rate limits at run time (Server administration → Rate limits: relaxed ×2, normal ×1, strict ×½).',
		schema: integer('HTTP_RATE_PER_MINUTE', 600, 1, 10000000)
	},
	HTTP_AUTH_RATE_PER_MINUTE: {
		description: 'Requests per minute one client IP may make to sign-in, sign-up, password change and invite codes. Also the burst.',
		schema: integer('HTTP_AUTH_RATE_PER_MINUTE', 30, 1, 10000000)
	},
	REGISTRATION_MODE: {
		description: 'Initial registration mode for a new instance (open, invite_only, closed). Changed later in settings.',
		schema: oneOf('REGISTRATION_MODE', ['open', 'invite_only', 'closed'], 'open')
	},
	AUDIT_LOG_RETENTION_DAYS: {
		description: 'Days the audit log of administrative and moderation actions is kept (0: forever).',
		schema: integer('AUDIT_LOG_RETENTION_DAYS', 365, 0, 36500)
	},
	MESSAGE_MAX_BYTES: {
		description: 'Largest message payload accepted, in bytes (the payload is ciphertext once E2EE lands).',
		schema: integer('MESSAGE_MAX_BYTES', 16384, 256, 1048576)
	},
	ATTACHMENT_MAX_BYTES: {
		description: 'Largest attachment accepted, in bytes of ciphertext (files are encrypted in the browser). Also the ceiling of the admin upload limit.',
		schema: integer('ATTACHMENT_MAX_BYTES', 26214400, 1024, 2147483647)
	},
	WS_MAX_FRAME_BYTES: {
		description: 'Largest /ws frame accepted; larger frames close the socket with code 1009.',
		schema: integer('WS_MAX_FRAME_BYTES', 65536, 1024, 4194304)
	},
	WS_RATE_PER_SECOND: {
		description: 'Frames per second a /ws connection may send on average (token bucket refill).',
		schema: integer('WS_RATE_PER_SECOND', 20, 1, 100000)
	},
	WS_RATE_BURST: {
		description: 'Frames a /ws connection may send in a burst (token bucket size).',
		schema: integer('WS_RATE_BURST', 60, 1, 100000)
	},
	WS_MAX_CONNECTIONS: {
		description: 'Global cap on open /ws connections.',
		schema: integer('WS_MAX_CONNECTIONS', 20000, 1, 1000000)
	},
	WS_MAX_CONNECTIONS_PER_IP: {
		description: 'Cap on open /ws connections from one client IP.',
		schema: integer('WS_MAX_CONNECTIONS_PER_IP', 64, 1, 1000000)
	},
	WS_MAX_CONNECTIONS_PER_USER: {
		description: 'Cap on open /ws connections of one account (tabs and devices).',
		schema: integer('WS_MAX_CONNECTIONS_PER_USER', 32, 1, 100000)
	},
	WS_HEARTBEAT_SECONDS: {
		description: 'Ping interval; a connection missing two pings is closed. Keep below proxy idle timeouts.',
		schema: integer('WS_HEARTBEAT_SECONDS', 25, 2, 600)
	},
	MEDIASOUP_WORKER_BIN: {
		description: 'Path of the mediasoup-worker binary for calls. Unset: the one inside node_modules/mediasoup, if it was built or downloaded; otherwise calls are unavailable (the rest works).',
		schema: optionalString
	},
	CALL_WORKERS: {
		description: 'mediasoup workers (processes) for calls; each uses up to one CPU core. Unset: the number of CPU cores. 0: this node runs no calls (in cluster mode, calls are placed on nodes that run them; alone, calls are unavailable).',
		schema: optionalInteger('CALL_WORKERS', 0, 256)
	},
	CALL_LISTEN_IP: {
		description: 'Local address the call media sockets listen on (0.0.0.0 for every interface).',
		schema: stringWithDefault('127.0.0.1')
	},
	CALL_ANNOUNCED_ADDRESS: {
		description: 'Public IP or host name announced to browsers as the media address (needed when CALL_LISTEN_IP is not reachable by them: NAT, Docker, 0.0.0.0).',
		schema: optionalString
	},
	CALL_PORT: {
		description: 'UDP and TCP port of the first call worker; worker N uses CALL_PORT+N. Open them in the firewall. 0 picks free ports (tests only).',
		schema: integer('CALL_PORT', 40000, 0, 65535)
	},
	CALL_TEST_TAP_PORT: {
		description: 'Tests only (APP_ENV=test): a UDP port on 127.0.0.1 that gets a plain-RTP copy of every call stream, so a test can inspect what the server itself sees (ciphertext). 0: off. Refused outside APP_ENV=test.',
		schema: integer('CALL_TEST_TAP_PORT', 0, 0, 65535)
	},
	CALL_MAX_PARTICIPANTS: {
		description: 'Participants one call may have.',
		schema: integer('CALL_MAX_PARTICIPANTS', 25, 1, 1000)
	},
	STUN_URLS: {
		description: 'STUN servers given to browsers (comma separated, e.g. stun:turn.example.com:3478). Empty: none. The Calls setting in server administration overrides it.',
		schema: stringWithDefault('')
	},
	TURN_URLS: {
		description: 'TURN servers given to browsers with short-lived credentials (comma separated, e.g. turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349). Needs TURN_SECRET. The Calls setting in server administration overrides it.',
		schema: stringWithDefault('')
	},
	TURN_SECRET: {
		description: 'Shared secret of the TURN server (coturn static-auth-secret with use-auth-secret), at least 32 random bytes.',
		schema: optionalString
	},
	TURN_TTL_SECONDS: {
		description: 'Lifetime of the TURN credentials the server issues when someone joins a call.',
		schema: integer('TURN_TTL_SECONDS', 3600, 60, 172800)
	},
	WS_MAX_BUFFERED_BYTES: {
		description: 'Outgoing bytes a client may have queued for more than 5 s (or 4 times this at any moment) before it is disconnected as too slow (it resumes on reconnect).',
		schema: integer('WS_MAX_BUFFERED_BYTES', 4194304, 65536, 268435456)
	}
});
