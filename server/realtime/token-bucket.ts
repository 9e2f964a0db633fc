// Per-connection rate limit: `burst` frames at once, refilled at `perSecond`, both multiplied by
// `scale()` (the instance's rate-limit level), read on every take so a change applies to open
// connections at once.
// Shared defaults: a closure made per bucket would cost every open connection its own copy.
const monotonicNow = () => performance.now();
const unscaled = () => 1;

export class TokenBucket {
	#tokens: number;
	#updatedAt: number;
	readonly basePerSecond: number;
	readonly baseBurst: number;
	#now: () => number;
	#scale: () => number;

	constructor(perSecond: number, burst: number, now: () => number = monotonicNow, scale: () => number = unscaled) {
		this.basePerSecond = perSecond;
		this.baseBurst = burst;
		this.#now = now;
		this.#scale = scale;
		this.#tokens = this.burst;
		this.#updatedAt = now();
	}

	get perSecond(): number {
		return this.basePerSecond * this.#scale();
	}

	/** At least one frame, whatever the scale: a burst below one would refuse everything. */
	get burst(): number {
		return Math.max(1, this.baseBurst * this.#scale());
	}

	/** Takes one token; returns 0 when allowed, else the milliseconds until one is available. */
	take(): number {
		const now = this.#now();
		const perSecond = this.perSecond;
		this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#updatedAt) / 1000) * perSecond);
		this.#updatedAt = now;
		if (this.#tokens >= 1) {
			this.#tokens -= 1;
			return 0;
		}
		return Math.ceil(((1 - this.#tokens) / perSecond) * 1000);
	}
}
