// The call stage's layout rules: a tile per participant (camera or avatar) plus one per screen
// share, grid by default, a screen share focused by itself, and the person's click deciding after that.
import { describe, expect, it } from 'vitest';
import { arrange, AUTO_GRID_MAX_TILES, buildTiles, clickTile, gridColumns, wantedLayers, type CallVideo } from '#lib/client/calls/call-layout.ts';

const track = {} as MediaStreamTrack;
const people = [
	{ peerId: 'me', userId: 'u-me' },
	{ peerId: 'ana', userId: 'u-ana' },
	{ peerId: 'bo', userId: 'u-bo' }
];
const anaCamera: CallVideo = { key: 'p-ana-cam', peerId: 'ana', userId: 'u-ana', source: 'camera', track, local: false };
const boScreen: CallVideo = { key: 'p-bo-screen', peerId: 'bo', userId: 'u-bo', source: 'screen', track, local: false };
const myScreen: CallVideo = { key: 'local:screen', peerId: 'me', userId: 'u-me', source: 'screen', track, local: true };

describe('call layout', () => {
	it('gives each participant one tile (camera, else avatar) and each screen share its own', () => {
		expect(buildTiles(people, [boScreen, anaCamera]).map((t) => [t.key, t.source])).toEqual([
			['avatar:me', 'avatar'],
			['p-ana-cam', 'camera'],
			['avatar:bo', 'avatar'],
			['p-bo-screen', 'screen']
		]);
	});

	it('is a grid without screen shares, and focuses a screen share by itself (someone else’s before one’s own)', () => {
		expect(arrange(buildTiles(people, [anaCamera]), { mode: 'auto' }).mode).toBe('grid');
		const withShares = arrange(buildTiles(people, [myScreen, boScreen]), { mode: 'auto' });
		expect(withShares.mode === 'focus' && withShares.main.key).toBe('p-bo-screen');
		expect(withShares.mode === 'focus' && withShares.others.map((t) => t.key)).toEqual(['avatar:me', 'avatar:ana', 'avatar:bo', 'local:screen']);
	});

	it('clicking a tile focuses it; clicking the focused tile returns to the grid, which stays even with a screen share', () => {
		const tiles = buildTiles(people, [anaCamera, boScreen]);
		const grid = arrange(tiles, { mode: 'grid' });
		expect(grid.mode).toBe('grid');
		const choice = clickTile(grid, 'p-ana-cam');
		expect(choice).toEqual({ mode: 'focus', key: 'p-ana-cam' });
		const focused = arrange(tiles, choice);
		expect(focused.mode === 'focus' && focused.main.key).toBe('p-ana-cam');
		expect(clickTile(focused, 'p-bo-screen')).toEqual({ mode: 'focus', key: 'p-bo-screen' });
		expect(clickTile(focused, 'p-ana-cam')).toEqual({ mode: 'grid' });
	});

	it('falls back to the default when the focused tile goes away', () => {
		const withoutCamera = buildTiles(people, [boScreen]);
		const arranged = arrange(withoutCamera, { mode: 'focus', key: 'p-ana-cam' });
		expect(arranged.mode === 'focus' && arranged.main.key).toBe('p-bo-screen');
		expect(arrange(buildTiles(people, []), { mode: 'focus', key: 'p-ana-cam' }).mode).toBe('grid');
	});

	describe('active speaker', () => {
		const crowd = ['me', 'ana', 'bo', 'cy', 'dee'].map((name) => ({ peerId: name, userId: `u-${name}` }));
		const cameras: CallVideo[] = crowd.map((p) => ({ key: `cam-${p.peerId}`, peerId: p.peerId, userId: p.userId, source: 'camera', track, local: p.peerId === 'me' }));

		it(`keeps a grid of up to ${AUTO_GRID_MAX_TILES} tiles whoever speaks`, () => {
			expect(arrange(buildTiles(crowd.slice(0, AUTO_GRID_MAX_TILES), cameras), { mode: 'auto' }, 'bo').mode).toBe('grid');
		});

		it('beyond that, focuses whoever spoke last (camera or avatar), the first other person before anyone spoke', () => {
			const tiles = buildTiles(crowd, cameras.filter((c) => c.peerId !== 'cy'));
			const focusOn = (speaker: string | null) => {
				const arranged = arrange(tiles, { mode: 'auto' }, speaker);
				return arranged.mode === 'focus' ? arranged.main.key : 'grid';
			};
			expect(focusOn('bo')).toBe('cam-bo');
			expect(focusOn('cy')).toBe('avatar:cy');
			expect(focusOn(null)).toBe('cam-ana');
			expect(focusOn('gone')).toBe('cam-ana');
			// The speaker's tile is large, so its camera gets the full simulcast layer; the strip a quarter.
			expect(Object.fromEntries(wantedLayers(arrange(tiles, { mode: 'auto' }, 'dee')))).toEqual({ 'cam-dee': 2, 'cam-ana': 0, 'cam-bo': 0 });
		});

		it('gives way to a screen share, a pinned tile and a chosen grid', () => {
			const tiles = buildTiles(crowd, [...cameras, boScreen]);
			const shared = arrange(tiles, { mode: 'auto' }, 'dee');
			expect(shared.mode === 'focus' && shared.main.key).toBe('p-bo-screen');
			const pinned = arrange(tiles, { mode: 'focus', key: 'cam-ana' }, 'dee');
			expect(pinned.mode === 'focus' && pinned.main.key).toBe('cam-ana');
			expect(arrange(buildTiles(crowd, cameras), { mode: 'grid' }, 'dee').mode).toBe('grid');
		});
	});

	it('keeps the grid about square', () => {
		expect([1, 2, 3, 4, 5, 9, 10, 25].map(gridColumns)).toEqual([1, 2, 2, 2, 3, 3, 4, 5]);
	});
});

describe('simulcast layers per tile', () => {
	const cameras: CallVideo[] = people.map((p) => ({ key: `cam-${p.peerId}`, peerId: p.peerId, userId: p.userId, source: 'camera', track, local: p.peerId === 'me' }));

	it('full resolution focused, a quarter in the strip; never for one’s own camera or a screen', () => {
		const tiles = buildTiles(people, [...cameras, boScreen]);
		expect(Object.fromEntries(wantedLayers(arrange(tiles, { mode: 'focus', key: 'cam-ana' })))).toEqual({ 'cam-ana': 2, 'cam-bo': 0 });
	});

	it('by grid size: full for one or two tiles, half up to four, a quarter beyond', () => {
		const grid = (count: number) => {
			const crowd = Array.from({ length: count }, (_, i) => ({ peerId: `p${i}`, userId: `u${i}` }));
			const videos: CallVideo[] = crowd.map((p) => ({ key: `cam-${p.peerId}`, peerId: p.peerId, userId: p.userId, source: 'camera', track, local: false }));
			return [...new Set(wantedLayers(arrange(buildTiles(crowd, videos), { mode: 'grid' })).values())];
		};
		expect([2, 3, 4, 5, 9].map(grid)).toEqual([[2], [1], [1], [0], [0]]);
	});
});
