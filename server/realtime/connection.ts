// One authenticated /ws connection: its identity, its subscriptions, its rate limit and heartbeat
// state, and safe sending (slow consumers are disconnected instead of buffering without bound).
import type { Duplex } from 'node:stream';
import * as ws from 'ws';
import { CloseCode } from '#lib/shared/protocol/codes.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';
import type { Logger } from '#lib/server/logger.ts';
import type { PresenceChoice } from '#lib/shared/profile.ts';
import { TokenBucket } from './token-bucket.ts';

export type ConnectionIdentity = {
	id: string;
	userId: string;
	sessionId: string;
	ip: string;
	/** The presence the user had chosen when this socket signed in (the hub keeps it current after). */
	presenceChoice?: PresenceChoice;
};

// Invalid frames and rate-limit violations tolerated before the connection is closed: enough for a
// buggy client to see its errors, too few for abuse to cost much.
const MAX_STRIKES = 20;
// ws has no drain event; polling this often costs nothing next to the transfer being waited for.
const DRAIN_POLL_MS = 10;
// A client may stay over WS_MAX_BUFFERED_BYTES this long (a burst it is still reading) before it
// counts as slow: long enough for a phone on a weak network to catch up, short enough that a
// stuck client does not hold megabytes for minutes.
const SLOW_CONSUMER_GRACE_MS = 5_000;
// Over this multiple of the limit a client is cut off at once, whatever the grace period says.
const HARD_BUFFER_FACTOR = 4;
// Bytes sent as a text frame (the protocol is JSON text; ws would send a Buffer as binary).
const TEXT_FRAME = { binary: false } as const;

type FrameOptions = { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean };
// ws's framing function (exported by ws, not declared in its typings).
const frameWithWs = (ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }).Sender.frame;

/**
 * A frame for many sockets, framed once: the UTF-8 payload, and the whole WebSocket text frame
 * (header and payload, unmasked, as a server sends it) ready to be written to each socket as is.
 * Through ws, every recipient would pay its framing again: measuring the payload, two option
 * objects, a header buffer, and a writev of two buffers instead of one write.
 */
export class SharedFrame {
	readonly payload: Buffer;
	readonly wire: Buffer;

	constructor(text: string) {
		const encoded = Buffer.from(text);
		// ws's own framing (the header for this length), so the bytes are exactly what ws would send.
		const [header] = frameWithWs(encoded, { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false });
		this.wire = Buffer.concat([header!, encoded]);
		// A view into the frame, not a second copy: cached frames (presence snapshots) hold one.
		this.payload = this.wire.subarray(header!.length);
	}
}

/** A server frame serialised and framed once, for sending to many connections. */
export function sharedFrame(frame: ServerFrame): SharedFrame {
	return new SharedFrame(JSON.stringify(frame));
}

export class Connection {
	readonly id: string;
	readonly userId: string;
	readonly sessionId: string;
	readonly ip: string;
	readonly presenceChoice: PresenceChoice;
	readonly bucket: TokenBucket;
	/** Communities and DM channels whose events this connection receives. */
	readonly communities = new Set<string>();
	readonly dms = new Set<string>();
	status: 'online' | 'idle' = 'online';
	alive = true;
	closed = false;
	/** The close code the server chose, when it closed the connection (metrics). */
	closeCode: number | undefined;
	#socket: ws.WebSocket;
	#log: Logger;
	/** The upgrade request's id, on this connection's log lines. */
	#requestId: string | undefined;
	#maxBufferedBytes: number;
	#strikes = 0;
	#corked = false;
	#overLimitSince: number | undefined;

	constructor(
		socket: ws.WebSocket,
		identity: ConnectionIdentity,
		options: {
			log: Logger;
			/** The upgrade request's id: every line about this connection carries it and the connection's ids. */
			requestId?: string;
			ratePerSecond: number;
			rateBurst: number;
			rateScale?: () => number;
			maxBufferedBytes: number;
		}
	) {
		this.#socket = socket;
		this.id = identity.id;
		this.userId = identity.userId;
		this.sessionId = identity.sessionId;
		this.presenceChoice = identity.presenceChoice ?? 'auto';
		this.ip = identity.ip;
		this.#log = options.log;
		this.#requestId = options.requestId;
		this.bucket = new TokenBucket(options.ratePerSecond, options.rateBurst, undefined, options.rateScale);
		this.#maxBufferedBytes = options.maxBufferedBytes;
	}

	/**
	 * A child logger with this connection's ids, made when a line is about to be written rather than
	 * kept: a pino child is ~0.5 kB (and its bindings another object), held by every open socket for
	 * the few lines (connected, closed, a warning) a connection ever logs.
	 */
	get log(): Logger {
		return this.#requestId === undefined ? this.#log : this.#log.child({ conn: this.id, user: this.userId, requestId: this.#requestId });
	}

	/**
	 * Writes one line about this connection, making the child logger only when `level` is on: the
	 * lines every socket writes (connected, closed) are info, and at LOG_LEVEL=warn making the child
	 * anyway was ~0.8 % of the server's CPU while 5,000 connected.
	 */
	logAt(level: 'debug' | 'info', fields: Record<string, unknown>, message: string): void {
		if (this.#log.isLevelEnabled(level)) this.log[level](fields, message);
	}

	send(frame: ServerFrame): void {
		this.sendRaw(JSON.stringify(frame));
	}

	/**
	 * Sends an already serialised frame. Fan-out passes a SharedFrame, encoded and framed once for
	 * all recipients: a string would be measured, encoded and framed again for every socket.
	 */
	sendRaw(text: string | SharedFrame): void {
		if (this.closed) return;
		if (this.#isSlowConsumer()) {
			// The client cannot keep up. Dropping frames silently would lose messages, so disconnect:
			// on reconnect it resumes from its cursors and gets everything, in order.
			this.log.warn({ bufferedBytes: this.#socket.bufferedAmount }, 'slow consumer: disconnecting');
			this.close(CloseCode.slowConsumer, 'slow consumer');
			return;
		}
		const raw = this.#corkUntilEndOfJob();
		if (typeof text === 'string') this.#socket.send(text);
		// The prepared frame goes straight to the TCP socket while the WebSocket is open. That is
		// what ws itself does with a frame (Sender.sendFrame writes it at once, in call order) as
		// long as it queues nothing: it queues only while compressing or reading a Blob, and this
		// server has compression off (ws-server.ts) and sends strings and buffers only. Otherwise
		// (closing, no raw socket) ws decides, as for any frame.
		else if (raw && this.#socket.readyState === ws.WebSocket.OPEN) raw.write(text.wire);
		else this.#socket.send(text.payload, TEXT_FRAME);
	}

	/**
	 * Over the buffer limit for longer than the grace period, or far over it at any moment. A burst
	 * (a large batch fanned out at once) can pass the limit for a few milliseconds even for a client
	 * that reads fast; only one that stays behind is slow. The hard cap bounds memory per connection.
	 */
	#isSlowConsumer(): boolean {
		const buffered = this.#socket.bufferedAmount;
		if (buffered <= this.#maxBufferedBytes) {
			this.#overLimitSince = undefined;
			return false;
		}
		const now = performance.now();
		this.#overLimitSince ??= now;
		return buffered > this.#maxBufferedBytes * HARD_BUFFER_FACTOR || now - this.#overLimitSince > SLOW_CONSUMER_GRACE_MS;
	}

	// A committed batch fans out many frames at once, several to the same connection when its
	// channels got several messages. Corking the TCP socket until the current job ends sends them in
	// one write (one syscall) instead of one each: at saturation the per-frame writev was the largest
	// cost of the server (bench/README.md). A single frame goes out at the end of the same job.
	// Returns the TCP socket, for writes of prepared frames (undefined when ws has none: no corking).
	#corkUntilEndOfJob(): Duplex | undefined {
		// ws keeps the underlying net.Socket in `_socket` (not in its typings).
		const raw = (this.#socket as unknown as { _socket?: Duplex })._socket;
		if (typeof raw?.cork !== 'function') return undefined;
		if (this.#corked) return raw;
		this.#corked = true;
		raw.cork();
		queueMicrotask(() => {
			this.#corked = false;
			raw.uncork();
		});
		return raw;
	}

	/**
	 * Resolves once at most `bytes` wait in the outgoing buffer (or the connection is closed).
	 * Long replies the client asked for (resume) wait here between frames, instead of filling the
	 * buffer and being mistaken for a slow consumer.
	 */
	async whenBufferBelow(bytes: number): Promise<void> {
		while (!this.closed && this.#socket.bufferedAmount > bytes) {
			await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
		}
	}

	get maxBufferedBytes(): number {
		return this.#maxBufferedBytes;
	}

	sendError(id: string | undefined, code: string, message: string, retryAfterMs?: number): void {
		this.send({ t: 'error', ...(id !== undefined ? { id } : {}), code, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
	}

	/** Records a protocol violation; closes the connection once there were too many. */
	strike(): void {
		this.#strikes += 1;
		if (this.#strikes > MAX_STRIKES) this.close(CloseCode.policyViolation, 'too many invalid or rate-limited frames');
	}

	ping(): void {
		if (!this.closed) this.#socket.ping();
	}

	close(code: number, reason: string): void {
		if (this.closed) return;
		this.closed = true;
		this.closeCode = code;
		this.#socket.close(code, reason);
		// A peer that never answers the close handshake must not hold the socket open.
		setTimeout(() => this.#socket.terminate(), 5_000).unref();
	}

	/** Drops the socket without a closing handshake (the peer is gone); `code` says why, for metrics. */
	terminate(code?: number): void {
		if (!this.closed) this.closeCode = code;
		this.closed = true;
		this.#socket.terminate();
	}

	get bufferedAmount(): number {
		return this.#socket.bufferedAmount;
	}
}
