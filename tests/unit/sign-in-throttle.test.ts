import { describe, expect, it } from 'vitest';
import { SignInThrottle, WindowLimiter } from '#lib/server/auth/throttle.ts';

function clock() {
	let now = 1_000_000;
	return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('SignInThrottle', () => {
	it('allows the free failures, then makes the same IP and username wait with doubling delays', () => {
		const time = clock();
		const throttle = new SignInThrottle({ freeFailures: 3, baseDelayMs: 1000 }, time.now);
		for (let i = 0; i < 3; i += 1) {
			expect(throttle.retryAfter('1.1.1.1', 'alice')).toBe(0);
			throttle.recordFailure('1.1.1.1', 'alice');
		}
		expect(throttle.retryAfter('1.1.1.1', 'alice')).toBe(0);
		throttle.recordFailure('1.1.1.1', 'alice');
		expect(throttle.retryAfter('1.1.1.1', 'alice')).toBe(1000);
		time.advance(1000);
		throttle.recordFailure('1.1.1.1', 'alice');
		expect(throttle.retryAfter('1.1.1.1', 'alice')).toBe(2000);
		time.advance(2000);
		throttle.recordFailure('1.1.1.1', 'alice');
		expect(throttle.retryAfter('1.1.1.1', 'alice')).toBe(4000);
	});

	it('never locks the victim out from another address', () => {
		const time = clock();
		const throttle = new SignInThrottle({ freeFailures: 2, baseDelayMs: 60_000 }, time.now);
		for (let i = 0; i < 10; i += 1) throttle.recordFailure('6.6.6.6', 'victim');
		expect(throttle.retryAfter('6.6.6.6', 'victim')).toBeGreaterThan(0);
		expect(throttle.retryAfter('10.0.0.7', 'victim')).toBe(0);
	});

	it('treats usernames case-insensitively so case variants share one counter', () => {
		const time = clock();
		const throttle = new SignInThrottle({ freeFailures: 1, baseDelayMs: 500 }, time.now);
		throttle.recordFailure('1.1.1.1', 'Alice');
		throttle.recordFailure('1.1.1.1', 'ALICE');
		expect(throttle.retryAfter('1.1.1.1', 'alice')).toBe(500);
	});

	it('pauses an address that fails across many usernames', () => {
		const time = clock();
		const throttle = new SignInThrottle({ ipFailureLimit: 5, ipWindowMs: 60_000 }, time.now);
		for (let i = 0; i < 5; i += 1) throttle.recordFailure('9.9.9.9', `user${i}`);
		expect(throttle.retryAfter('9.9.9.9', 'someone-else')).toBe(60_000);
		time.advance(60_000);
		expect(throttle.retryAfter('9.9.9.9', 'someone-else')).toBe(0);
	});

	it('forgets failures after a successful sign-in', () => {
		const time = clock();
		const throttle = new SignInThrottle({ freeFailures: 1, baseDelayMs: 1000 }, time.now);
		throttle.recordFailure('1.1.1.1', 'alice');
		throttle.recordFailure('1.1.1.1', 'alice');
		expect(throttle.retryAfter('1.1.1.1', 'alice')).toBeGreaterThan(0);
		throttle.recordSuccess('1.1.1.1', 'alice');
		expect(throttle.retryAfter('1.1.1.1', 'alice')).toBe(0);
	});

	it('caps the delay', () => {
		const time = clock();
		const throttle = new SignInThrottle({ freeFailures: 0, baseDelayMs: 1000, maxDelayMs: 5000 }, time.now);
		for (let i = 0; i < 20; i += 1) throttle.recordFailure('1.1.1.1', 'alice');
		expect(throttle.retryAfter('1.1.1.1', 'alice')).toBe(5000);
	});
});

describe('WindowLimiter', () => {
	it('allows the limit per window and tells how long to wait after', () => {
		const time = clock();
		const limiter = new WindowLimiter(2, 10_000, time.now);
		expect(limiter.hit('ip')).toBe(0);
		expect(limiter.hit('ip')).toBe(0);
		expect(limiter.hit('ip')).toBe(10_000);
		time.advance(4_000);
		expect(limiter.hit('ip')).toBe(6_000);
		expect(limiter.hit('other')).toBe(0);
		time.advance(6_000);
		expect(limiter.hit('ip')).toBe(0);
	});
});
