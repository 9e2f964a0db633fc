import { describe, expect, it } from 'vitest';
import { exponentialBackoff } from '#lib/client/realtime/reconnect-policy.ts';

describe('exponentialBackoff', () => {
	it('doubles the ceiling per attempt up to the maximum', () => {
		const policy = exponentialBackoff({ baseMs: 100, maxMs: 1000, random: () => 1 });
		expect([1, 2, 3, 4, 5, 6].map((a) => policy.delayMs(a))).toEqual([100, 200, 400, 800, 1000, 1000]);
	});

	it('spreads clients between a quarter of the ceiling and the ceiling', () => {
		expect(exponentialBackoff({ baseMs: 1000, random: () => 0 }).delayMs(1)).toBe(250);
		expect(exponentialBackoff({ baseMs: 1000, random: () => 0.5 }).delayMs(1)).toBe(625);
	});
});
