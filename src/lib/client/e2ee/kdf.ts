// Key derivation functions of the protocols. libsodium-wrappers' standard build exposes neither
// HKDF nor HMAC-SHA-256 (only the sumo build does; the constants are there, the functions are not),
// so every KDF here is keyed BLAKE2b (crypto_generichash), a PRF when keyed, with a distinct
// label per use for domain separation. Labels are length-prefixed (encodeFields) so no input of one
// use can be read as the input of another.
import { concat, encodeFields, utf8 } from './encoding.ts';
import type { Sodium } from './sodium.ts';

const KEY_BYTES = 32;

/** keyed BLAKE2b(key, label ‖ input) of `length` bytes (16..64). */
function keyedHash(sodium: Sodium, key: Uint8Array, label: string, input: Uint8Array, length: number): Uint8Array {
	return sodium.crypto_generichash(length, concat(encodeFields(label), input), key);
}

/**
 * X3DH: SK = KDF(F ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4]) with F = 32 bytes of 0xFF (the spec's prefix for
 * X25519). Like HKDF-Extract with a fixed salt: BLAKE2b keyed with a constant derived from the
 * protocol label, over the concatenated DH outputs.
 */
export function kdfX3dh(sodium: Sodium, dhOutputs: Uint8Array[]): Uint8Array {
	const salt = sodium.crypto_generichash(KEY_BYTES, utf8('hearth:x3dh:salt:v1'), null);
	return keyedHash(sodium, salt, 'hearth:x3dh:v1', concat(new Uint8Array(32).fill(0xff), ...dhOutputs), KEY_BYTES);
}

/** Double Ratchet KDF_RK: (root key, DH output) → (next root key, chain key); the root key is the key. */
export function kdfRootKey(sodium: Sodium, rootKey: Uint8Array, dhOutput: Uint8Array): { rootKey: Uint8Array; chainKey: Uint8Array } {
	const out = keyedHash(sodium, rootKey, 'hearth:ratchet:root:v1', dhOutput, 64);
	return { rootKey: out.slice(0, 32), chainKey: out.slice(32, 64) };
}

const MESSAGE_KEY_CONSTANT = Uint8Array.of(0x01);
const CHAIN_KEY_CONSTANT = Uint8Array.of(0x02);

/**
 * KDF_CK of the Double Ratchet spec (and of sender-key chains): the chain key keys BLAKE2b over the
 * single byte 0x01 for the message key and 0x02 for the next chain key.
 */
export function kdfChainKey(sodium: Sodium, chainKey: Uint8Array): { chainKey: Uint8Array; messageKey: Uint8Array } {
	return {
		messageKey: sodium.crypto_generichash(KEY_BYTES, MESSAGE_KEY_CONSTANT, chainKey),
		chainKey: sodium.crypto_generichash(KEY_BYTES, CHAIN_KEY_CONSTANT, chainKey)
	};
}

/** A 32-byte subkey of `key` for one named purpose (e.g. the two halves of a reaction key). */
export function deriveSubkey(sodium: Sodium, key: Uint8Array, label: string): Uint8Array {
	return keyedHash(sodium, key, label, new Uint8Array(0), KEY_BYTES);
}
