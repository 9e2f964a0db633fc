// Per-client-IP rate limits on HTTP, in memory: a token bucket per IP and scope. Two scopes:
// `auth` (sign-in, sign-up, password change, invite codes: what a password or code guesser hits)
// with a strict limit, and `http` (everything else the app answers) with a generous one. A request
// counts against exactly one scope. Health probes, /metrics and built assets are exempt.
//
// The buckets live in this process: behind several replicas each enforces its own share, and a
// restart forgets them, which an attacker could get anyway by waiting a minute.
import type { RequestEvent } from '@sveltejs/kit';
import { ErrorCode } from '#lib/shared/protocol/codes.ts';
import { errorResponse } from './http.ts';
import type { RateLimitScope } from './metrics.ts';

// Routes a guesser would hammer: credentials (sign-in, password change), account creation, and
// invite codes (the preview answers whether a code exists, accepting one joins a community).
const AUTH_ROUTES = new Set(['/api/auth/sign-in', '/api/auth/sign-up', '/api/me/password', '/api/invites/[code]', '/api/invites/[code]/accept', '/api/invites/[code]/guest']);
// Monitors poll the probes every few seconds from one address; /metrics has its own access rule;
// /_app/ holds the built, immutable assets (adapter-node serves them before the app, this is the
// safety net for setups that do not).
const EXEMPT_PATHS = new Set(['/health', '/live', '/ready', '/metrics']);
const EXEMPT_PREFIX = '/_app/';
// Addresses tracked per scope. 50,000 buckets are a few megabytes; past that the least recently
// seen address is forgotten first (by then its bucket has usually refilled, which is the same as
// being forgotten), so memory stays bounded under a flood of distinct addresses.
const MAX_TRACKED_IPS = 50_000;

type Bucket = { tokens: number; updatedAt: number };

export type HttpRateLimitOptions = {
	/** Requests per minute per IP on the general scope (also the burst). */
	perMinute: number;
	/** Requests per minute per IP on the auth scope (also the burst). */
	authPerMinute: number;
	maxTrackedIps?: number;
	/** Multiplies both limits, read on every request: the instance's rate-limit level. */
	scale?: () => number;
	onRejected?: (scope: RateLimitScope) => void;
	now?: () => number;
};

class IpBuckets {
	readonly #buckets = new Map<string, Bucket>();
	readonly #perMinute: number;
	readonly #maxTracked: number;
	readonly #scale: () => number;

	constructor(perMinute: number, maxTracked: number, scale: () => number) {
		this.#perMinute = perMinute;
		this.#maxTracked = maxTracked;
		this.#scale = scale;
	}

	/** Takes one token for `ip`; returns 0 when allowed, else the milliseconds until one is available. */
	take(ip: string, now: number): number {
		// At least one request a minute, whatever the level: a limit of zero would lock everyone out.
		const perMinute = Math.max(1, this.#perMinute * this.#scale());
		const perMs = perMinute / 60_000;
		const bucket = this.#buckets.get(ip);
		let tokens = perMinute;
		if (bucket) {
			tokens = Math.min(perMinute, bucket.tokens + (now - bucket.updatedAt) * perMs);
			// Re-inserted below, so the map's order is least recently seen first.
			this.#buckets.delete(ip);
		}
		const allowed = tokens >= 1;
		this.#buckets.set(ip, { tokens: allowed ? tokens - 1 : tokens, updatedAt: now });
		if (this.#buckets.size > this.#maxTracked) this.#forgetOldest();
		return allowed ? 0 : Math.ceil((1 - tokens) / perMs);
	}

	/**
	 * Drops the least recently seen tenth at once. Deleting one entry per insert looks cheaper but
	 * is not: a Map keeps deleted slots until it rehashes, and every fresh iterator walks past them
	 * from the start — measured at ~20 µs per request under a flood of new addresses, against
	 * under 1 µs with this batch.
	 */
	#forgetOldest(): void {
		let excess = this.#buckets.size - this.#maxTracked + Math.ceil(this.#maxTracked / 10);
		for (const ip of this.#buckets.keys()) {
			if (excess-- <= 0) break;
			this.#buckets.delete(ip);
		}
	}

	get size(): number {
		return this.#buckets.size;
	}
}

export class HttpRateLimiter {
	readonly #general: IpBuckets;
	readonly #auth: IpBuckets;
	readonly #onRejected: (scope: RateLimitScope) => void;
	readonly #now: () => number;

	constructor(options: HttpRateLimitOptions) {
		const maxTracked = options.maxTrackedIps ?? MAX_TRACKED_IPS;
		const scale = options.scale ?? (() => 1);
		this.#general = new IpBuckets(options.perMinute, maxTracked, scale);
		this.#auth = new IpBuckets(options.authPerMinute, maxTracked, scale);
		this.#onRejected = options.onRejected ?? (() => {});
		this.#now = options.now ?? (() => performance.now());
	}

	/** The scope a request counts against, or null when it is exempt. */
	static scopeOf(pathname: string, routeId: string | null): 'http' | 'auth' | null {
		if (EXEMPT_PATHS.has(pathname) || pathname.startsWith(EXEMPT_PREFIX)) return null;
		return routeId !== null && AUTH_ROUTES.has(routeId) ? 'auth' : 'http';
	}

	/** Counts a request from `ip`; returns the wait in milliseconds when it is over the limit, else 0. */
	hit(ip: string, scope: 'http' | 'auth'): number {
		const wait = (scope === 'auth' ? this.#auth : this.#general).take(ip, this.#now());
		if (wait > 0) this.#onRejected(scope);
		return wait;
	}

	/** For hooks.server.ts: a 429 response when this request is over its limit, else null. */
	refuse(event: Pick<RequestEvent, 'url' | 'route'> & { locals: { ip: string } }): Response | null {
		const scope = HttpRateLimiter.scopeOf(event.url.pathname, event.route.id);
		if (!scope) return null;
		const wait = this.hit(event.locals.ip, scope);
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

	/** Addresses currently tracked (both scopes), for tests of the memory bound. */
	get trackedIps(): number {
		return this.#general.size + this.#auth.size;
	}
}
