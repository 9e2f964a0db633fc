// The client side of /ws: one object for the whole life of the page. Its state machine:
//
//   idle ──start()──▶ connecting ──ready frame──▶ open
//                        ▲   │                     │
//                        │   └──fail/close──▶ waiting (back-off) ◀──close / missed pong──┘
//                        └──────────timer───────────┘
//   any state ──stop() or terminal close code (signed out)──▶ closed ──start()──▶ connecting
//
// Every socket attempt has a generation number; events from a superseded socket are ignored, so
// a late close of an old socket cannot tear down the new one. Requests carry ids and resolve with
// the matching ack (or reject with the matching error); a drop rejects them with Disconnected, and
// callers that must not lose anything (the outbox) retry them after the next `ready`.
import { CloseCode, TERMINAL_CLOSE_CODES } from '#lib/shared/protocol/codes.ts';
import {
	parseServerFrame,
	type ClientFrame,
	type ServerFrame,
	type ServerFrameOf
} from '#lib/shared/protocol/frames.ts';
import { exponentialBackoff, type ReconnectPolicy } from './reconnect-policy.ts';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';

/** The part of the WebSocket API used here; the browser's WebSocket and the `ws` package both fit. */
export interface WebSocketLike {
	readonly readyState: number;
	send(data: string): void;
	close(code?: number, reason?: string): void;
	onopen: ((event: never) => void) | null;
	onmessage: ((event: { data: unknown }) => void) | null;
	onclose: ((event: { code: number; reason: string }) => void) | null;
	onerror: ((event: never) => void) | null;
}

export type SocketFactory = (url: string) => WebSocketLike;

/** The server answered a request with an error frame. */
export class RequestFailed extends Error {
	readonly code: string;
	readonly retryAfterMs: number | undefined;
	constructor(code: string, message: string, retryAfterMs?: number) {
		super(message);
		this.name = 'RequestFailed';
		this.code = code;
		this.retryAfterMs = retryAfterMs;
	}
	/** Worth retrying unchanged (the request itself was fine). */
	get retryable(): boolean {
		return this.code === 'rate_limited' || this.code === 'internal' || this.code === 'unavailable';
	}
}

/** The connection dropped (or was not open) before an answer arrived; the outcome is unknown. */
export class Disconnected extends Error {
	constructor(message = 'Not connected') {
		super(message);
		this.name = 'Disconnected';
	}
}

type Events = {
	state: (state: ConnectionState) => void;
	ready: (frame: ServerFrameOf<'ready'>) => void;
	frame: (frame: ServerFrame) => void;
	/** Closed for good (signed out, session revoked). */
	terminated: (code: number, reason: string) => void;
};

type PendingRequest = { resolve: (result: Record<string, unknown>) => void; reject: (error: Error) => void; timer: ReturnType<typeof setTimeout> };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type RequestFrame = DistributiveOmit<Extract<ClientFrame, { id: string }>, 'id'>;

export type ConnectionOptions = {
	url: string;
	createSocket: SocketFactory;
	policy?: ReconnectPolicy;
	/** How long to wait for `ready` after opening a socket. */
	connectTimeoutMs?: number;
	/** How long a request may wait for its answer. */
	requestTimeoutMs?: number;
	/** Ping interval; the server's `ready` can only lower it. */
	pingIntervalMs?: number;
	/** A ping unanswered (no frame at all) for this long means the connection is dead. */
	pongTimeoutMs?: number;
};

export class RealtimeConnection {
	state: ConnectionState = 'idle';
	/** Reconnects since the page started; useful for UI and tests. */
	reconnects = 0;
	#options: Required<ConnectionOptions>;
	#listeners: { [K in keyof Events]: Set<Events[K]> } = { state: new Set(), ready: new Set(), frame: new Set(), terminated: new Set() };
	#socket: WebSocketLike | null = null;
	#generation = 0;
	#failures = 0;
	#everOpened = false;
	/** The browser reported the network gone: no attempts until it comes back. */
	#networkDown = false;
	#nextRequestId = 0;
	#pending = new Map<string, PendingRequest>();
	#timers: { retry?: ReturnType<typeof setTimeout>; connect?: ReturnType<typeof setTimeout>; ping?: ReturnType<typeof setInterval>; pong?: ReturnType<typeof setTimeout> } = {};

	constructor(options: ConnectionOptions) {
		this.#options = {
			policy: exponentialBackoff(),
			connectTimeoutMs: 15_000,
			requestTimeoutMs: 30_000,
			pingIntervalMs: 20_000,
			pongTimeoutMs: 10_000,
			...options
		};
	}

	on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
		this.#listeners[event].add(listener);
		return () => this.#listeners[event].delete(listener);
	}

	/**
	 * Connects. Also the way back from `closed`: after a terminal close the owner may find the
	 * browser holds a fresh session (a password change revokes every session but issues this device
	 * a new one) and start again.
	 */
	start(): void {
		if (this.state === 'idle' || this.state === 'waiting' || this.state === 'closed') this.#connect();
	}

	/** Closes for good (sign-out, page teardown). */
	stop(): void {
		this.#setState('closed');
		this.#teardown(new Disconnected('Connection stopped'));
		this.#socket?.close(1000, 'client stopped');
		this.#socket = null;
	}

	/** Skips the back-off wait (the browser came back online, the tab became visible). */
	reconnectNow(): void {
		if (this.state === 'waiting' && !this.#networkDown) {
			clearTimeout(this.#timers.retry);
			this.#connect();
		}
	}

	/**
	 * The browser's view of the network (online/offline events). Going offline drops the socket at
	 * once: a socket can look open for a long time after the network is gone (until the heartbeat
	 * gives up), and meanwhile requests would vanish into it. No attempt is made while offline;
	 * coming back online connects straight away instead of waiting out the back-off.
	 */
	setNetworkAvailable(available: boolean): void {
		if (!available) {
			if (this.#networkDown) return;
			this.#networkDown = true;
			clearTimeout(this.#timers.retry);
			if (this.state === 'open' || this.state === 'connecting') this.#abandon('network lost');
			return;
		}
		if (!this.#networkDown) return;
		this.#networkDown = false;
		if (this.state === 'waiting') {
			clearTimeout(this.#timers.retry);
			this.#connect();
		}
	}

	/** Sends a frame that expects an answer; resolves with the ack's result. */
	request(frame: RequestFrame): Promise<Record<string, unknown>> {
		if (this.state !== 'open' || !this.#socket) return Promise.reject(new Disconnected());
		const id = `r${++this.#nextRequestId}`;
		const socket = this.#socket;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new Disconnected('No answer from the server in time'));
			}, this.#options.requestTimeoutMs);
			this.#pending.set(id, { resolve, reject, timer });
			socket.send(JSON.stringify({ ...frame, id }));
		});
	}

	/** Sends a frame that expects no answer (typing, presence); dropped when not connected. */
	send(frame: Extract<ClientFrame, { t: 'typing' | 'presence' | 'read' }>): boolean {
		if (this.state !== 'open' || !this.#socket) return false;
		this.#socket.send(JSON.stringify(frame));
		return true;
	}

	// ------------------------------------------------------------------------------------------

	#emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>) {
		for (const listener of this.#listeners[event]) (listener as (...a: Parameters<Events[K]>) => void)(...args);
	}

	#setState(state: ConnectionState) {
		if (this.state === state) return;
		this.state = state;
		this.#emit('state', state);
	}

	#connect() {
		const generation = ++this.#generation;
		this.#setState('connecting');
		let socket: WebSocketLike;
		try {
			socket = this.#options.createSocket(this.#options.url);
		} catch {
			this.#scheduleRetry();
			return;
		}
		this.#socket = socket;
		socket.onmessage = (event) => {
			if (generation === this.#generation) this.#onMessage(event.data);
		};
		socket.onclose = (event) => {
			if (generation === this.#generation) this.#onClose(event.code, event.reason);
		};
		socket.onerror = () => {
			// A close event always follows; it decides what to do.
		};
		this.#timers.connect = setTimeout(() => {
			if (generation === this.#generation && this.state === 'connecting') this.#abandon('connect timeout');
		}, this.#options.connectTimeoutMs);
	}

	#onMessage(data: unknown) {
		// Any frame proves the connection is alive.
		clearTimeout(this.#timers.pong);
		this.#timers.pong = undefined;
		const parsed = parseServerFrame(typeof data === 'string' ? data : String(data));
		if (!parsed.ok) return; // A newer server may send frames this client does not know yet.
		const frame = parsed.frame;
		switch (frame.t) {
			case 'ready':
				clearTimeout(this.#timers.connect);
				if (this.#everOpened) this.reconnects += 1;
				this.#everOpened = true;
				this.#failures = 0;
				this.#startHeartbeat(Math.min(this.#options.pingIntervalMs, frame.heartbeatMs));
				this.#setState('open');
				this.#emit('ready', frame);
				return;
			case 'ack':
			case 'error': {
				const pending = frame.id ? this.#pending.get(frame.id) : undefined;
				if (pending) {
					this.#pending.delete(frame.id!);
					clearTimeout(pending.timer);
					if (frame.t === 'ack') pending.resolve(frame.result ?? {});
					else pending.reject(new RequestFailed(frame.code, frame.message, frame.retryAfterMs));
					return;
				}
				if (frame.t === 'error') this.#emit('frame', frame);
				return;
			}
			case 'pong':
				return;
			case 'reconnect':
				// The server is restarting: leave now, come back after its hint.
				this.#abandon('server restart', frame.afterMs);
				return;
			default:
				this.#emit('frame', frame);
		}
	}

	#onClose(code: number, reason: string) {
		this.#teardown(new Disconnected(`Connection closed (${code})`));
		this.#socket = null;
		if (this.state === 'closed') return;
		if (TERMINAL_CLOSE_CODES.has(code)) {
			this.#setState('closed');
			this.#emit('terminated', code, reason);
			return;
		}
		this.#scheduleRetry();
	}

	/** Gives up on the current socket without waiting for its close event (which may never come). */
	#abandon(why: string, retryAfterMs?: number) {
		const socket = this.#socket;
		this.#generation += 1; // ignore anything the old socket still reports
		this.#socket = null;
		this.#teardown(new Disconnected(`Connection lost (${why})`));
		try {
			socket?.close(CloseCode.heartbeatTimeout, why);
		} catch {
			// already closing
		}
		if (this.state !== 'closed') this.#scheduleRetry(retryAfterMs);
	}

	#scheduleRetry(delayMs?: number) {
		this.#failures += 1;
		this.#setState('waiting');
		clearTimeout(this.#timers.retry);
		if (this.#networkDown) return; // setNetworkAvailable(true) connects when the network is back
		this.#timers.retry = setTimeout(() => this.#connect(), delayMs ?? this.#options.policy.delayMs(this.#failures));
	}

	#startHeartbeat(intervalMs: number) {
		clearInterval(this.#timers.ping);
		this.#timers.ping = setInterval(() => {
			if (this.state !== 'open' || !this.#socket) return;
			this.#socket.send(JSON.stringify({ t: 'ping', id: `p${++this.#nextRequestId}` }));
			// The deadline runs from the first unanswered ping: later pings must not push it back,
			// or a connection pinged more often than the timeout would never be declared dead.
			this.#timers.pong ??= setTimeout(() => this.#abandon('heartbeat timeout'), this.#options.pongTimeoutMs);
		}, intervalMs);
	}

	#teardown(error: Error) {
		clearTimeout(this.#timers.connect);
		clearTimeout(this.#timers.pong);
		this.#timers.pong = undefined;
		clearInterval(this.#timers.ping);
		for (const pending of this.#pending.values()) {
			clearTimeout(pending.timer);
			pending.reject(error);
		}
		this.#pending.clear();
	}
}
