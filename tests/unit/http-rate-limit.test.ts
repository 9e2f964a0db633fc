import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HttpRateLimiter } from '#lib/server/http-rate-limit.ts';
import type { RateLimitScope } from '#lib/server/metrics.ts';
import { MemoryRateLimitStore } from '#lib/server/rate-limiters.ts';

// The counters (rate-limiter-flexible's memory store) read Date.now and expire with timers: the
// fake clock drives both.
function limiter(options: { perMinute?: number; authPerMinute?: number; scale?: () => number } = {}) {
	const clock = {
		advance(ms: number) {
			vi.advanceTimersByTime(ms);
		}
	};
	const rejected: RateLimitScope[] = [];
	const instance = new HttpRateLimiter({
		perMinute: options.perMinute ?? 60,
		authPerMinute: options.authPerMinute ?? 6,
		store: new MemoryRateLimitStore(),
		scale: options.scale,
		onRejected: (scope) => rejected.push(scope)
	});
	return { instance, clock, rejected };
}

describe('HttpRateLimiter', () => {
	beforeEach(() => {
		vi.useFakeTimers({ now: 1_000_000 });
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	it('allows a minute’s worth at once, then one request per refill interval, and says how long to wait', async () => {
		const { instance, clock } = limiter({ perMinute: 60 });
		for (let i = 0; i < 60; i += 1) expect(await instance.hit('192.0.2.1', 'http')).toBe(0);
		expect(await instance.hit('192.0.2.1', 'http')).toBe(1000);
		clock.advance(400);
		expect(await instance.hit('192.0.2.1', 'http')).toBe(600);
		clock.advance(600);
		expect(await instance.hit('192.0.2.1', 'http')).toBe(0);
		expect(await instance.hit('192.0.2.1', 'http')).toBe(1000);
	});

	it('counts each client IP and each scope separately', async () => {
		const { instance } = limiter({ perMinute: 60, authPerMinute: 2 });
		expect([await instance.hit('192.0.2.1', 'auth'), await instance.hit('192.0.2.1', 'auth')]).toEqual([0, 0]);
		expect(await instance.hit('192.0.2.1', 'auth')).toBe(30_000);
		expect(await instance.hit('192.0.2.2', 'auth')).toBe(0);
		expect(await instance.hit('192.0.2.1', 'http')).toBe(0);
	});

	it('reports each refusal with its scope', async () => {
		const { instance, rejected } = limiter({ perMinute: 1, authPerMinute: 1 });
		await instance.hit('192.0.2.1', 'http');
		await instance.hit('192.0.2.1', 'http');
		await instance.hit('192.0.2.1', 'auth');
		await instance.hit('192.0.2.1', 'auth');
		expect(rejected).toEqual(['http', 'auth']);
	});

	it('allows exactly the limit within a minute when the limit is not a divisor of 60 (rounded steady window)', async () => {
		// 7 a minute: a steady window of 9 s with one request, six more from the burst counter.
		const { instance, clock } = limiter({ perMinute: 7 });
		for (let i = 0; i < 7; i += 1) expect(await instance.hit('192.0.2.1', 'http')).toBe(0);
		expect(await instance.hit('192.0.2.1', 'http')).toBe(9000);
		clock.advance(9000);
		expect(await instance.hit('192.0.2.1', 'http')).toBe(0);
		expect(await instance.hit('192.0.2.1', 'http')).toBe(9000);
	});

	it('forgets an address once its windows have passed: memory holds only the last minute’s addresses', async () => {
		const { instance, clock } = limiter({ perMinute: 2 });
		await instance.hit('192.0.2.1', 'http');
		await instance.hit('192.0.2.1', 'http');
		expect(await instance.hit('192.0.2.1', 'http')).toBeGreaterThan(0);
		clock.advance(60_000);
		expect(await instance.hit('192.0.2.1', 'http')).toBe(0);
		expect(await instance.hit('192.0.2.1', 'http')).toBe(0);
		// Every counter of the address has a timer that deletes it when its window ends.
		expect(vi.getTimerCount()).toBeGreaterThan(0);
		clock.advance(60_000);
		expect(vi.getTimerCount()).toBe(0);
	});

	it('applies the level (scale) to the next request: strict halves the limit, relaxed doubles it', async () => {
		let factor = 0.5;
		const { instance } = limiter({ perMinute: 10, scale: () => factor });
		for (let i = 0; i < 5; i += 1) expect(await instance.hit('192.0.2.1', 'http')).toBe(0);
		expect(await instance.hit('192.0.2.1', 'http')).toBeGreaterThan(0);
		factor = 2;
		for (let i = 0; i < 20; i += 1) expect(await instance.hit('192.0.2.1', 'http')).toBe(0);
		expect(await instance.hit('192.0.2.1', 'http')).toBeGreaterThan(0);
	});

	it('classifies credentials and invite-code routes as auth, probes, /metrics and built assets as exempt', () => {
		for (const route of ['/api/auth/sign-in', '/api/auth/sign-up', '/api/me/password', '/api/invites/[code]', '/api/invites/[code]/accept']) {
			expect(HttpRateLimiter.scopeOf('/irrelevant', route)).toBe('auth');
		}
		expect(HttpRateLimiter.scopeOf('/api/me', '/api/me')).toBe('http');
		expect(HttpRateLimiter.scopeOf('/no/such/page', null)).toBe('http');
		for (const path of ['/health', '/live', '/ready', '/metrics', '/_app/immutable/entry/start.js']) {
			expect(HttpRateLimiter.scopeOf(path, null)).toBeNull();
		}
	});
});
