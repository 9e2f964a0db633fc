// Safety numbers: Signal's numeric fingerprint, computed over every current device of each user,
// so two people can check out of band that no one sits between them.
//
// Construction (libsignal NumericFingerprintGenerator, fingerprint version 0, 5200 iterations):
//   keys   = the user's device identity keys (Ed25519, 32 bytes each), sorted bytewise, concatenated
//            (libsignal's `create_for_list` does the same with its serialized keys)
//   h_0    = u16be(0) ‖ keys ‖ utf8(userId)   (not hashed yet);  h_i = SHA-512(h_{i-1} ‖ keys)
//   half   = the first 30 bytes of h_5200 as six 5-byte big-endian integers, each mod 100000,
//            written as 5 digits (30 digits)
//   number = the two halves, smaller string first, so both people see the same 60 digits.
// Any added, removed or changed device key changes the number; the order devices are listed in
// does not. The user id binds the keys to the account they are claimed for.
//
// SHA-512 is libsodium's `crypto_hash` (present in the standard build, unlike `crypto_hash_sha512`).
import { concat, fromB64Exact, toB64, utf8 } from './encoding.ts';
import type { Sodium as FullSodium } from './sodium.ts';

type Sodium = Pick<FullSodium, 'crypto_hash'>;

/** Signal's figure: enough work to make grinding a colliding key set expensive, cheap for one user. */
export const SAFETY_NUMBER_ITERATIONS = 5200;
/** The hash construction's version, hashed in first (Signal's FINGERPRINT_VERSION is 0 as well). */
export const SAFETY_NUMBER_VERSION = 0;
const HALF_DIGITS = 30;
/** The QR payload carries this many bytes of each user's hash: twice Signal's displayable entropy. */
const QR_HASH_BYTES = 32;
const QR_PREFIX = 'hearth-sn:0:';

/** One side of a conversation: a user and the identity keys of all their current devices. */
export type SafetyNumberParty = {
	userId: string;
	/** Ed25519 identity keys, base64url without padding (as the server lists them). */
	identityKeys: string[];
};

export type SafetyNumber = {
	/** 60 digits. */
	digits: string;
	/** The same 60 digits in 12 groups of 5, separated by spaces, for display. */
	groups: string[];
	/** A compact string both people's apps produce identically; what the QR code encodes. */
	qrPayload: string;
};

/**
 * The hash for one user over raw key bytes. Exported with raw bytes so it can be checked against
 * libsignal's published vectors (whose keys are 33-byte serialized Curve25519 keys).
 */
export function fingerprintHash(
	sodium: Sodium,
	keysInOrder: Uint8Array[],
	stableId: string,
	iterations: number = SAFETY_NUMBER_ITERATIONS
): Uint8Array {
	const keys = concat(...keysInOrder);
	const version = new Uint8Array([SAFETY_NUMBER_VERSION >> 8, SAFETY_NUMBER_VERSION & 0xff]);
	let hash = concat(version, keys, utf8(stableId));
	for (let i = 0; i < iterations; i++) hash = sodium.crypto_hash(concat(hash, keys));
	return hash;
}

/** 30 digits from the first 30 bytes of a fingerprint hash. */
export function displayableHalf(hash: Uint8Array): string {
	let out = '';
	for (let offset = 0; offset < HALF_DIGITS; offset += 5) {
		let chunk = 0;
		// 5 bytes fit a double exactly (2^40 < 2^53); bit operators would truncate to 32 bits.
		for (let i = 0; i < 5; i++) chunk = chunk * 256 + hash[offset + i]!;
		out += String(chunk % 100_000).padStart(5, '0');
	}
	return out;
}

/** Identity keys sorted bytewise, so the order the server lists devices in never matters. */
export function sortedKeyBytes(identityKeys: string[]): Uint8Array[] {
	return identityKeys.map((key) => fromB64Exact(key, 32, 'identityKey')).sort(compareBytes);
}

/** The safety number between two users. Symmetric: computeSafetyNumber(a, b) equals computeSafetyNumber(b, a). */
export function computeSafetyNumber(sodium: Sodium, a: SafetyNumberParty, b: SafetyNumberParty): SafetyNumber {
	if (a.identityKeys.length === 0 || b.identityKeys.length === 0) {
		throw new Error('A safety number needs at least one device on each side.');
	}
	const sides = [a, b].map((party) => {
		const hash = fingerprintHash(sodium, sortedKeyBytes(party.identityKeys), party.userId);
		return { half: displayableHalf(hash), qr: hash.subarray(0, QR_HASH_BYTES) };
	});
	// Signal orders the halves by their digits; equal halves (same user and keys) need no tie-break.
	sides.sort((x, y) => (x.half < y.half ? -1 : x.half > y.half ? 1 : 0));
	const digits = sides[0]!.half + sides[1]!.half;
	return {
		digits,
		groups: digits.match(/\d{5}/g)!,
		qrPayload: `${QR_PREFIX}${toB64(sides[0]!.qr)}.${toB64(sides[1]!.qr)}`
	};
}

/**
 * Whether a scanned QR payload (or pasted digits) matches ours. Both strings are public, so a plain
 * comparison is fine; whitespace in typed digits is ignored.
 */
export function safetyNumbersMatch(ours: SafetyNumber, theirs: string): boolean {
	const candidate = theirs.trim();
	if (candidate.startsWith(QR_PREFIX)) return candidate === ours.qrPayload;
	return candidate.replace(/\s+/g, '') === ours.digits;
}

function compareBytes(x: Uint8Array, y: Uint8Array): number {
	const n = Math.min(x.length, y.length);
	for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
	return x.length - y.length;
}
