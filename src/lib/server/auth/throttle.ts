// Brute-force protection for sign-in. Failures are counted per (client IP, username): after a few,
// that pair must wait, with the wait doubling per further failure. An attacker elsewhere therefore
// cannot lock the real user out (the user's own IP has its own counter), and an attacker cycling
// usernames from one IP hits a per-IP ceiling. Counters live in memory: a restart forgets them,
// which costs an attacker nothing they could not get by waiting.

type Entry = { failures: number; blockedUntil: number; lastFailure: number };

export type ThrottleOptions = {
	/** Failures allowed before waits start. */
	freeFailures: number;
	/** First wait; doubles per further failure. */
	baseDelayMs: number;
	maxDelayMs: number;
	/** Failures from one IP (any username) within `ipWindowMs` before that IP is paused. */
	ipFailureLimit: number;
	ipWindowMs: number;
	/** Entries untouched this long are forgotten. */
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

// Bounds memory under a flood of distinct keys; the oldest entries are dropped first.
const MAX_ENTRIES = 100_000;

export class SignInThrottle {
	#pairs = new Map<string, Entry>();
	#ips = new Map<string, { count: number; windowStart: number }>();
	#options: ThrottleOptions;
	#now: () => number;

	constructor(options: Partial<ThrottleOptions> = {}, now: () => number = Date.now) {
		this.#options = { ...DEFAULT_THROTTLE, ...options };
		this.#now = now;
	}

	/** Milliseconds to wait before this attempt may be checked, or 0. */
	retryAfter(ip: string, username: string): number {
		const now = this.#now();
		const ipEntry = this.#ips.get(ip);
		if (ipEntry && now - ipEntry.windowStart < this.#options.ipWindowMs && ipEntry.count >= this.#options.ipFailureLimit) {
			return ipEntry.windowStart + this.#options.ipWindowMs - now;
		}
		const entry = this.#pairs.get(pairKey(ip, username));
		return entry && entry.blockedUntil > now ? entry.blockedUntil - now : 0;
	}

	recordFailure(ip: string, username: string): void {
		const now = this.#now();
		const key = pairKey(ip, username);
		const entry = this.#pairs.get(key) ?? { failures: 0, blockedUntil: 0, lastFailure: now };
		if (now - entry.lastFailure > this.#options.forgetAfterMs) entry.failures = 0;
		entry.failures += 1;
		entry.lastFailure = now;
		const excess = entry.failures - this.#options.freeFailures;
		if (excess > 0) {
			entry.blockedUntil = now + Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** (excess - 1));
		}
		this.#pairs.delete(key);
		this.#pairs.set(key, entry);

		const ipEntry = this.#ips.get(ip);
		if (!ipEntry || now - ipEntry.windowStart >= this.#options.ipWindowMs) this.#ips.set(ip, { count: 1, windowStart: now });
		else ipEntry.count += 1;
		this.#prune(now);
	}

	recordSuccess(ip: string, username: string): void {
		this.#pairs.delete(pairKey(ip, username));
	}

	#prune(now: number) {
		for (const map of [this.#pairs, this.#ips] as Map<string, unknown>[]) {
			while (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
		}
		// Opportunistic cleanup of stale entries from the oldest end.
		for (const [key, entry] of this.#pairs) {
			if (now - entry.lastFailure <= this.#options.forgetAfterMs) break;
			this.#pairs.delete(key);
		}
	}
}

function pairKey(ip: string, username: string) {
	return `${ip}\u0000${username.toLowerCase()}`;
}

/** A simple fixed-window counter for actions like sign-up per IP. */
export class WindowLimiter {
	#hits = new Map<string, { count: number; windowStart: number }>();
	#limit: number;
	#windowMs: number;
	#now: () => number;

	constructor(limit: number, windowMs: number, now: () => number = Date.now) {
		this.#limit = limit;
		this.#windowMs = windowMs;
		this.#now = now;
	}

	/** Counts a hit; returns 0 when allowed, else the milliseconds until the window resets. */
	hit(key: string): number {
		const now = this.#now();
		const entry = this.#hits.get(key);
		if (!entry || now - entry.windowStart >= this.#windowMs) {
			this.#hits.delete(key);
			this.#hits.set(key, { count: 1, windowStart: now });
			while (this.#hits.size > MAX_ENTRIES) this.#hits.delete(this.#hits.keys().next().value!);
			return 0;
		}
		if (entry.count >= this.#limit) return entry.windowStart + this.#windowMs - now;
		entry.count += 1;
		return 0;
	}
}
