import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../server/realtime/token-bucket.ts';

describe('TokenBucket', () => {
	it('allows a burst, then refills at the configured rate', () => {
		let now = 0;
		const bucket = new TokenBucket(10, 3, () => now);
		expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
		expect(bucket.take()).toBe(100);
		now += 100;
		expect(bucket.take()).toBe(0);
		expect(bucket.take()).toBeGreaterThan(0);
	});

	it('never holds more than the burst size', () => {
		let now = 0;
		const bucket = new TokenBucket(100, 2, () => now);
		now += 60_000;
		expect([bucket.take(), bucket.take()]).toEqual([0, 0]);
		expect(bucket.take()).toBeGreaterThan(0);
	});

	it('scales rate and burst by the current factor, read on every take (the instance rate-limit level)', () => {
		let now = 0;
		let factor = 1;
		const bucket = new TokenBucket(10, 4, () => now, () => factor);
		factor = 0.5;
		// Burst 2 now, even though the bucket started full at 4.
		expect([bucket.take(), bucket.take()]).toEqual([0, 0]);
		// Refill at 5 per second: one token in 200 ms.
		expect(bucket.take()).toBe(200);
		factor = 2;
		now += 1_000;
		// 20 per second for a second, capped at the burst of 8.
		expect(Array.from({ length: 9 }, () => bucket.take()).filter((wait) => wait === 0)).toHaveLength(8);
	});
});
