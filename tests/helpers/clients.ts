// Clients for integration tests: an HTTP client with a cookie jar (it sends Origin like a browser
// does) built on the product's own ApiClient, and a raw /ws client that records every frame.
import WebSocket from 'ws';
import { ApiClient } from '#lib/client/api.ts';
import type { Me } from '#lib/shared/api-types.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';
import type { TestServer } from './test-server.ts';

export class CookieJar {
	readonly cookies = new Map<string, string>();
	header(): string {
		return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
	}
	store(response: Response) {
		for (const line of response.headers.getSetCookie()) {
			const [pair, ...attributes] = line.split(';');
			const index = pair!.indexOf('=');
			const name = pair!.slice(0, index).trim();
			const value = pair!.slice(index + 1).trim();
			const expired = attributes.some((a) => /^\s*max-age=0/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
			if (expired || value === '') this.cookies.delete(name);
			else this.cookies.set(name, value);
		}
	}
}

let counter = 0;
export function uniqueName(prefix = 'user'): string {
	counter += 1;
	return `${prefix}${process.pid % 1000}_${counter}_${Math.random().toString(36).slice(2, 6)}`.slice(0, 32);
}

export const PASSWORD = 'correct horse battery staple';

let ipCounter = 0;
/** A distinct client address (TEST-NET-3 range), sent as X-Forwarded-For through the trusted test proxy. */
export function uniqueIp(): string {
	ipCounter += 1;
	return `203.0.${Math.floor(ipCounter / 250) % 250}.${(ipCounter % 250) + 1}`;
}

export type ClientOptions = { ip?: string };

export class TestClient {
	readonly server: TestServer;
	readonly jar = new CookieJar();
	readonly api: ApiClient;
	/** The address this client appears to come from (X-Forwarded-For; see startServer's TRUSTED_PROXIES). */
	readonly ip: string;
	user!: Me;

	constructor(server: TestServer, options: ClientOptions = {}) {
		this.server = server;
		this.ip = options.ip ?? uniqueIp();
		this.api = new ApiClient({ baseUrl: server.url, fetch: (input, init) => this.fetch(String(input), init) });
	}

	/** fetch with this client's cookies and the app's Origin, like a browser on the app's page. */
	async fetch(url: string, init: RequestInit = {}): Promise<Response> {
		const headers = new Headers(init.headers);
		if (this.jar.cookies.size > 0 && !headers.has('cookie')) headers.set('cookie', this.jar.header());
		if (!headers.has('origin')) headers.set('origin', this.server.origin);
		// An empty Origin means "send none" (what non-browser clients and some privacy tools do).
		if (headers.get('origin') === '') headers.delete('origin');
		if (!headers.has('x-forwarded-for')) headers.set('x-forwarded-for', this.ip);
		const response = await fetch(url.startsWith('http') ? url : `${this.server.url}${url}`, { ...init, headers, redirect: 'manual' });
		this.jar.store(response);
		return response;
	}

	/** A state-changing JSON request with a valid CSRF token, returning the raw response. */
	async send(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<Response> {
		const token = await this.csrfToken();
		return this.fetch(path, {
			method,
			headers: { 'content-type': 'application/json', 'x-csrf-token': token, ...extraHeaders },
			body: body === undefined ? undefined : JSON.stringify(body)
		});
	}

	async csrfToken(): Promise<string> {
		const response = await this.fetch('/api/csrf');
		return ((await response.json()) as { token: string }).token;
	}

	static async signUp(
		server: TestServer,
		options: { username?: string; inviteCode?: string; displayName?: string; ip?: string } = {}
	): Promise<TestClient> {
		const client = new TestClient(server, { ip: options.ip });
		const username = options.username ?? uniqueName();
		const { user } = await client.api.post<{ user: Me }>('/api/auth/sign-up', {
			username,
			password: PASSWORD,
			...(options.displayName ? { displayName: options.displayName } : {}),
			...(options.inviteCode ? { inviteCode: options.inviteCode } : {})
		});
		client.user = user;
		return client;
	}

	/** Another session (another browser) of the same account, signed in with the test password. */
	async anotherSession(): Promise<TestClient> {
		const other = new TestClient(this.server);
		await other.signIn(this.user.username);
		return other;
	}

	async signIn(username: string, password = PASSWORD): Promise<Me> {
		const { user } = await this.api.post<{ user: Me }>('/api/auth/sign-in', { username, password });
		this.user = user;
		return user;
	}

	/** Opens /ws with this client's session and waits for `ready`. */
	async socket(options: { origin?: string | null; waitReady?: boolean } = {}): Promise<TestSocket> {
		const headers: Record<string, string> = { cookie: this.jar.header(), 'x-forwarded-for': this.ip };
		const origin = options.origin === undefined ? this.server.origin : options.origin;
		if (origin !== null) headers.origin = origin;
		const socket = new TestSocket(this.server.wsUrl, headers);
		if (options.waitReady !== false) await socket.waitFor((f) => f.t === 'ready');
		return socket;
	}

	/** The session token this client holds (to check it never leaks; never log it). */
	get sessionToken(): string | undefined {
		return this.jar.cookies.get('hearth_session');
	}
}

export class TestSocket {
	readonly ws: WebSocket;
	readonly frames: ServerFrame[] = [];
	readonly closed: Promise<{ code: number; reason: string }>;
	readonly opened: Promise<void>;
	#waiters: Array<{ predicate: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }> = [];
	#nextId = 0;

	constructor(url: string, headers: Record<string, string>) {
		this.ws = new WebSocket(url, { headers });
		this.opened = new Promise((resolve, reject) => {
			this.ws.once('open', () => resolve());
			this.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
			this.ws.once('error', reject);
		});
		this.opened.catch(() => {});
		this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
		this.ws.on('message', (data) => {
			const frame = JSON.parse(data.toString()) as ServerFrame;
			this.frames.push(frame);
			for (const waiter of [...this.#waiters]) {
				if (waiter.predicate(frame)) {
					this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
					waiter.resolve(frame);
				}
			}
		});
	}

	/** The first frame (already received or future) matching the predicate. */
	waitFor<T extends ServerFrame = ServerFrame>(predicate: (frame: ServerFrame) => boolean, timeoutMs = 10_000): Promise<T> {
		const seen = this.frames.find(predicate);
		if (seen) return Promise.resolve(seen as T);
		return new Promise<T>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
				reject(new Error(`no matching frame within ${timeoutMs} ms; got: ${this.frames.map((f) => f.t).join(', ')}`));
			}, timeoutMs);
			const done = (frame: ServerFrame) => {
				clearTimeout(timer);
				resolve(frame as T);
			};
			this.#waiters.push({ predicate, resolve: done });
		});
	}

	/** Waits for a frame that arrives after this call (ignores those already received). */
	next<T extends ServerFrame = ServerFrame>(predicate: (frame: ServerFrame) => boolean, timeoutMs = 10_000): Promise<T> {
		const already = this.frames.length;
		return this.waitFor<T>((f) => this.frames.indexOf(f) >= already && predicate(f), timeoutMs);
	}

	sendRaw(text: string | Buffer, options: { binary?: boolean } = {}) {
		this.ws.send(text, options);
	}

	/** Waits until `count` matching frames (received before or after this call) are in, and returns them. */
	async waitForCount<T extends ServerFrame = ServerFrame>(count: number, predicate: (frame: ServerFrame) => boolean, timeoutMs = 10_000): Promise<T[]> {
		const deadline = Date.now() + timeoutMs;
		while (this.matching(predicate).length < count) {
			const left = deadline - Date.now();
			const seen = this.frames.length;
			await this.waitFor((f) => this.frames.indexOf(f) >= seen, Math.max(left, 1)).catch(() => {
				throw new Error(`only ${this.matching(predicate).length} of ${count} matching frames within ${timeoutMs} ms`);
			});
		}
		return this.matching<T>(predicate);
	}

	/** Frames received so far that match. */
	matching<T extends ServerFrame = ServerFrame>(predicate: (frame: ServerFrame) => boolean): T[] {
		return this.frames.filter(predicate) as T[];
	}

	/** Proves a negative: waits `ms` and returns the matching frames that arrived meanwhile (expected: none). */
	async collectFor<T extends ServerFrame = ServerFrame>(ms: number, predicate: (frame: ServerFrame) => boolean): Promise<T[]> {
		const already = this.frames.length;
		await new Promise((resolve) => setTimeout(resolve, ms));
		return this.frames.slice(already).filter(predicate) as T[];
	}

	/** Sends a request frame with a fresh id and resolves with its ack or error frame. */
	async request(frame: Record<string, unknown>): Promise<Extract<ServerFrame, { t: 'ack' | 'error' }>> {
		const id = `t${++this.#nextId}`;
		const answer = this.waitFor<Extract<ServerFrame, { t: 'ack' | 'error' }>>((f) => (f.t === 'ack' || f.t === 'error') && f.id === id);
		this.ws.send(JSON.stringify({ ...frame, id }));
		return answer;
	}

	/** Application-level ping; resolves with the pong, proving the connection still serves frames. */
	async ping(): Promise<ServerFrame> {
		const id = `p${++this.#nextId}`;
		const pong = this.waitFor((f) => f.t === 'pong' && f.id === id);
		this.ws.send(JSON.stringify({ t: 'ping', id }));
		return pong;
	}

	close() {
		this.ws.close();
	}
}
