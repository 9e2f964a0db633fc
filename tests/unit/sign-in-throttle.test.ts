import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SignInThrottle, WindowLimiter } from '#lib/server/auth/throttle.ts';
import { MemoryRateLimitStore } from '#lib/server/rate-limiters.ts';

// The counters (rate-limiter-flexible's memory store) read Date.now and expire with timers: the
// fake clock drives both.
function clock() {
	return { store: new MemoryRateLimitStore(), advance: (ms: number) => vi.advanceTimersByTime(ms) };
}
beforeEach(() => {
	vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
	vi.useRealTimers();
});

describe('SignInThrottle', () => {
	it('allows the free failures, then makes the same IP and username wait with doubling delays', async () => {
		const time = clock();
		const throttle = new SignInThrottle({ freeFailures: 3, baseDelayMs: 1000 }, time.store);
		for (let i = 0; i < 3; i += 1) {
			expect(await throttle.retryAfter('1.1.1.1', 'alice')).toBe(0);
			await throttle.recordFailure('1.1.1.1', 'alice');
		}
		expect(await throttle.retryAfter('1.1.1.1', 'alice')).toBe(0);
		await throttle.recordFailure('1.1.1.1', 'alice');
		expect(await throttle.retryAfter('1.1.1.1', 'alice')).toBe(1000);
		time.advance(1000);
		await throttle.recordFailure('1.1.1.1', 'alice');
		expect(await throttle.retryAfter('1.1.1.1', 'alice')).toBe(2000);
		time.advance(2000);
		await throttle.recordFailure('1.1.1.1', 'alice');
		expect(await throttle.retryAfter('1.1.1.1', 'alice')).toBe(4000);
	});

	it('never locks the victim out from another address', async () => {
		const time = clock();
		const throttle = new SignInThrottle({ freeFailures: 2, baseDelayMs: 60_000 }, time.store);
		for (let i = 0; i < 10; i += 1) await throttle.recordFailure('6.6.6.6', 'victim');
		expect(await throttle.retryAfter('6.6.6.6', 'victim')).toBeGreaterThan(0);
		expect(await throttle.retryAfter('10.0.0.7', 'victim')).toBe(0);
	});

	it('treats usernames case-insensitively so case variants share one counter', async () => {
		const time = clock();
		const throttle = new SignInThrottle({ freeFailures: 1, baseDelayMs: 500 }, time.store);
		await throttle.recordFailure('1.1.1.1', 'Alice');
		await throttle.recordFailure('1.1.1.1', 'ALICE');
		expect(await throttle.retryAfter('1.1.1.1', 'alice')).toBe(500);
	});

	it('pauses an address that fails across many usernames', async () => {
		const time = clock();
		const throttle = new SignInThrottle({ ipFailureLimit: 5, ipWindowMs: 60_000 }, time.store);
		for (let i = 0; i < 5; i += 1) await throttle.recordFailure('9.9.9.9', `user${i}`);
		expect(await throttle.retryAfter('9.9.9.9', 'someone-else')).toBe(60_000);
		time.advance(60_000);
		expect(await throttle.retryAfter('9.9.9.9', 'someone-else')).toBe(0);
	});

	it('forgets failures after a successful sign-in', async () => {
		const time = clock();
		const throttle = new SignInThrottle({ freeFailures: 1, baseDelayMs: 1000 }, time.store);
		await throttle.recordFailure('1.1.1.1', 'alice');
		await throttle.recordFailure('1.1.1.1', 'alice');
		expect(await throttle.retryAfter('1.1.1.1', 'alice')).toBeGreaterThan(0);
		await throttle.recordSuccess('1.1.1.1', 'alice');
		expect(await throttle.retryAfter('1.1.1.1', 'alice')).toBe(0);
	});

	it('caps the delay', async () => {
		const time = clock();
		const throttle = new SignInThrottle({ freeFailures: 0, baseDelayMs: 1000, maxDelayMs: 5000 }, time.store);
		for (let i = 0; i < 20; i += 1) await throttle.recordFailure('1.1.1.1', 'alice');
		expect(await throttle.retryAfter('1.1.1.1', 'alice')).toBe(5000);
	});
});

describe('WindowLimiter', () => {
	it('allows the limit per window and tells how long to wait after', async () => {
		const time = clock();
		const limiter = new WindowLimiter(2, 10_000, time.store);
		expect(await limiter.hit('ip')).toBe(0);
		expect(await limiter.hit('ip')).toBe(0);
		expect(await limiter.hit('ip')).toBe(10_000);
		time.advance(4_000);
		expect(await limiter.hit('ip')).toBe(6_000);
		expect(await limiter.hit('other')).toBe(0);
		time.advance(6_000);
		expect(await limiter.hit('ip')).toBe(0);
	});
});
