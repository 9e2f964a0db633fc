// Brute-force protection for sign-in. Failures are counted per (client IP, username): after a few,
// that pair must wait, with the wait doubling per further failure. An attacker elsewhere therefore
// cannot lock the real user out (the user's own IP has its own counter), and an attacker cycling
// usernames from one IP hits a per-IP ceiling. The counters are rate-limiter-flexible counters in a
// RateLimitStore: in memory for a single node (a restart forgets them, which costs an attacker
// nothing they could not get by waiting), in Redis in cluster mode so that spreading guesses over
// the nodes gains nothing.
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { MemoryRateLimitStore, type RateLimitStore } from '../rate-limiters.ts';

export type ThrottleOptions = {
	/** Failures allowed before waits start. */
	freeFailures: number;
	/** First wait; doubles per further failure. */
	baseDelayMs: number;
	maxDelayMs: number;
	/** Failures from one IP (any username) within `ipWindowMs` before that IP is paused. */
	ipFailureLimit: number;
	ipWindowMs: number;
	/** A pair's failures are forgotten this long after the first of them. */
	forgetAfterMs: number;
};

export const DEFAULT_THROTTLE: ThrottleOptions = {
	freeFailures: 5,
	baseDelayMs: 2_000,
	maxDelayMs: 15 * 60_000,
	ipFailureLimit: 100,
	ipWindowMs: 15 * 60_000,
	forgetAfterMs: 60 * 60_000
};

// Failures are counted, never refused, by the pair counter: its points only need to exceed any
// count that matters (the delay is capped long before).
const UNLIMITED = 1_000_000_000;

export class SignInThrottle {
	readonly #options: ThrottleOptions;
	readonly #store: RateLimitStore;
	/** Failures per (IP, username) in the current forget window. */
	readonly #pairFailures: RateLimiterAbstract;
	/** Pairs made to wait: blocked counters whose remaining time is the wait. */
	readonly #pairWaits: RateLimiterAbstract;
	/** Failures per IP, whatever the username. */
	readonly #ipFailures: RateLimiterAbstract;

	/** `name` keeps two throttles apart in a shared store (sign-in and second-factor codes). */
	constructor(options: Partial<ThrottleOptions> = {}, store: RateLimitStore = new MemoryRateLimitStore(), name = 'sign-in') {
		this.#options = { ...DEFAULT_THROTTLE, ...options };
		this.#store = store;
		this.#pairFailures = store.counter({ name: `${name}:failures`, points: UNLIMITED, durationMs: this.#options.forgetAfterMs });
		this.#pairWaits = store.counter({ name: `${name}:waits`, points: 1, durationMs: this.#options.maxDelayMs });
		this.#ipFailures = store.counter({ name: `${name}:ip`, points: this.#options.ipFailureLimit, durationMs: this.#options.ipWindowMs });
	}

	/** Milliseconds to wait before this attempt may be checked, or 0. */
	async retryAfter(ip: string, username: string): Promise<number> {
		const [ipEntry, pairEntry] = await Promise.all([this.#ipFailures.get(ip), this.#pairWaits.get(pairKey(ip, username))]);
		if (ipEntry && ipEntry.consumedPoints >= this.#options.ipFailureLimit) return Math.max(1, ipEntry.msBeforeNext);
		return pairEntry && pairEntry.consumedPoints > 1 ? Math.max(1, pairEntry.msBeforeNext) : 0;
	}

	async recordFailure(ip: string, username: string): Promise<void> {
		const key = pairKey(ip, username);
		const [failures] = await Promise.all([this.#pairFailures.penalty(key), countFailure(this.#ipFailures, ip)]);
		const excess = failures.consumedPoints - this.#options.freeFailures;
		if (excess > 0) {
			const waitMs = Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** (excess - 1));
			await this.#pairWaits.block(key, this.#store.blockSeconds(waitMs));
		}
	}

	async recordSuccess(ip: string, username: string): Promise<void> {
		const key = pairKey(ip, username);
		await Promise.all([this.#pairFailures.delete(key), this.#pairWaits.delete(key)]);
	}
}

/** Counts one failure against a counter that refuses past its points (the refusal is the count). */
async function countFailure(counter: RateLimiterAbstract, key: string): Promise<void> {
	try {
		await counter.consume(key);
	} catch (refusal) {
		if (!(refusal instanceof RateLimiterRes)) throw refusal;
	}
}

function pairKey(ip: string, username: string) {
	return `${ip}\u0000${username.toLowerCase()}`;
}

/** A fixed-window counter for actions like sign-up per IP. */
export class WindowLimiter {
	readonly #counter: RateLimiterAbstract;

	constructor(limit: number, windowMs: number, store: RateLimitStore = new MemoryRateLimitStore(), name = 'window') {
		this.#counter = store.counter({ name, points: limit, durationMs: windowMs });
	}

	/** Counts a hit; returns 0 when allowed, else the milliseconds until the window resets. */
	async hit(key: string): Promise<number> {
		try {
			await this.#counter.consume(key);
			return 0;
		} catch (refusal) {
			if (refusal instanceof RateLimiterRes) return Math.max(1, refusal.msBeforeNext);
			throw refusal;
		}
	}
}
