// The instance icon's type comes from its first bytes, never from a name or Content-Type.
import { describe, expect, it } from 'vitest';
import { sniffRasterImage } from '#lib/server/image-type.ts';

const bytes = (...parts: (number[] | string)[]) => new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));

describe('sniffRasterImage', () => {
	it('recognises PNG, JPEG and WebP by their signatures', () => {
		expect(sniffRasterImage(bytes([0x89], 'PNG\r\n\x1a\n', [0, 0]))).toBe('image/png');
		expect(sniffRasterImage(bytes([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
		expect(sniffRasterImage(bytes('RIFF', [1, 2, 3, 4], 'WEBPVP8 '))).toBe('image/webp');
	});

	it('refuses SVG, GIF, other RIFF files, truncated signatures and nothing at all', () => {
		expect(sniffRasterImage(bytes('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull();
		expect(sniffRasterImage(bytes('GIF89a'))).toBeNull();
		expect(sniffRasterImage(bytes('RIFF', [1, 2, 3, 4], 'WAVE'))).toBeNull();
		expect(sniffRasterImage(bytes([0x89], 'PNG'))).toBeNull();
		expect(sniffRasterImage(bytes([0xff, 0xd8]))).toBeNull();
		expect(sniffRasterImage(new Uint8Array())).toBeNull();
	});
});
