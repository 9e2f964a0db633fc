import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { clampCrop, initialCrop, sourceSquare, zoomAround } from '#lib/client/profile/avatar-crop.ts';
import { statusExpiry, StatusEmoji, visibleStatus } from '#lib/shared/profile.ts';

describe('custom status', () => {
	const row = (expires: string | null) => ({ statusEmoji: '☕', statusText: 'Coffee', statusExpiresAt: expires ? new Date(expires) : null });

	it('is visible until the instant it expires, and never when empty', () => {
		expect(visibleStatus(row('2030-01-01T12:00:00Z'), new Date('2030-01-01T11:59:59.999Z'))).toEqual({ emoji: '☕', text: 'Coffee', expiresAt: '2030-01-01T12:00:00.000Z' });
		expect(visibleStatus(row('2030-01-01T12:00:00Z'), new Date('2030-01-01T12:00:00Z'))).toBeNull();
		expect(visibleStatus(row(null), new Date('2099-01-01T00:00:00Z'))).toEqual({ emoji: '☕', text: 'Coffee', expiresAt: null });
		expect(visibleStatus({ statusEmoji: '', statusText: '', statusExpiresAt: null }, new Date())).toBeNull();
	});

	it('durations end where people expect: minutes and hours from now, "today" at the next local midnight, "never" not at all', () => {
		const now = new Date(2030, 0, 1, 15, 20);
		expect(statusExpiry('30m', now)?.getTime()).toBe(now.getTime() + 30 * 60_000);
		expect(statusExpiry('4h', now)?.getTime()).toBe(now.getTime() + 4 * 3_600_000);
		expect(statusExpiry('today', now)).toEqual(new Date(2030, 0, 2, 0, 0));
		expect(statusExpiry('never', now)).toBeNull();
	});

	it('takes one emoji (with skin tones, flags, joiners), refuses letters', () => {
		for (const ok of ['', '☕', '👍🏽', '🇫🇷', '🧑‍💻', '❤️']) expect(v.safeParse(StatusEmoji, ok).success, ok).toBe(true);
		for (const bad of ['abc', 'a☕', '☕ ', 'x'.repeat(40)]) expect(v.safeParse(StatusEmoji, bad).success, bad).toBe(false);
	});
});

describe('avatar crop', () => {
	const landscape = { width: 600, height: 400 };

	it('starts centred with the shorter side filling the box, and never leaves a gap', () => {
		const start = initialCrop(landscape, 240);
		expect(start).toEqual({ zoom: 1, x: -60, y: 0 });
		expect(sourceSquare(landscape, 240, start)).toEqual({ sx: 100, sy: 0, size: 400 });
		expect(clampCrop(landscape, 240, { zoom: 1, x: 50, y: 50 })).toEqual({ zoom: 1, x: 0, y: 0 });
		expect(clampCrop(landscape, 240, { zoom: 1, x: -500, y: -500 })).toEqual({ zoom: 1, x: -120, y: 0 });
		expect(clampCrop(landscape, 240, { zoom: 9, x: 0, y: 0 }).zoom).toBe(4);
	});

	it('zooms around the middle of the box', () => {
		const zoomed = zoomAround(landscape, 240, initialCrop(landscape, 240), 2);
		const square = sourceSquare(landscape, 240, zoomed);
		expect(square.size).toBe(200);
		expect(square.sx + square.size / 2).toBeCloseTo(300);
		expect(square.sy + square.size / 2).toBeCloseTo(200);
	});
});
