// The /ws endpoint: upgrade checks (path, Origin, session cookie, connection caps), then per frame:
// size limit (enforced by ws), rate limit, schema validation, dispatch to the frame's handler.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import DataLoader from 'dataloader';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { CloseCode, ErrorCode } from '#lib/shared/protocol/codes.ts';
import { parseClientFrame, type ClientFrame } from '#lib/shared/protocol/frames.ts';
import type { AppContext } from '#lib/server/context.ts';
import { AppError } from '#lib/server/errors.ts';
import { readCookie, sessionCookieName } from '#lib/server/auth/cookies.ts';
import { standingOf } from '#lib/server/auth/two-factor-policy.ts';
import { clientIp } from '#lib/server/client-ip.ts';
import { safeError } from '#lib/server/logger.ts';
import { requestIdFrom } from '#lib/server/request-id.ts';
import { batchWindow } from './batch-window.ts';
import { Connection, type ConnectionIdentity } from './connection.ts';
import { handlers, type HandlerContext } from './handlers.ts';
import { Hub } from './hub.ts';
import type { CallService } from '../calls/call-service.ts';
import { ClusterCalls } from '../calls/cluster-calls.ts';

export const WS_PATH = '/ws';
// Session lookups of simultaneous upgrades per statement: large enough for a storm, small enough
// that one statement stays short.
const UPGRADE_BATCH_MAX = 500;
// How often the heartbeat takes its next turn (each turn pings its share of the connections).
const HEARTBEAT_TURN_MS = 100;
// While upgrades keep coming, a session lookup waits this long after the previous one (see
// batch-window.ts): a few milliseconds more to connect, under load only, for a statement shared by
// many upgrades instead of one each.
const UPGRADE_BATCH_WINDOW_MS = 5;

export type RealtimeServer = { hub: Hub; close(): Promise<void> };

export function attachRealtime(app: AppContext, server: Server, calls: CallService): RealtimeServer {
	const limits = app.config.limits;
	const hub = new Hub(app);
	const log = app.log.child({ component: 'realtime' });
	const metrics = app.metrics;
	// The upgrade request's id (X-Request-ID, or a fresh one): on every log line of the upgrade and
	// of the connection it becomes, and echoed in the 101 response, as for HTTP requests.
	const requestIds = new WeakMap<IncomingMessage, string>();
	// Upgrades that arrive in the same turn of the event loop (a reconnect storm after a restart
	// brings thousands within seconds) share one session lookup instead of running one each.
	// No renewal: an upgrade response cannot carry the renewed cookie, and a session extended
	// without it looks fresh to the next HTTP request, which then never re-sends the cookie.
	const sessionsOfUpgrades = new DataLoader((tokens: readonly string[]) => app.services.accounts.validateSessions(tokens, { renew: false }), {
		cache: false,
		batchScheduleFn: batchWindow(UPGRADE_BATCH_WINDOW_MS),
		maxBatchSize: UPGRADE_BATCH_MAX
	});
	const wss = new WebSocketServer({
		noServer: true,
		maxPayload: limits.wsMaxFrameBytes,
		// Compression costs CPU and memory per socket, and compressing secrets alongside attacker
		// data invites CRIME-style attacks; message payloads are (or will be) ciphertext anyway.
		perMessageDeflate: false
	});

	const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
		const url = request.url ?? '';
		if (url !== WS_PATH && !url.startsWith(`${WS_PATH}?`)) {
			// Another upgrade handler (Vite's HMR in development) may take it. With none, an unanswered
			// upgrade would hold the socket open forever: refuse it.
			if (server.listenerCount('upgrade') === 1) rejectUpgrade(socket, 404, 'Not Found');
			return;
		}
		const requestId = requestIdFrom(request.headers['x-request-id']);
		requestIds.set(request, requestId);
		void upgrade(request, socket, head, requestId).catch((error) => {
			log.error({ err: safeError(error), requestId }, 'upgrade failed');
			rejectUpgrade(socket, 500, 'Internal Server Error', requestId);
		});
	};

	async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, requestId: string) {
		if (app.state.shuttingDown) return rejectUpgrade(socket, 503, 'Service Unavailable', requestId);
		// Cross-site WebSocket hijacking: browsers attach cookies to cross-origin upgrades, so the
		// Origin must be one of ours.
		const origin = request.headers.origin;
		if (!origin || !app.origins.has(origin)) {
			log.info({ origin: origin ?? null, requestId }, 'rejected /ws upgrade from a foreign origin');
			return rejectUpgrade(socket, 403, 'Forbidden', requestId);
		}
		const ip = clientIp(request.socket.remoteAddress, request.headers['x-forwarded-for'], app.config.trustedProxies, app.config.hasTrustedProxies);
		const token = readCookie(request.headers.cookie, sessionCookieName(app.config));
		const auth = token ? await sessionsOfUpgrades.load(token) : null;
		// In cluster mode the caps count the other nodes' sockets too (a Redis round trip, so before the upgrade).
		const elsewhere = auth ? await hub.countsElsewhere(ip, auth.user.id) : undefined;

		// The 101 response waits in the socket until the connection is registered, and leaves with
		// `ready` and the presence snapshot in one write: one syscall per connection instead of two
		// (the 101's own write was ~6 % of the server's CPU while 5,000 connected). The client can do
		// nothing before `ready` anyway.
		socket.cork();
		let registered = null as Promise<void> | null;
		try {
			wss.handleUpgrade(request, socket, head, (ws) => {
				// Refusals after the upgrade carry a close code the client can act on (a failed HTTP
				// upgrade reaches browser code only as an anonymous 1006).
				if (!auth) return refuse(ws, CloseCode.unauthenticated, 'sign in required');
				if (standingOf(auth.user, app.services.instance.twoFactorPolicy()).blocked) return refuse(ws, CloseCode.twoFactorRequired, 'two-factor required');
				const refusal = hub.admissionCheck(ip, auth.user.id, elsewhere);
				if (refusal) return refuse(ws, refusal.code, refusal.reason);
				registered = open(ws, { id: crypto.randomUUID(), userId: auth.user.id, sessionId: auth.session.id, ip, presenceChoice: auth.presenceChoice }, requestId);
			});
		} finally {
			if (registered) void registered.finally(() => socket.uncork());
			else socket.uncork();
		}
	}

	// One closure for every connection's rate limit, not one each.
	const rateScale = () => app.services.instance.rateLimitFactor();

	/** Makes an admitted socket a connection; resolves once it is registered (or failed to). */
	function open(ws: WebSocket, identity: ConnectionIdentity, requestId: string): Promise<void> {
		const conn = new Connection(ws, identity, {
			log,
			requestId,
			ratePerSecond: limits.wsRatePerSecond,
			rateBurst: limits.wsRateBurst,
			rateScale,
			maxBufferedBytes: limits.wsMaxBufferedBytes
		});
		return serve(ws, conn);
	}

	wss.on('headers', (headers, request) => {
		const requestId = requestIds.get(request);
		if (requestId) headers.push(`X-Request-ID: ${requestId}`);
	});

	/** Closes a socket that never became a connection (no session, caps reached). */
	function refuse(ws: WebSocket, code: number, reason: string) {
		metrics.wsClosed(code);
		ws.close(code, reason);
	}

	// The heartbeat's slots (see the heartbeat below): one turn per HEARTBEAT_TURN_MS of the interval.
	const heartbeatSlots = Array.from({ length: Math.max(1, Math.round(limits.heartbeatMs / HEARTBEAT_TURN_MS)) }, () => new Set<Connection>());
	let nextHeartbeatSlot = 0;

	// What each socket's listeners need, found from the socket (ws calls listeners with `this` set to
	// it). The listeners are shared by every connection: four closures and their context per socket
	// were ~0.4 kB of each open connection's memory.
	type Served = HandlerContext & { heartbeatSlot: Set<Connection>; openedAt: number };
	const served = new WeakMap<WebSocket, Served>();

	function onPong(this: WebSocket) {
		const ctx = served.get(this);
		if (ctx) ctx.conn.alive = true;
	}

	function onMessage(this: WebSocket, data: RawData, isBinary: boolean) {
		const ctx = served.get(this);
		if (ctx) onFrame(ctx, data, isBinary);
	}

	function onClose(this: WebSocket, code: number) {
		const ctx = served.get(this);
		if (!ctx) return;
		const conn = ctx.conn;
		conn.closed = true;
		ctx.heartbeatSlot.delete(conn);
		// The code the server closed with, when it did; otherwise the client's (or 1006).
		const closeCode = conn.closeCode ?? code;
		metrics.wsClosed(closeCode);
		conn.logAt('info', { code: closeCode, seconds: Math.round((performance.now() - ctx.openedAt) / 1000) }, 'ws closed');
		hub.unregister(conn);
		// A dead socket's call peer frees its transports, producers and consumers at once.
		calls.connectionClosed(conn);
		clusterCalls?.connectionClosed(conn);
	}

	function onError(this: WebSocket, error: Error) {
		const conn = served.get(this)?.conn;
		if (!conn) return;
		conn.closeCode ??= protocolErrorCloseCode(error);
		conn.logAt('debug', { err: safeError(error) }, 'socket error');
	}

	function serve(ws: WebSocket, conn: Connection): Promise<void> {
		const heartbeatSlot = heartbeatSlots[nextHeartbeatSlot++ % heartbeatSlots.length]!;
		heartbeatSlot.add(conn);
		served.set(ws, { app, hub, conn, calls, heartbeatSlot, openedAt: performance.now() });
		// One line when a connection opens and one when it closes (with why), like the request log:
		// they carry the upgrade's request id, so a socket can be traced from the proxy's logs.
		conn.logAt('info', {}, 'ws connected');
		ws.on('pong', onPong);
		ws.on('message', onMessage);
		ws.on('close', onClose);
		ws.on('error', onError);
		return hub.register(conn).catch((error) => {
			conn.log.error({ err: safeError(error) }, 'registering connection failed');
			conn.close(CloseCode.internal, 'internal error');
		});
	}

	function onFrame(ctx: HandlerContext, data: RawData, isBinary: boolean) {
		const conn = ctx.conn;
		// Frames still arriving after the server closed the connection are not served (nor counted):
		// the client resends what was not acknowledged when it reconnects.
		if (conn.closed) return;
		if (isBinary) {
			metrics.wsFrameRejected('binary');
			conn.sendError(undefined, ErrorCode.badFrame, 'binary frames are not supported');
			return conn.strike();
		}
		const retryAfterMs = conn.bucket.take();
		const parsed = parseClientFrame(rawToString(data));
		if (!parsed.ok) {
			// Never log the frame: it may hold a message body.
			metrics.wsFrameRejected('invalid');
			conn.sendError(parsed.id, ErrorCode.badFrame, parsed.error);
			return conn.strike();
		}
		const frame = parsed.frame;
		const requestId = 'id' in frame ? frame.id : undefined;
		if (retryAfterMs > 0) {
			metrics.wsFrameRejected('rate_limited');
			metrics.rateLimited('ws');
			conn.sendError(requestId, ErrorCode.rateLimited, 'Slow down: too many frames.', retryAfterMs);
			return conn.strike();
		}
		void dispatch(ctx, frame, requestId);
	}

	async function dispatch(ctx: HandlerContext, frame: ClientFrame, requestId: string | undefined) {
		// Cluster mode: a call frame may belong to a call on another node, which answers it.
		if (clusterCalls && frame.t.startsWith('call.')) {
			try {
				if (await clusterCalls.route(ctx.conn, frame)) return;
			} catch (error) {
				// Refused before routing (no access to the channel): the same answer the call's node would give.
				if (error instanceof AppError) return ctx.conn.sendError(requestId, error.code, error.message, error.retryAfterMs);
				ctx.conn.log.warn({ err: safeError(error), frame: frame.t }, 'call routing failed; serving the frame here');
			}
		}
		await dispatchHere(ctx, frame, requestId);
	}

	async function dispatchHere(ctx: HandlerContext, frame: ClientFrame, requestId: string | undefined) {
		try {
			await (handlers[frame.t] as (ctx: HandlerContext, frame: ClientFrame) => Promise<void> | void)(ctx, frame);
		} catch (error) {
			if (error instanceof AppError) {
				ctx.conn.sendError(requestId, error.code, error.message, error.retryAfterMs);
			} else {
				ctx.conn.log.error({ err: safeError(error), frame: frame.t }, 'frame handler failed');
				ctx.conn.sendError(requestId, ErrorCode.internal, 'Something went wrong on the server. Retry in a moment.');
			}
		}
	}

	// Heartbeat: a connection that did not answer the previous ping is dead (laptop closed, network
	// gone) and is dropped; the pings also keep idle sockets alive through proxies.
	//
	// Connections are pinged in turns, one every HEARTBEAT_TURN_MS, each turn the connections of its
	// slot (filled in turn as they open), not all at once: 5,000 pings in one timer callback held the
	// event loop for tens of milliseconds every interval, and every message in flight meanwhile
	// waited (the bench's p99); 20 turns per interval still left ~10 ms turns. Each connection is
	// still checked once per interval.
	let heartbeatTurn = 0;
	const heartbeat = setInterval(() => {
		heartbeatTurn = (heartbeatTurn + 1) % heartbeatSlots.length;
		for (const conn of heartbeatSlots[heartbeatTurn]!) {
			if (!conn.alive) {
				conn.terminate(CloseCode.heartbeatTimeout);
				continue;
			}
			conn.alive = false;
			conn.ping();
		}
	}, limits.heartbeatMs / heartbeatSlots.length);
	heartbeat.unref();

	// Cluster mode: call frames relayed from sockets on other nodes run here like local ones, on a
	// stand-in connection whose answers travel back (server/calls/cluster-calls.ts). The call
	// handlers use only send/sendError/log of the connection and hand it to the CallService.
	const clusterCalls = app.cluster
		? new ClusterCalls(app, app.cluster, calls, (participant, frame) =>
				dispatchHere({ app, hub, conn: participant as unknown as Connection, calls }, frame, 'id' in frame ? frame.id : undefined)
			)
		: null;

	server.on('upgrade', onUpgrade);
	app.realtime = hub;

	return {
		hub,
		async close() {
			await clusterCalls?.close();
			clearInterval(heartbeat);
			server.off('upgrade', onUpgrade);
			hub.shutdown();
			await new Promise<void>((resolve) => wss.close(() => resolve()));
		}
	};
}

/**
 * The close code ws sends when a client breaks the protocol (frame over maxPayload, invalid UTF-8,
 * bad framing). ws stops reading at once, so its own `close` event reports 1006 instead.
 */
function protocolErrorCloseCode(error: Error): number | undefined {
	const code = (error as { code?: unknown }).code;
	if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) return undefined;
	if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return CloseCode.tooBig;
	return code === 'WS_ERR_INVALID_UTF8' ? 1007 : 1002;
}

function rawToString(data: RawData): string {
	if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
	if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
	return data.toString('utf8');
}

function rejectUpgrade(socket: Duplex, status: number, text: string, requestId?: string) {
	if (!socket.writable) return socket.destroy();
	const idHeader = requestId ? `X-Request-ID: ${requestId}\r\n` : '';
	socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n${idHeader}Content-Length: 0\r\n\r\n`);
}
