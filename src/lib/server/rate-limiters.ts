// Where rate-limit counters live (rate-limiter-flexible): in this process by default, in Redis in
// cluster mode so that every node counts the same hits. The HTTP limits, the sign-in and
// second-factor throttles and the sign-up limit all take their counters from one of these stores,
// so they enforce one total whichever node a request lands on.
//
// With Redis, each limiter has a memory "insurance" limiter with the same rule: when Redis does not
// answer (the command connection fails fast, it has no offline queue) the node goes on enforcing
// the limit on its own, as a single node would, instead of letting everything through or refusing
// everything. Counts made during the outage stay on the node; Redis's start afresh when it returns.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** One counter rule: at most `points` hits per key in a window of `durationMs` starting at its first hit. */
export type CounterRule = {
	/** Names the counter; part of every Redis key (`hearth:rl:<name>:<key>`). */
	name: string;
	points: number;
	durationMs: number;
};

export interface RateLimitStore {
	readonly kind: 'memory' | 'redis';
	counter(rule: CounterRule): RateLimiterAbstract;
	/** The `secDuration` to give a counter's block() for a wait of `ms` (Redis counts whole seconds). */
	blockSeconds(ms: number): number;
}

const KEY_PREFIX = 'hearth:rl';

/** Counters in this process. Windows keep their exact length (milliseconds included). */
export class MemoryRateLimitStore implements RateLimitStore {
	readonly kind = 'memory';
	counter(rule: CounterRule): RateLimiterAbstract {
		return memoryCounter(rule);
	}
	blockSeconds(ms: number): number {
		return ms / 1000;
	}
}

/** Counters in Redis (one total for all nodes), each insured by a memory counter with the same rule. */
export class RedisRateLimitStore implements RateLimitStore {
	readonly kind = 'redis';
	readonly #redis: Redis;

	/** `redis` should fail fast when disconnected (no offline queue), so the insurance takes over at once. */
	constructor(redis: Redis) {
		this.#redis = redis;
	}

	counter(rule: CounterRule): RateLimiterAbstract {
		return new RateLimiterRedis({
			storeClient: this.#redis,
			keyPrefix: `${KEY_PREFIX}:${rule.name}`,
			points: rule.points,
			// Redis expires keys in whole seconds (a window under a second would never expire there).
			duration: redisSeconds(rule.durationMs),
			// A command to a disconnected client would wait in ioredis's queue; go to the insurance instead.
			rejectIfRedisNotReady: true,
			insuranceLimiter: memoryCounter(rule)
		});
	}
	blockSeconds(ms: number): number {
		return redisSeconds(ms);
	}
}

function memoryCounter(rule: CounterRule): RateLimiterMemory {
	return new RateLimiterMemory({ keyPrefix: `${KEY_PREFIX}:${rule.name}`, points: rule.points, duration: rule.durationMs / 1000 });
}

/** A window or block length for Redis: whole seconds, at least one. */
export function redisSeconds(ms: number): number {
	return Math.max(1, Math.ceil(ms / 1000));
}
