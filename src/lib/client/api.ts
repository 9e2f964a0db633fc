// The REST client: JSON in and out, the CSRF token fetched once and sent on state-changing
// requests, errors turned into ApiError with the server's code and message. `fetch` and the base
// URL are injectable so tests and tools can use the same client from Node.
import type { ApiErrorBody } from '#lib/shared/api-types.ts';

export class ApiError extends Error {
	readonly status: number;
	readonly code: string;
	readonly retryAfterMs: number | undefined;

	constructor(status: number, code: string, message: string, retryAfterMs?: number) {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.code = code;
		this.retryAfterMs = retryAfterMs;
	}
}

export type ApiClientOptions = { baseUrl?: string; fetch?: typeof fetch };

export class ApiClient {
	#baseUrl: string;
	#fetch: typeof fetch;
	#csrf: Promise<string> | null = null;

	constructor(options: ApiClientOptions = {}) {
		this.#baseUrl = options.baseUrl ?? '';
		this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
	}

	get<T>(path: string): Promise<T> {
		return this.#request<T>('GET', path);
	}
	post<T>(path: string, body?: unknown): Promise<T> {
		return this.#request<T>('POST', path, body);
	}
	patch<T>(path: string, body: unknown): Promise<T> {
		return this.#request<T>('PATCH', path, body);
	}
	put<T>(path: string, body?: unknown): Promise<T> {
		return this.#request<T>('PUT', path, body);
	}
	/** Sends raw bytes (an upload, such as the instance icon); the server judges them, not their type. */
	putBytes<T>(path: string, bytes: Blob): Promise<T> {
		return this.#request<T>('PUT', path, bytes);
	}
	postBytes<T>(path: string, bytes: Blob): Promise<T> {
		return this.#request<T>('POST', path, bytes);
	}
	/** A body only where the API asks for one (e.g. the admin password confirming a deletion). */
	delete<T>(path: string, body?: unknown): Promise<T> {
		return this.#request<T>('DELETE', path, body);
	}

	/**
	 * The CSRF token for a request this client cannot make itself (an upload with progress over
	 * XMLHttpRequest); `fresh` drops the cached one first (the server refused it).
	 */
	csrfToken(fresh = false): Promise<string> {
		if (fresh) this.#csrf = null;
		return this.#token();
	}

	async #token(): Promise<string> {
		this.#csrf ??= this.#fetch(`${this.#baseUrl}/api/csrf`, { credentials: 'same-origin' })
			.then((r) => r.json() as Promise<{ token: string }>)
			.then((body) => body.token)
			.catch((error) => {
				this.#csrf = null;
				throw error;
			});
		return this.#csrf;
	}

	async #request<T>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
		const headers: Record<string, string> = { accept: 'application/json' };
		if (method !== 'GET') headers['x-csrf-token'] = await this.#token();
		const raw = body instanceof Blob;
		if (body !== undefined) headers['content-type'] = raw ? 'application/octet-stream' : 'application/json';
		let response: Response;
		try {
			response = await this.#fetch(`${this.#baseUrl}${path}`, {
				method,
				headers,
				body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
				credentials: 'same-origin'
			});
		} catch {
			throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
		}
		const text = await response.text();
		const data = text ? safeJson(text) : undefined;
		if (response.ok) return data as T;
		const error = (data as ApiErrorBody | undefined)?.error;
		// Tokens are signed for one session (a new one is needed after signing in or out), and the
		// cookie may have been cleared: fetch a new token once. The server refused before acting.
		if (response.status === 403 && error?.code === 'csrf' && !retried) {
			this.#csrf = null;
			return this.#request<T>(method, path, body, true);
		}
		const retryAfter = response.headers.get('retry-after');
		throw new ApiError(
			response.status,
			error?.code ?? 'http_' + response.status,
			error?.message ?? `The server answered ${response.status}.`,
			retryAfter ? Number(retryAfter) * 1000 : undefined
		);
	}
}

function safeJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}
