// The cooldown after a moderator removes someone from a call (server/calls/call-removals.ts),
// on a clock the test moves. That call.join answers removed_from_call is in calls.test.ts.
import { describe, expect, it } from 'vitest';
import { CALL_REMOVAL_COOLDOWN_MS, CallRemovals } from '../../server/calls/call-removals.ts';

describe('CallRemovals', () => {
	it('blocks that person in that call for the cooldown, counting down in whole seconds, then lets them back', () => {
		let now = 1_000_000;
		const removals = new CallRemovals(CALL_REMOVAL_COOLDOWN_MS, () => now);
		removals.remove('call-a', 'ann');
		expect(removals.secondsLeft('call-a', 'ann')).toBe(60);
		now += 500;
		expect(removals.secondsLeft('call-a', 'ann')).toBe(60);
		now += 58_600;
		expect(removals.secondsLeft('call-a', 'ann')).toBe(1);
		now += 899;
		expect(removals.secondsLeft('call-a', 'ann')).toBe(1);
		now += 1;
		expect(removals.secondsLeft('call-a', 'ann')).toBe(0);
	});

	it('is per call and per person', () => {
		const removals = new CallRemovals(60_000, () => 0);
		removals.remove('call-a', 'ann');
		expect(removals.secondsLeft('call-b', 'ann')).toBe(0);
		expect(removals.secondsLeft('call-a', 'bob')).toBe(0);
	});

	it('a second removal restarts the cooldown', () => {
		let now = 0;
		const removals = new CallRemovals(60_000, () => now);
		removals.remove('call-a', 'ann');
		now = 50_000;
		removals.remove('call-a', 'ann');
		now = 100_000;
		expect(removals.secondsLeft('call-a', 'ann')).toBe(10);
	});

	it('forgets expired removals as new ones come in, so memory stays bounded', () => {
		let now = 0;
		const removals = new CallRemovals(60_000, () => now);
		for (let i = 0; i < 1000; i++) removals.remove('call-a', `user-${i}`);
		expect(removals.size).toBe(1000);
		now = 60_000;
		removals.remove('call-a', 'late');
		expect(removals.size).toBe(1);
		expect(removals.secondsLeft('call-a', 'user-1')).toBe(0);
	});
});
