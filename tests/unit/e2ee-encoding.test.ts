import { beforeAll, describe, expect, it } from 'vitest';
import { EncodingError, encodeFields, fromB64, fromB64Exact, fromUtf8, toB64, utf8 } from '#lib/client/e2ee/encoding.ts';
import { loadSodium, type Sodium } from '#lib/client/e2ee/sodium.ts';

let sodium: Sodium;
beforeAll(async () => {
	sodium = await loadSodium();
});

describe('loadSodium', () => {
	it('returns one ready instance however often it is called', async () => {
		expect(await loadSodium()).toBe(sodium);
		expect(sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES).toBe(32);
	});
});

describe('base64url', () => {
	it("matches libsodium's URLSAFE_NO_PADDING encoding both ways, for every length up to 70 bytes", () => {
		for (let length = 0; length <= 70; length++) {
			const bytes = sodium.randombytes_buf(length);
			const expected = sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING);
			expect(toB64(bytes)).toBe(expected);
			expect(fromB64(expected)).toEqual(bytes);
		}
	});

	it('refuses padding, foreign characters, impossible lengths and non-canonical trailing bits', () => {
		expect(() => fromB64('AA==')).toThrow(EncodingError);
		expect(() => fromB64('A+/A')).toThrow(EncodingError);
		expect(() => fromB64('AAAAA')).toThrow(EncodingError);
		// "AB" has non-zero unused bits; "AA" is the canonical encoding of the byte 0.
		expect(fromB64('AA')).toEqual(Uint8Array.of(0));
		expect(() => fromB64('AB')).toThrow(EncodingError);
	});

	it('checks the byte length of fixed-size values', () => {
		expect(() => fromB64Exact(toB64(new Uint8Array(31)), 32, 'key')).toThrow('key must be 32 bytes');
	});
});

describe('utf8 and field encoding', () => {
	it('refuses malformed UTF-8 instead of substituting characters', () => {
		expect(fromUtf8(utf8('héllo 👋'))).toBe('héllo 👋');
		expect(() => fromUtf8(Uint8Array.of(0xff, 0xfe))).toThrow();
	});

	it('length-prefixes fields so different splits never encode alike', () => {
		expect(encodeFields('ab', 'c')).not.toEqual(encodeFields('a', 'bc'));
		expect(encodeFields('a')).toEqual(Uint8Array.of(0, 0, 0, 1, 0x61));
	});
});
