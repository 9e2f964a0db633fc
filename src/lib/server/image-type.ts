// What kind of image a byte string is, judged by its first bytes (its "magic number"), never by a
// name or a Content-Type an uploader chose. Only raster formats browsers display without running
// anything: SVG is refused because it can carry script.

export type RasterImageType = 'image/png' | 'image/jpeg' | 'image/webp';

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const RIFF = [0x52, 0x49, 0x46, 0x46]; // "RIFF", then 4 bytes of length, then "WEBP"
const WEBP = [0x57, 0x45, 0x42, 0x50];
const GIF87 = [0x47, 0x49, 0x46, 0x38, 0x37, 0x61]; // "GIF87a"
const GIF89 = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61]; // "GIF89a"

function startsWith(bytes: Uint8Array, magic: number[], offset = 0): boolean {
	if (bytes.length < offset + magic.length) return false;
	return magic.every((byte, i) => bytes[offset + i] === byte);
}

/** The image type of `bytes`, or null when they are not a PNG, JPEG or WebP file. */
export function sniffRasterImage(bytes: Uint8Array): RasterImageType | null {
	if (startsWith(bytes, PNG)) return 'image/png';
	if (startsWith(bytes, JPEG)) return 'image/jpeg';
	if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8)) return 'image/webp';
	return null;
}

export type EmojiImageType = 'image/png' | 'image/gif' | 'image/webp';

/** For custom emoji: PNG, GIF (animated ones too) or WebP by their first bytes; null otherwise (JPEG has no transparency). */
export function sniffEmojiImage(bytes: Uint8Array): EmojiImageType | null {
	if (startsWith(bytes, GIF87) || startsWith(bytes, GIF89)) return 'image/gif';
	const raster = sniffRasterImage(bytes);
	return raster === 'image/png' || raster === 'image/webp' ? raster : null;
}
