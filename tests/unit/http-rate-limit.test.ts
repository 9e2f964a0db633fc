import { describe, expect, it } from 'vitest';
import { HttpRateLimiter } from '#lib/server/http-rate-limit.ts';
import type { RateLimitScope } from '#lib/server/metrics.ts';

function limiter(options: { perMinute?: number; authPerMinute?: number; maxTrackedIps?: number } = {}) {
	const clock = { now: 0 };
	const rejected: RateLimitScope[] = [];
	const instance = new HttpRateLimiter({
		perMinute: options.perMinute ?? 60,
		authPerMinute: options.authPerMinute ?? 6,
		maxTrackedIps: options.maxTrackedIps,
		onRejected: (scope) => rejected.push(scope),
		now: () => clock.now
	});
	return { instance, clock, rejected };
}

describe('HttpRateLimiter', () => {
	it('allows a minute’s worth at once, then one request per refill interval, and says how long to wait', () => {
		const { instance, clock } = limiter({ perMinute: 60 });
		for (let i = 0; i < 60; i += 1) expect(instance.hit('192.0.2.1', 'http')).toBe(0);
		expect(instance.hit('192.0.2.1', 'http')).toBe(1000);
		clock.now += 400;
		expect(instance.hit('192.0.2.1', 'http')).toBe(600);
		clock.now += 600;
		expect(instance.hit('192.0.2.1', 'http')).toBe(0);
		expect(instance.hit('192.0.2.1', 'http')).toBe(1000);
	});

	it('counts each client IP and each scope separately', () => {
		const { instance } = limiter({ perMinute: 60, authPerMinute: 2 });
		expect([instance.hit('192.0.2.1', 'auth'), instance.hit('192.0.2.1', 'auth')]).toEqual([0, 0]);
		expect(instance.hit('192.0.2.1', 'auth')).toBe(30_000);
		expect(instance.hit('192.0.2.2', 'auth')).toBe(0);
		expect(instance.hit('192.0.2.1', 'http')).toBe(0);
	});

	it('reports each refusal with its scope', () => {
		const { instance, rejected } = limiter({ perMinute: 1, authPerMinute: 1 });
		instance.hit('192.0.2.1', 'http');
		instance.hit('192.0.2.1', 'http');
		instance.hit('192.0.2.1', 'auth');
		instance.hit('192.0.2.1', 'auth');
		expect(rejected).toEqual(['http', 'auth']);
	});

	it('keeps at most maxTrackedIps addresses per scope, forgetting the least recently seen first', () => {
		const { instance } = limiter({ perMinute: 1, maxTrackedIps: 10 });
		const ip = (n: number) => `192.0.2.${n}`;
		for (let n = 1; n <= 10; n += 1) expect(instance.hit(ip(n), 'http')).toBe(0);
		expect(instance.hit(ip(1), 'http')).toBeGreaterThan(0); // now the most recently seen
		// The eleventh address goes over the cap: the oldest tenth (plus the excess) is forgotten,
		// here 192.0.2.2 and 192.0.2.3.
		expect(instance.hit(ip(11), 'http')).toBe(0);
		expect(instance.trackedIps).toBe(9);
		expect(instance.hit(ip(1), 'http')).toBeGreaterThan(0); // still remembered
		expect(instance.hit(ip(4), 'http')).toBeGreaterThan(0); // still remembered
		expect(instance.hit(ip(2), 'http')).toBe(0); // forgotten: starts with a full bucket
		for (let i = 0; i < 1000; i += 1) {
			instance.hit(`198.51.100.${i % 250}`, 'http');
			expect(instance.trackedIps).toBeLessThanOrEqual(10);
		}
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
