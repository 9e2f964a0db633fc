// The one process Hearth runs as: configuration → database (migrated) → services → an HTTP server
// that serves the SvelteKit app and upgrades /ws on the same port. `npm start` serves the built
// app (build/handler.js); `npm run dev` mounts Vite in middleware mode for hot reload instead.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, allowedOrigins, loadConfig, type Config } from '#lib/server/config/config.ts';
import { createAppContext, type AppContext } from '#lib/server/context.ts';
import { registerAppContext } from '#lib/server/app-context.ts';
import { createLogger, safeError, type Logger } from '#lib/server/logger.ts';
import { formatPreflightReport, preflightReport } from '#lib/server/config/preflight.ts';
import { serveMetrics } from './metrics-endpoint.ts';
import { attachRealtime, WS_PATH, type RealtimeServer } from './realtime/ws-server.ts';
import { CallService } from './calls/call-service.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

const root = fileURLToPath(new URL('..', import.meta.url));
const dev = process.argv.includes('--dev');

// How long shutdown waits for in-flight writes and requests before exiting anyway.
const SHUTDOWN_GRACE_MS = 10_000;
// Retention is counted in days; purging hourly keeps the log within an hour of the limit.
const AUDIT_PURGE_INTERVAL_MS = 60 * 60_000;
// Connections the kernel holds for us until they are accepted. After a restart or a network blip
// every client reconnects within a second; Node's default (511) overflowed while one turn of the
// event loop answered a batch of them, and each dropped SYN costs its client a retransmit 1, 3, 7 s
// later (the bench's reconnect storm: a tail of 10 s and more for a few hundred of 4,900). Linux
// caps this at net.core.somaxconn (4096 by default since 5.4).
const LISTEN_BACKLOG = 4096;

function readVersion(): string {
	try {
		return (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }).version;
	} catch {
		return '0.0.0';
	}
}

/** In development, http://127.0.0.1:PORT and http://[::1]:PORT reach the same app as localhost. */
function originsFor(config: Config): Set<string> {
	const origins = allowedOrigins(config);
	if (config.env !== 'production' && config.origin?.startsWith('http://localhost:')) {
		const port = new URL(config.origin).port;
		origins.add(`http://127.0.0.1:${port}`);
		origins.add(`http://[::1]:${port}`);
	}
	return origins;
}

async function loadHandler(server: ReturnType<typeof createServer>, attachmentMaxBytes: number): Promise<{ handler: Handler; close(): Promise<void> }> {
	if (dev) {
		const { createServer: createVite } = await import('vite');
		const vite = await createVite({
			root,
			appType: 'custom',
			server: { middlewareMode: true, hmr: { server } }
		});
		return { handler: vite.middlewares as unknown as Handler, close: () => vite.close() };
	}
	const path = `${root}build/handler.js`;
	// adapter-node refuses bodies over BODY_SIZE_LIMIT (512 KB by default) before any route runs,
	// which would cap encrypted attachments. Routes bound their own bodies (JSON, icon,
	// attachments counted while streaming), so the adapter's bound is the attachment ceiling.
	process.env.BODY_SIZE_LIMIT ??= String(Math.max(attachmentMaxBytes, 512 * 1024));
	try {
		const { handler } = (await import(pathToFileURL(path).href)) as { handler: Handler };
		return { handler, close: async () => {} };
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
			throw new Error('The app is not built yet: run `npm run build` first (or `npm run dev`).');
		}
		throw error;
	}
}

/**
 * Start-up leaves 15–30 MB of garbage in V8's old and large-object spaces (Node's TypeScript
 * stripping loads and compiles its own WebAssembly compiler, module sources are wrapped and
 * compiled), and a young generation grown to its maximum by start-up's allocations. V8 keeps both
 * until a memory-reducing collection, which an idle server may not get for a long time: the idle
 * footprint depended on whether a major collection had happened during start-up (146 or 162 MB on
 * PostgreSQL). One memory-reducing collection once ready (a few tens of ms, once) makes the idle
 * footprint the live one: ~103 MB on PostgreSQL, ~205 MB on PGlite. The young generation grows back
 * as soon as there is load (the bench's "connected" figure includes that). `gc` exists because
 * SERVER_NODE_FLAGS has --expose-gc; started without it, this does nothing.
 */
function collectStartupGarbage(): void {
	(globalThis as { gc?: (options: object) => void }).gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

export async function start(env: Record<string, string | undefined> = process.env) {
	let config: Config;
	try {
		config = loadConfig(env);
	} catch (error) {
		if (error instanceof ConfigError) {
			console.error(error.message);
			process.exit(1);
		}
		throw error;
	}
	const log: Logger = createLogger(config.logLevel);
	const app: AppContext = await createAppContext({
		config,
		log,
		version: readVersion(),
		migrationsFolder: `${root}drizzle`
	});
	registerAppContext(app);

	let handler: Handler = (_req, res) => {
		res.statusCode = 503;
		res.end('Starting');
	};
	const server = createServer((req, res) => {
		if (serveMetrics(app, req, res)) return;
		handler(req, res, () => {
			res.statusCode = 404;
			res.end('Not found');
		});
	});
	// Idle keep-alive sockets should outlive typical proxy keep-alives (60 s) to avoid races.
	server.keepAliveTimeout = 65_000;
	// Never fails: without a mediasoup worker, calls are reported unavailable and the rest runs.
	const calls = await CallService.start(app);
	app.calls = calls;
	const realtime: RealtimeServer = attachRealtime(app, server, calls);

	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, () => resolve());
	});
	const address = server.address();
	const port = typeof address === 'object' && address ? address.port : config.port;
	if (!config.origin) config.origin = `http://localhost:${port}`;
	for (const origin of originsFor(config)) app.origins.add(origin);

	const loaded = await loadHandler(server, config.limits.attachmentMaxBytes);
	handler = loaded.handler;

	const purgeAuditLog = () =>
		app.services.auditLog
			.purge()
			.then((count) => count > 0 && log.info({ count, retentionDays: config.auditLogRetentionDays }, 'purged old audit log entries'))
			.catch((error: unknown) => log.warn({ err: safeError(error) }, 'audit log purge failed'));
	// The first purge finishes before the server reports ready: entries past retention are never
	// served after a restart (the test of the setting once read them back before the purge ran).
	await purgeAuditLog();
	app.state.ready = true;
	const auditPurgeTimer = setInterval(purgeAuditLog, AUDIT_PURGE_INTERVAL_MS);
	auditPurgeTimer.unref();
	// Disappearing messages: at start (what expired while the server was down), then every minute.
	app.services.disappearing.start(
		(error) => log.warn({ err: safeError(error) }, 'disappearing messages sweep failed'),
		(counts) => (counts.messages > 0 || counts.attachments > 0) && log.info(counts, 'deleted expired messages')
	);

	const report = preflightReport(config, app.origins, calls, app.cluster);
	log.info({ preflight: report }, 'preflight report');
	// Operators read this one in `docker logs` or a terminal; production always prints it.
	if (config.env === 'production' || process.stdout.isTTY) console.error(formatPreflightReport(report));

	log.info(
		{ port, host: config.host, database: app.database.kind, mode: config.env, dev, url: config.origin, ws: WS_PATH },
		`Hearth is running: open ${config.origin}`
	);
	// A plain line for people reading the terminal (the JSON line above is for machines).
	if (process.stdout.isTTY) console.log(`\n  Hearth is ready: ${config.origin}\n`);
	collectStartupGarbage();

	let stopping: Promise<void> | undefined;
	const stop = (signal: string) => {
		stopping ??= (async () => {
			log.info({ signal }, 'shutting down');
			app.state.shuttingDown = true;
			app.state.ready = false;
			const force = setTimeout(() => {
				log.error('shutdown took too long; exiting');
				process.exit(1);
			}, SHUTDOWN_GRACE_MS);
			force.unref();
			clearInterval(auditPurgeTimer);
			app.services.disappearing.stop();
			server.close();
			server.closeIdleConnections();
			// Finish what was accepted (those clients get their acks), then tell everyone to reconnect.
			app.writer.close();
			await app.writer.drain();
			calls.close();
			await realtime.close();
			// After the sockets: notices of the last writes are still sent to the other nodes.
			await app.cluster?.close();
			await loaded.close();
			server.closeAllConnections();
			await app.database.close();
			log.info('stopped');
			process.exit(0);
		})().catch((error) => {
			log.error({ err: safeError(error) }, 'shutdown failed');
			process.exit(1);
		});
	};
	process.once('SIGTERM', () => stop('SIGTERM'));
	process.once('SIGINT', () => stop('SIGINT'));
	return { app, server, port };
}

if (import.meta.main) {
	start().catch((error) => {
		console.error(`Hearth failed to start: ${error instanceof Error ? error.message : String(error)}`);
		process.exit(1);
	});
}
