// Byte encodings of the encryption code. Wire rule (src/lib/shared/e2ee.ts): base64url without
// padding, exactly what libsodium's URLSAFE_NO_PADDING variant produces. Implemented here without
// libsodium so that parsing and validating payloads never needs the wasm module.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** base64url without padding. */
export function toB64(bytes: Uint8Array): string {
	let out = '';
	let i = 0;
	for (; i + 2 < bytes.length; i += 3) {
		const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
		out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
	}
	const rest = bytes.length - i;
	if (rest === 1) {
		const n = bytes[i]! << 16;
		out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!;
	} else if (rest === 2) {
		const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
		out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!;
	}
	return out;
}

/**
 * Strict base64url decoding: no padding, no whitespace, and the unused low bits of the last
 * character must be zero, so every byte string has exactly one accepted encoding (a value that
 * decodes is the value that was signed or compared).
 */
export function fromB64(text: string): Uint8Array {
	if (text.length % 4 === 1) throw new EncodingError('invalid base64url length');
	const out = new Uint8Array(Math.floor((text.length * 3) / 4));
	let bits = 0;
	let value = 0;
	let o = 0;
	for (let i = 0; i < text.length; i++) {
		const code = text.charCodeAt(i);
		const digit = code < 128 ? DECODE[code]! : -1;
		if (digit < 0) throw new EncodingError('invalid base64url character');
		value = (value << 6) | digit;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (value >> bits) & 0xff;
		}
		value &= (1 << bits) - 1;
	}
	if (value !== 0) throw new EncodingError('non-canonical base64url');
	return out;
}

/** Decodes base64url that must hold exactly `length` bytes (keys, nonces, signatures). */
export function fromB64Exact(text: string, length: number, label: string): Uint8Array {
	const bytes = fromB64(text);
	if (bytes.length !== length) throw new EncodingError(`${label} must be ${length} bytes`);
	return bytes;
}

export class EncodingError extends Error {
	override name = 'EncodingError';
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(text: string): Uint8Array {
	return encoder.encode(text);
}

/** Decodes UTF-8, throwing on malformed input instead of inserting replacement characters. */
export function fromUtf8(bytes: Uint8Array): string {
	return strictDecoder.decode(bytes);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
	let length = 0;
	for (const part of parts) length += part.length;
	const out = new Uint8Array(length);
	let offset = 0;
	for (const part of parts) {
		out.set(part, offset);
		offset += part.length;
	}
	return out;
}

export function u32(value: number): Uint8Array {
	if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new EncodingError('not an unsigned 32-bit integer');
	const out = new Uint8Array(4);
	new DataView(out.buffer).setUint32(0, value, false);
	return out;
}

/**
 * Unambiguous concatenation for associated data and signed strings: each field is prefixed with
 * its length (u32, big endian), so ("ab","c") and ("a","bc") never produce the same bytes.
 */
export function encodeFields(...fields: Array<Uint8Array | string>): Uint8Array {
	const parts: Uint8Array[] = [];
	for (const field of fields) {
		const bytes = typeof field === 'string' ? utf8(field) : field;
		parts.push(u32(bytes.length), bytes);
	}
	return concat(...parts);
}
