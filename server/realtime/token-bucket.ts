// Per-connection rate limit: `burst` frames at once, refilled at `perSecond`.
export class TokenBucket {
	#tokens: number;
	#updatedAt: number;
	readonly perSecond: number;
	readonly burst: number;
	#now: () => number;

	constructor(perSecond: number, burst: number, now: () => number = () => performance.now()) {
		this.perSecond = perSecond;
		this.burst = burst;
		this.#tokens = burst;
		this.#now = now;
		this.#updatedAt = now();
	}

	/** Takes one token; returns 0 when allowed, else the milliseconds until one is available. */
	take(): number {
		const now = this.#now();
		this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#updatedAt) / 1000) * this.perSecond);
		this.#updatedAt = now;
		if (this.#tokens >= 1) {
			this.#tokens -= 1;
			return 0;
		}
		return Math.ceil(((1 - this.#tokens) / this.perSecond) * 1000);
	}
}
