// Argon2id (libsodium crypto_pwhash) for the recovery passphrase.
//
// Why a second libsodium build: the standard libsodium-wrappers 0.8.4 build has no crypto_pwhash
// (nor crypto_hash_sha512); only the sumo build exports it. Rather than switching every page to the
// larger sumo wasm, it is loaded here, lazily and only when someone sets or enters the recovery
// passphrase (a few times per device lifetime). Everything else keeps using loadSodium().
import type sumoModule from 'libsodium-wrappers-sumo';
import { lazySodiumBuild } from './sodium.ts';

type Sumo = typeof sumoModule;

export type Argon2idLimits = { opsLimit: number; memLimit: number };

/**
 * libsodium's MODERATE limits (crypto_pwhash_OPSLIMIT_MODERATE / MEMLIMIT_MODERATE): about a second
 * of one core and 256 MiB per guess, so an offline attacker holding the server's copy of the
 * wrapped key pays that for every passphrase tried. Written out so choosing parameters does not
 * need the wasm; a unit test checks them against the library's constants.
 */
export const ARGON2ID_MODERATE: Argon2idLimits = { opsLimit: 3, memLimit: 256 * 1024 * 1024 };

/** The sumo build, loaded on first use (see the header comment). */
export const loadArgon2idSodium: () => Promise<Sumo> = lazySodiumBuild(() => import('libsodium-wrappers-sumo'));

/**
 * A 32-byte key from a passphrase. The passphrase is normalised to Unicode NFKC first, so the same
 * words typed on another device (composed vs. decomposed accents, full-width forms) give the same key.
 */
export async function argon2idKey(passphrase: string, salt: Uint8Array, limits: Argon2idLimits): Promise<Uint8Array> {
	const sodium = await loadArgon2idSodium();
	return sodium.crypto_pwhash(
		32,
		new TextEncoder().encode(passphrase.normalize('NFKC')),
		salt,
		limits.opsLimit,
		limits.memLimit,
		sodium.crypto_pwhash_ALG_ARGON2ID13
	);
}
