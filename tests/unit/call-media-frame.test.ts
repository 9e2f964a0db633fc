import { describe, expect, it } from 'vitest';
import { clearPrefixLength, escapeH264, mediaCodecOf, unescapeH264 } from '#lib/shared/call-media/clear-prefix.ts';
import { decryptMediaFrame, encryptMediaFrame, readMediaFrameTrailer, UnknownMediaKeyError } from '#lib/shared/call-media/media-frame.ts';
import { MEDIA_CODECS } from '../../server/calls/call-service.ts';
import {
	decodeSFrameHeader,
	deriveSFrameKey,
	encodeSFrameHeader,
	sframeNonce,
	sframeOpen,
	sframeSeal,
	SFrameError,
	type SFrameKey
} from '#lib/shared/call-media/sframe.ts';

const hex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));
const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

// RFC 9605 Appendix C.5, cipher suite AES_128_GCM_SHA256_128 (the SFrame working group's
// test-vectors.json, "sframe" entry with cipher_suite 4).
const RFC = {
	kid: 291,
	ctr: 17767,
	baseKey: '000102030405060708090a0b0c0d0e0f',
	sframeKey: 'd34f547f4ca4f9a7447006fe7fcbf768',
	sframeSalt: '75234edefe07819026751816',
	metadata: '4945544620534672616d65205747',
	nonce: '75234edefe07819026755d71',
	plaintext: '64726166742d696574662d736672616d652d656e63',
	ciphertext: '9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb'
};

describe('SFrame (RFC 9605) with AES_128_GCM_SHA256_128', () => {
	it('derives the key and salt of the RFC test vector', async () => {
		const key = await deriveSFrameKey(hex(RFC.baseKey), RFC.kid, true);
		expect(toHex(new Uint8Array(await crypto.subtle.exportKey('raw', key.key)))).toBe(RFC.sframeKey);
		expect(toHex(key.salt)).toBe(RFC.sframeSalt);
	});

	it('forms the nonce from the counter and the salt as the RFC test vector does', () => {
		expect(toHex(sframeNonce(hex(RFC.sframeSalt), RFC.ctr))).toBe(RFC.nonce);
		// Counter 0 is the salt itself; each counter value gives another nonce.
		expect(toHex(sframeNonce(hex(RFC.sframeSalt), 0))).toBe(RFC.sframeSalt);
		expect(toHex(sframeNonce(hex(RFC.sframeSalt), 1))).toBe('75234edefe07819026751817');
	});

	it('encrypts the RFC test vector to its exact ciphertext and decrypts it back', async () => {
		const key = await deriveSFrameKey(hex(RFC.baseKey), RFC.kid);
		const { header, ciphertext } = await sframeSeal(key, RFC.ctr, hex(RFC.metadata), hex(RFC.plaintext));
		expect(toHex(header) + toHex(ciphertext)).toBe(RFC.ciphertext);
		expect(toHex(await sframeOpen(key, header, hex(RFC.metadata), ciphertext))).toBe(RFC.plaintext);
	});

	it('encodes and decodes headers as the RFC header test vectors do', () => {
		const vectors: [number, number, string][] = [
			[0, 0, '00'],
			[0, 255, '08ff'],
			[1, 65536, '1a010000'],
			[255, 0, '80ff'],
			[256, 256, '9901000100'],
			[65535, 16777216, '9bffff01000000'],
			[4294967296, 1, 'c10100000000']
		];
		for (const [kid, ctr, encoded] of vectors) {
			expect(toHex(encodeSFrameHeader(kid, ctr))).toBe(encoded);
			expect(decodeSFrameHeader(hex(encoded))).toEqual({ kid, ctr, length: encoded.length / 2 });
		}
	});

	it('refuses a truncated header', () => {
		expect(() => decodeSFrameHeader(hex('9901'))).toThrow(SFrameError);
	});
});

describe('clear prefix per codec', () => {
	it('keeps 10 bytes of a VP8 keyframe and 3 of any other VP8 frame in the clear', () => {
		const keyframe = new Uint8Array(100);
		keyframe[0] = 0x10; // bit 0 clear: keyframe
		const delta = new Uint8Array(100);
		delta[0] = 0x11;
		expect(clearPrefixLength('vp8', keyframe)).toBe(10);
		expect(clearPrefixLength('vp8', delta)).toBe(3);
		expect(clearPrefixLength('vp8', keyframe.subarray(0, 6))).toBe(6);
	});

	it('keeps the Opus TOC byte in the clear', () => {
		expect(clearPrefixLength('opus', new Uint8Array(60).fill(0x78))).toBe(1);
		expect(clearPrefixLength('opus', new Uint8Array(0))).toBe(0);
	});

	it('keeps H.264 parameter sets and the first slice NAL header plus one byte in the clear', () => {
		// SPS (type 7), PPS (8), then an IDR slice (5) at byte 17: NAL header at 20, clear up to 22.
		const frame = hex('00000001674d401e' + 'e8' + '00000001' + '68ee3c80' + '00000165888400ffee');
		expect(frame[20]! & 0x1f).toBe(5);
		expect(clearPrefixLength('h264', frame)).toBe(22);
		// A non-IDR slice with a 3-byte start code.
		expect(clearPrefixLength('h264', hex('000001419a2b3c'))).toBe(5);
		expect(clearPrefixLength('h264', hex('0000000167abcdef'))).toBe(0);
	});

	it('maps RTP mime types to the codecs it knows', () => {
		expect(mediaCodecOf('audio/opus')).toBe('opus');
		expect(mediaCodecOf('video/VP8')).toBe('vp8');
		expect(mediaCodecOf('video/H264')).toBe('h264');
		expect(mediaCodecOf('video/AV1')).toBeNull();
	});

	it('escapes encrypted H.264 bytes so they hold no start code, and unescapes them exactly', () => {
		const tricky = hex('0000010000000000020000030001ff00');
		const escaped = escapeH264(tricky);
		expect(toHex(escaped)).not.toMatch(/^(..)*0000(00|01|02)/);
		expect(toHex(unescapeH264(escaped))).toBe(toHex(tricky));
		// With a clear prefix ending in one zero, the first escaped zero makes two.
		expect(toHex(escapeH264(hex('0001'), 1))).toBe('000301');
		for (let round = 0; round < 50; round++) {
			const random = crypto.getRandomValues(new Uint8Array(200)).map((b) => (b < 128 ? 0 : b % 4));
			expect(toHex(unescapeH264(escapeH264(random, 1), 1))).toBe(toHex(random));
		}
	});
});

describe('encrypted media frames', () => {
	const baseKey = hex(RFC.baseKey);
	const keyOf = (key: SFrameKey) => (kid: number) => (kid === key.kid ? key : undefined);

	function vp8Delta(): Uint8Array {
		const frame = new Uint8Array(300);
		for (let i = 0; i < frame.length; i++) frame[i] = (i * 7 + 1) & 0xff;
		frame[0] = 0x31; // not a keyframe
		return frame;
	}

	it('lays out clear prefix, ciphertext with tag, SFrame header and its length', async () => {
		const key = await deriveSFrameKey(baseKey, RFC.kid);
		const frame = vp8Delta();
		const encrypted = await encryptMediaFrame(key, RFC.ctr, 'vp8', frame);
		expect(toHex(encrypted.subarray(0, 3))).toBe(toHex(frame.subarray(0, 3)));
		expect(encrypted.length).toBe(frame.length + 16 + 5 + 1);
		expect(toHex(encrypted.subarray(encrypted.length - 6))).toBe('9901234567' + '05');
		expect(readMediaFrameTrailer('vp8', encrypted)).toEqual({ kid: RFC.kid, ctr: RFC.ctr, prefixLength: 3 });
		// The payload is not there in the clear.
		expect(toHex(encrypted)).not.toContain(toHex(frame.subarray(3, 40)));
		expect(toHex(await decryptMediaFrame(keyOf(key), 'vp8', encrypted))).toBe(toHex(frame));
	});

	it('encrypts the body exactly as RFC 9605 does with the clear prefix as metadata', async () => {
		const key = await deriveSFrameKey(baseKey, RFC.kid);
		// An Opus frame whose body is the RFC plaintext: the tail is the RFC AEAD output for this metadata.
		const frame = hex('78' + RFC.plaintext);
		const encrypted = await encryptMediaFrame(key, RFC.ctr, 'opus', frame);
		const { header, ciphertext } = await sframeSeal(key, RFC.ctr, hex('78'), hex(RFC.plaintext));
		expect(toHex(encrypted)).toBe('78' + toHex(ciphertext) + toHex(header) + '05');
	});

	it('uses a fresh nonce per counter value: the same frame under two counters gives two ciphertexts', async () => {
		const key = await deriveSFrameKey(baseKey, 3);
		const frame = vp8Delta();
		const first = await encryptMediaFrame(key, 0, 'vp8', frame);
		const second = await encryptMediaFrame(key, 1, 'vp8', frame);
		const again = await encryptMediaFrame(key, 0, 'vp8', frame);
		expect(toHex(first)).not.toBe(toHex(second));
		expect(toHex(first)).toBe(toHex(again));
		expect(readMediaFrameTrailer('vp8', second).ctr).toBe(1);
		// A counter changed in the trailer changes the nonce (and the AAD): the frame is refused.
		const tampered = new Uint8Array(second);
		tampered[tampered.length - 2] = 0x00; // header byte: KID 0, CTR 0
		await expect(decryptMediaFrame(() => key, 'vp8', tampered)).rejects.toThrow(SFrameError);
	});

	it('refuses a frame with one bit flipped anywhere: clear prefix, ciphertext, tag or header', async () => {
		const key = await deriveSFrameKey(baseKey, 3);
		const frame = new Uint8Array(120).fill(0x42);
		frame[0] = 0x10; // VP8 keyframe: 10 clear bytes
		const encrypted = await encryptMediaFrame(key, 9, 'vp8', frame);
		for (const index of [4, 10, 60, encrypted.length - 8, encrypted.length - 2]) {
			const flipped = new Uint8Array(encrypted);
			flipped[index]! ^= 0x04;
			await expect(decryptMediaFrame(keyOf(key), 'vp8', flipped), `bit flipped at ${index}`).rejects.toThrow(SFrameError);
		}
		expect(toHex(await decryptMediaFrame(keyOf(key), 'vp8', encrypted))).toBe(toHex(frame));
	});

	it('refuses a frame under a key id it has no key for', async () => {
		const key = await deriveSFrameKey(baseKey, 3);
		const encrypted = await encryptMediaFrame(key, 0, 'opus', new Uint8Array(40).fill(1));
		const other = await deriveSFrameKey(baseKey, 4);
		const error = await decryptMediaFrame(keyOf(other), 'opus', encrypted).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(UnknownMediaKeyError);
		expect((error as UnknownMediaKeyError).kid).toBe(3);
	});

	it('refuses a frame decrypted with another key under the same key id', async () => {
		const key = await deriveSFrameKey(baseKey, 3);
		const wrong = await deriveSFrameKey(new Uint8Array(16).fill(9), 3);
		const encrypted = await encryptMediaFrame(key, 0, 'opus', new Uint8Array(40).fill(1));
		await expect(decryptMediaFrame(keyOf(wrong), 'opus', encrypted)).rejects.toThrow('SFrame authentication failed');
	});

	it('refuses plaintext and truncated frames instead of passing them through', async () => {
		const key = await deriveSFrameKey(baseKey, 0);
		await expect(decryptMediaFrame(keyOf(key), 'opus', new Uint8Array(40).fill(0x78))).rejects.toThrow(SFrameError);
		await expect(decryptMediaFrame(keyOf(key), 'vp8', new Uint8Array([0x31, 1, 2, 3]))).rejects.toThrow(SFrameError);
	});

	it('round-trips H.264 frames, whose encrypted part never contains a start code', async () => {
		const key = await deriveSFrameKey(baseKey, 2);
		for (let round = 0; round < 20; round++) {
			const body = crypto.getRandomValues(new Uint8Array(400)).map((b) => (b < 100 ? 0 : b));
			const frame = new Uint8Array([...hex('00000001674d401ee8' + '0000000168ee3c80' + '0000016588'), ...body]);
			const encrypted = await encryptMediaFrame(key, round, 'h264', frame);
			const prefix = clearPrefixLength('h264', frame);
			expect(clearPrefixLength('h264', encrypted)).toBe(prefix);
			expect(toHex(encrypted.subarray(prefix))).not.toMatch(/^(..)*0000(00|01|02)/);
			expect(toHex(await decryptMediaFrame(keyOf(key), 'h264', encrypted))).toBe(toHex(frame));
		}
	});
});

describe('the codecs calls negotiate', () => {
	it('are ones the frame format knows, without Opus RED (redundant copies of earlier frames inside a frame would need their own clear bytes)', () => {
		expect(MEDIA_CODECS.map((codec) => mediaCodecOf(codec.mimeType))).toEqual(['opus', 'vp8']);
		expect(MEDIA_CODECS.some((codec) => codec.mimeType.toLowerCase() === 'audio/red')).toBe(false);
	});
});
