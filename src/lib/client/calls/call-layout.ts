// What the call stage shows: one tile per participant (their camera, or their avatar when the
// camera is off) and one per screen share, arranged as a grid or with one tile focused (large, the
// others in a strip). The person chooses by clicking a tile; until they do, a screen share takes
// the focus by itself, because a shared screen is unreadable as a grid cell, and a call with more
// tiles than a readable grid holds focuses whoever is speaking (the active speaker).

export type TileSource = 'camera' | 'screen' | 'avatar';

export type CallTile = {
	/** Stable across renders: the producer id of a received video, `local:<source>` for one's own, `avatar:<peerId>` otherwise. */
	key: string;
	peerId: string;
	userId: string;
	source: TileSource;
	track: MediaStreamTrack | null;
	/** This browser's own camera or screen (a preview: mirrored camera, never played back as audio). */
	local: boolean;
};

export type CallVideo = { key: string; peerId: string; userId: string; source: 'camera' | 'screen'; track: MediaStreamTrack; local: boolean };

/** What the person chose: nothing yet (auto), the grid, or one tile. */
export type LayoutChoice = { mode: 'auto' } | { mode: 'grid' } | { mode: 'focus'; key: string };

export type Arrangement = { mode: 'grid'; tiles: CallTile[] } | { mode: 'focus'; main: CallTile; others: CallTile[] };

/** Participants in their order (self first), each with their camera or avatar, then the screen shares. */
export function buildTiles(participants: readonly { peerId: string; userId: string }[], videos: readonly CallVideo[]): CallTile[] {
	const tiles: CallTile[] = [];
	for (const participant of participants) {
		const camera = videos.find((video) => video.peerId === participant.peerId && video.source === 'camera');
		tiles.push(
			camera
				? { key: camera.key, peerId: camera.peerId, userId: camera.userId, source: 'camera', track: camera.track, local: camera.local }
				: { key: `avatar:${participant.peerId}`, peerId: participant.peerId, userId: participant.userId, source: 'avatar', track: null, local: false }
		);
	}
	for (const video of videos) {
		if (video.source === 'screen') tiles.push({ key: video.key, peerId: video.peerId, userId: video.userId, source: 'screen', track: video.track, local: video.local });
	}
	return tiles;
}

/**
 * Tiles a grid shows before the automatic layout focuses the active speaker instead: up to four,
 * tiles are a third of the screen or more; from five on, faces get small and who is talking is
 * what people look for.
 */
export const AUTO_GRID_MAX_TILES = 4;

/**
 * `activeSpeaker`: the peer that spoke last (CallSession.activeSpeaker), focused when nobody chose
 * a tile, no screen is shared and the grid would be too crowded.
 */
export function arrange(tiles: readonly CallTile[], choice: LayoutChoice, activeSpeaker: string | null = null): Arrangement {
	const focus = (main: CallTile): Arrangement => ({ mode: 'focus', main, others: tiles.filter((tile) => tile !== main) });
	if (choice.mode === 'focus') {
		const chosen = tiles.find((tile) => tile.key === choice.key);
		if (chosen) return focus(chosen);
		// The chosen tile went away (camera off, share stopped): back to the default.
	}
	if (choice.mode !== 'grid') {
		// Someone else's screen before one's own: one's own share is a preview of what they already see.
		const screen = tiles.find((tile) => tile.source === 'screen' && !tile.local) ?? tiles.find((tile) => tile.source === 'screen');
		if (screen) return focus(screen);
		if (choice.mode === 'auto' && tiles.length > AUTO_GRID_MAX_TILES) {
			// The speaker's camera (or avatar); before anyone spoke, the first person other than oneself.
			const speaker = activeSpeaker === null ? undefined : tiles.find((tile) => tile.peerId === activeSpeaker && tile.source !== 'screen');
			const main = speaker ?? tiles.find((tile) => !tile.local && tile.source !== 'screen' && tile !== tiles[0]) ?? tiles[0]!;
			return focus(main);
		}
	}
	return { mode: 'grid', tiles: [...tiles] };
}

/** The choice after clicking a tile: a grid tile or a strip tile takes the focus; the focused one returns to the grid. */
export function clickTile(arrangement: Arrangement, key: string): LayoutChoice {
	if (arrangement.mode === 'focus' && arrangement.main.key === key) return { mode: 'grid' };
	return { mode: 'focus', key };
}

/** Columns of a grid of `count` tiles: as square as possible (2 → 2, 3-4 → 2, 5-9 → 3, …). */
export function gridColumns(count: number): number {
	return Math.max(1, Math.ceil(Math.sqrt(count)));
}

/** A simulcast layer: 0 is a quarter of the camera's resolution, 1 half, 2 full. */
export type SpatialLayer = 0 | 1 | 2;

/**
 * The simulcast layer each received camera needs at its tile's size, by key (its producer id): full
 * resolution focused or in a grid of one or two, half in a grid of up to four (tiles about a third
 * of a screen wide), a quarter in larger grids and the strip's thumbnails. The SFU then forwards no
 * more than that, which is what simulcast is for. Screens have one layer; one's own are not received.
 */
export function wantedLayers(arrangement: Arrangement): Map<string, SpatialLayer> {
	const layers = new Map<string, SpatialLayer>();
	const want = (tile: CallTile, layer: SpatialLayer) => {
		if (tile.source === 'camera' && !tile.local) layers.set(tile.key, layer);
	};
	if (arrangement.mode === 'focus') {
		want(arrangement.main, 2);
		for (const tile of arrangement.others) want(tile, 0);
	} else {
		const count = arrangement.tiles.length;
		for (const tile of arrangement.tiles) want(tile, count <= 2 ? 2 : count <= 4 ? 1 : 0);
	}
	return layers;
}
