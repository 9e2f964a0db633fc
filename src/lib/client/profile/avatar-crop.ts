// Cropping a picture square for an avatar, in the browser: the geometry of the crop box (the
// picture covers the box at zoom 1 and can be moved but never leaves a gap) and the re-encoding
// to a small square WebP (PNG where the browser cannot write WebP). The server still checks the
// bytes it gets; re-encoding here also drops the photo's metadata (location, camera) before upload.
import { AVATAR_SIDE_PX } from '#lib/shared/profile.ts';

export type CropState = { zoom: number; x: number; y: number };
export const ZOOM_MAX = 4;

/** Scale of the picture in the box at this zoom: at 1 its shorter side just fills the box. */
export function scaleFor(natural: { width: number; height: number }, box: number, zoom: number): number {
	return (box / Math.min(natural.width, natural.height)) * zoom;
}

/** Keeps the picture over the whole box (x and y are its top-left corner in the box, ≤ 0). */
export function clampCrop(natural: { width: number; height: number }, box: number, state: CropState): CropState {
	const zoom = Math.min(ZOOM_MAX, Math.max(1, state.zoom));
	const scale = scaleFor(natural, box, zoom);
	const minX = box - natural.width * scale;
	const minY = box - natural.height * scale;
	return { zoom, x: Math.min(0, Math.max(minX, state.x)), y: Math.min(0, Math.max(minY, state.y)) };
}

/** Centred at zoom 1. */
export function initialCrop(natural: { width: number; height: number }, box: number): CropState {
	const scale = scaleFor(natural, box, 1);
	return { zoom: 1, x: (box - natural.width * scale) / 2, y: (box - natural.height * scale) / 2 };
}

/** Zooms around the box's centre, so the middle of what one sees stays put. */
export function zoomAround(natural: { width: number; height: number }, box: number, state: CropState, zoom: number): CropState {
	const before = scaleFor(natural, box, state.zoom);
	const after = scaleFor(natural, box, Math.min(ZOOM_MAX, Math.max(1, zoom)));
	const cx = (box / 2 - state.x) / before;
	const cy = (box / 2 - state.y) / before;
	return clampCrop(natural, box, { zoom, x: box / 2 - cx * after, y: box / 2 - cy * after });
}

/** The square of the picture (in its own pixels) the box shows. */
export function sourceSquare(natural: { width: number; height: number }, box: number, state: CropState): { sx: number; sy: number; size: number } {
	const scale = scaleFor(natural, box, state.zoom);
	return { sx: Math.max(0, -state.x / scale), sy: Math.max(0, -state.y / scale), size: box / scale };
}

/** Draws the chosen square at AVATAR_SIDE_PX and encodes it (WebP, else PNG). */
export async function encodeSquare(image: HTMLImageElement, box: number, state: CropState): Promise<Blob> {
	const natural = { width: image.naturalWidth, height: image.naturalHeight };
	const { sx, sy, size } = sourceSquare(natural, box, state);
	const canvas = document.createElement('canvas');
	canvas.width = AVATAR_SIDE_PX;
	canvas.height = AVATAR_SIDE_PX;
	const context = canvas.getContext('2d');
	if (!context) throw new Error('This browser cannot draw the picture.');
	context.imageSmoothingQuality = 'high';
	context.drawImage(image, sx, sy, size, size, 0, 0, AVATAR_SIDE_PX, AVATAR_SIDE_PX);
	const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/webp', 0.9));
	if (blob) return blob;
	const png = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
	if (!png) throw new Error('This browser could not encode the picture.');
	return png;
}
