// SFrame (RFC 9605) for call media: the header, the key schedule and the AEAD, with cipher suite
// AES_128_GCM_SHA256_128 (0x0004), the one every browser's WebCrypto has (the AES-CTR + HMAC
// suites need a truncated HMAC tag that WebCrypto cannot produce in one step, and GCM is faster).
//
// Pure and shared: the browser's encoded-transform worker, the Chromium main-thread transform and
// the tests (Node's WebCrypto) run the same code. Where the SFrame header goes inside a media frame
// and which codec bytes stay in the clear is media-frame.ts; this module is only RFC 9605.

/** AES_128_GCM_SHA256_128 (RFC 9605 §4.5): Nh 32, Nk 16, Nn 12, Nt 16. */
export const SFRAME_CIPHER_SUITE = 0x0004;
const KEY_BYTES = 16;
const NONCE_BYTES = 12;
export const SFRAME_TAG_BYTES = 16;
/** KID and CTR are unsigned 64-bit in RFC 9605; JavaScript numbers carry them exactly up to 2^53. */
const MAX_FIELD = Number.MAX_SAFE_INTEGER;

export class SFrameError extends Error {
	override name = 'SFrameError';
}

type Bytes = Uint8Array<ArrayBuffer>;

function bytesOf(value: number): number {
	let length = 0;
	for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) length++;
	return Math.max(length, 1);
}

function writeBigEndian(out: Bytes, offset: number, value: number, length: number): void {
	let rest = value;
	for (let i = length - 1; i >= 0; i--) {
		out[offset + i] = rest % 256;
		rest = Math.floor(rest / 256);
	}
}

function readBigEndian(bytes: Uint8Array, offset: number, length: number): number {
	let value = 0;
	for (let i = 0; i < length; i++) value = value * 256 + bytes[offset + i]!;
	if (value > MAX_FIELD) throw new SFrameError('SFrame field too large');
	return value;
}

function checkField(value: number, label: string): void {
	if (!Number.isSafeInteger(value) || value < 0) throw new SFrameError(`${label} must be a non-negative safe integer`);
}

/**
 * The SFrame header (RFC 9605 §4.3): one config byte |X|K K K|Y|C C C|, then the extended KID and
 * CTR in the fewest big-endian bytes. A value below 8 sits in the config byte itself.
 */
export function encodeSFrameHeader(kid: number, ctr: number): Bytes {
	checkField(kid, 'KID');
	checkField(ctr, 'CTR');
	const kidLength = kid < 8 ? 0 : bytesOf(kid);
	const ctrLength = ctr < 8 ? 0 : bytesOf(ctr);
	const header = new Uint8Array(1 + kidLength + ctrLength);
	const kidBits = kidLength === 0 ? kid : 0x08 | (kidLength - 1);
	const ctrBits = ctrLength === 0 ? ctr : 0x08 | (ctrLength - 1);
	header[0] = (kidBits << 4) | ctrBits;
	if (kidLength > 0) writeBigEndian(header, 1, kid, kidLength);
	if (ctrLength > 0) writeBigEndian(header, 1 + kidLength, ctr, ctrLength);
	return header;
}

export type SFrameHeader = { kid: number; ctr: number; length: number };

/** Parses the header that starts at `offset`; throws on a truncated one. */
export function decodeSFrameHeader(bytes: Uint8Array, offset = 0): SFrameHeader {
	if (offset >= bytes.length) throw new SFrameError('SFrame header missing');
	const config = bytes[offset]!;
	const kidBits = config >> 4;
	const ctrBits = config & 0x0f;
	const kidLength = kidBits & 0x08 ? (kidBits & 0x07) + 1 : 0;
	const ctrLength = ctrBits & 0x08 ? (ctrBits & 0x07) + 1 : 0;
	const length = 1 + kidLength + ctrLength;
	if (offset + length > bytes.length) throw new SFrameError('SFrame header truncated');
	const kid = kidLength === 0 ? kidBits : readBigEndian(bytes, offset + 1, kidLength);
	const ctr = ctrLength === 0 ? ctrBits : readBigEndian(bytes, offset + 1 + kidLength, ctrLength);
	return { kid, ctr, length };
}

/** The key and salt RFC 9605 §4.4.2 derives from a base key for one KID. */
export type SFrameKey = { kid: number; key: CryptoKey; salt: Bytes };

function label(text: string, kid: number): Bytes {
	const prefix = new TextEncoder().encode(text);
	const out = new Uint8Array(prefix.length + 8 + 2);
	out.set(prefix, 0);
	writeBigEndian(out, prefix.length, kid, 8);
	writeBigEndian(out, prefix.length + 8, SFRAME_CIPHER_SUITE, 2);
	return out;
}

/**
 * sframe_secret = HKDF-Extract("", base_key); sframe_key and sframe_salt = HKDF-Expand of it with
 * the labels "SFrame 1.0 Secret key " / "SFrame 1.0 Secret salt " + KID (8 bytes) + suite (2).
 * WebCrypto's HKDF does extract-then-expand in one call; an empty salt is RFC 5869's default.
 */
export async function deriveSFrameKey(baseKey: Uint8Array, kid: number, extractable = false): Promise<SFrameKey> {
	checkField(kid, 'KID');
	const ikm = await crypto.subtle.importKey('raw', new Uint8Array(baseKey), 'HKDF', false, ['deriveBits']);
	const expand = async (info: Bytes, length: number) =>
		new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info }, ikm, length * 8));
	const rawKey = await expand(label('SFrame 1.0 Secret key ', kid), KEY_BYTES);
	const salt = await expand(label('SFrame 1.0 Secret salt ', kid), NONCE_BYTES);
	const key = await crypto.subtle.importKey('raw', rawKey, 'AES-GCM', extractable, ['encrypt', 'decrypt']);
	rawKey.fill(0);
	return { kid, key, salt };
}

/** RFC 9605 §4.4.3: the counter, big-endian in Nn bytes, XOR the salt. */
export function sframeNonce(salt: Uint8Array, ctr: number): Bytes {
	checkField(ctr, 'CTR');
	const nonce = new Uint8Array(NONCE_BYTES);
	writeBigEndian(nonce, 0, ctr, NONCE_BYTES);
	for (let i = 0; i < NONCE_BYTES; i++) nonce[i]! ^= salt[i]!;
	return nonce;
}

function concat(...parts: Uint8Array[]): Bytes {
	const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
	let offset = 0;
	for (const part of parts) {
		out.set(part, offset);
		offset += part.length;
	}
	return out;
}

/**
 * RFC 9605 §4.4.3 encryption of one frame: AAD = header || metadata, returns the header and the
 * ciphertext (with its 16-byte tag) separately so the caller can place the header where its
 * transport needs it.
 */
export async function sframeSeal(key: SFrameKey, ctr: number, metadata: Uint8Array, plaintext: Uint8Array): Promise<{ header: Bytes; ciphertext: Bytes }> {
	const header = encodeSFrameHeader(key.kid, ctr);
	const sealed = await crypto.subtle.encrypt(
		{ name: 'AES-GCM', iv: sframeNonce(key.salt, ctr), additionalData: concat(header, metadata), tagLength: SFRAME_TAG_BYTES * 8 },
		key.key,
		new Uint8Array(plaintext)
	);
	return { header, ciphertext: new Uint8Array(sealed) };
}

/** The inverse of sframeSeal; throws SFrameError when the tag does not verify. */
export async function sframeOpen(key: SFrameKey, header: Uint8Array, metadata: Uint8Array, ciphertext: Uint8Array): Promise<Bytes> {
	const { kid, ctr } = decodeSFrameHeader(header);
	if (kid !== key.kid) throw new SFrameError('SFrame KID does not match the key');
	if (ciphertext.length < SFRAME_TAG_BYTES) throw new SFrameError('SFrame ciphertext too short');
	try {
		const plain = await crypto.subtle.decrypt(
			{ name: 'AES-GCM', iv: sframeNonce(key.salt, ctr), additionalData: concat(header, metadata), tagLength: SFRAME_TAG_BYTES * 8 },
			key.key,
			new Uint8Array(ciphertext)
		);
		return new Uint8Array(plain);
	} catch {
		throw new SFrameError('SFrame authentication failed');
	}
}
