// Per-client-IP rate limits on HTTP (rate-limiter-flexible). Two scopes: `auth` (sign-in, sign-up,
// password change, invite codes: what a password or code guesser hits) with a strict limit, and
// `http` (everything else the app answers) with a generous one. A request counts against exactly
// one scope. Health probes, /metrics and built assets are exempt.
//
// The counters live in a RateLimitStore: this process's memory for a single node, Redis in cluster
// mode, so a client spreading its requests over several nodes meets the same total as on one.
//
// Each limit of N per minute behaves like a bucket of N tokens refilled evenly over the minute: N
// at once, then one per 60/N seconds. Built from two fixed-window counters (a BurstyRateLimiter):
// a steady one (`p` hits per window of about 60/N seconds, whole seconds so Redis can expire it)
// and a burst one (N - p more per minute) used only when the steady one is spent. The first
// minute allows exactly N; the wait a refused client is told is the steady window's remainder.
import type { RequestEvent } from '@sveltejs/kit';
import { BurstyRateLimiter, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode } from '#lib/shared/protocol/codes.ts';
import { errorResponse } from './http.ts';
import type { RateLimitScope } from './metrics.ts';
import type { RateLimitStore } from './rate-limiters.ts';

// Routes a guesser would hammer: credentials (sign-in, password change), account creation, and
// invite codes (the preview answers whether a code exists, accepting one joins a community).
const AUTH_ROUTES = new Set(['/api/auth/sign-in', '/api/auth/sign-up', '/api/me/password', '/api/invites/[code]', '/api/invites/[code]/accept', '/api/invites/[code]/guest']);
// Monitors poll the probes every few seconds from one address; /metrics has its own access rule;
// /_app/ holds the built, immutable assets (adapter-node serves them before the app, this is the
// safety net for setups that do not).
const EXEMPT_PATHS = new Set(['/health', '/live', '/ready', '/metrics']);
const EXEMPT_PREFIX = '/_app/';
const MINUTE_MS = 60_000;

export type HttpRateLimitOptions = {
	/** Requests per minute per IP on the general scope (also the burst). */
	perMinute: number;
	/** Requests per minute per IP on the auth scope (also the burst). */
	authPerMinute: number;
	/** Where the counters live (memory, or Redis in cluster mode). */
	store: RateLimitStore;
	/** Multiplies both limits, read on every request: the instance's rate-limit level. */
	scale?: () => number;
	onRejected?: (scope: RateLimitScope) => void;
};

/** The two counters of one scope at one per-minute limit. */
function bucketLike(store: RateLimitStore, name: string, perMinute: number): BurstyRateLimiter {
	const windowSeconds = Math.max(1, Math.round(MINUTE_MS / perMinute / 1000));
	const steadyPoints = Math.min(perMinute, Math.max(1, Math.floor((perMinute * windowSeconds) / 60)));
	return new BurstyRateLimiter(
		store.counter({ name: `${name}:${perMinute}:steady`, points: steadyPoints, durationMs: windowSeconds * 1000 }),
		store.counter({ name: `${name}:${perMinute}:burst`, points: perMinute - steadyPoints, durationMs: MINUTE_MS })
	);
}

class ScopeLimiter {
	// One pair of counters per effective limit: the level changes the limit, and counters made for
	// another limit (a level ago) must not be read with this one's rule.
	readonly #byLimit = new Map<number, BurstyRateLimiter>();

	readonly #store: RateLimitStore;
	readonly #name: string;
	readonly #perMinute: number;
	readonly #scale: () => number;

	constructor(store: RateLimitStore, name: string, perMinute: number, scale: () => number) {
		this.#store = store;
		this.#name = name;
		this.#perMinute = perMinute;
		this.#scale = scale;
	}

	/** Takes one hit for `ip`; returns 0 when allowed, else the milliseconds until one is available. */
	async take(ip: string): Promise<number> {
		// At least one request a minute, whatever the level: a limit of zero would lock everyone out.
		const perMinute = Math.max(1, Math.round(this.#perMinute * this.#scale()));
		let limiter = this.#byLimit.get(perMinute);
		if (!limiter) this.#byLimit.set(perMinute, (limiter = bucketLike(this.#store, this.#name, perMinute)));
		try {
			await limiter.consume(ip);
			return 0;
		} catch (refusal) {
			if (refusal instanceof RateLimiterRes) return Math.max(1, refusal.msBeforeNext);
			throw refusal;
		}
	}
}

export class HttpRateLimiter {
	readonly #general: ScopeLimiter;
	readonly #auth: ScopeLimiter;
	readonly #onRejected: (scope: RateLimitScope) => void;

	constructor(options: HttpRateLimitOptions) {
		const scale = options.scale ?? (() => 1);
		this.#general = new ScopeLimiter(options.store, 'http', options.perMinute, scale);
		this.#auth = new ScopeLimiter(options.store, 'auth', options.authPerMinute, scale);
		this.#onRejected = options.onRejected ?? (() => {});
	}

	/** The scope a request counts against, or null when it is exempt. */
	static scopeOf(pathname: string, routeId: string | null): 'http' | 'auth' | null {
		if (EXEMPT_PATHS.has(pathname) || pathname.startsWith(EXEMPT_PREFIX)) return null;
		return routeId !== null && AUTH_ROUTES.has(routeId) ? 'auth' : 'http';
	}

	/** Counts a request from `ip`; returns the wait in milliseconds when it is over the limit, else 0. */
	async hit(ip: string, scope: 'http' | 'auth'): Promise<number> {
		const wait = await (scope === 'auth' ? this.#auth : this.#general).take(ip);
		if (wait > 0) this.#onRejected(scope);
		return wait;
	}

	/** For hooks.server.ts: a 429 response when this request is over its limit, else null. */
	async refuse(event: Pick<RequestEvent, 'url' | 'route'> & { locals: { ip: string } }): Promise<Response | null> {
		const scope = HttpRateLimiter.scopeOf(event.url.pathname, event.route.id);
		if (!scope) return null;
		const wait = await this.hit(event.locals.ip, scope);
		if (wait === 0) return null;
		return errorResponse(
			429,
			ErrorCode.rateLimited,
			scope === 'auth'
				? 'Too many sign-in, sign-up or invite requests from your address. Wait a moment and try again.'
				: 'Too many requests from your address. Wait a moment and try again.',
			wait
		);
	}
}
