// The encrypted key backup: one random 32-byte backup key per user, wrapped with a key derived
// from the recovery passphrase (Argon2id → secretbox), plus entries (sender keys, direct-message
// content keys) each encrypted with the backup key. The server stores the wrapped key and the
// entries (PUT /api/key-backup, PUT /api/key-backup/entries) and can read neither: without the
// passphrase they are noise, and guessing it costs a full Argon2id run per guess.
//
// What this does not do, said plainly in the UI too: lose the passphrase and every device, and
// the old messages are gone; no one, including the server operator, can recover them.
import * as v from 'valibot';
import { KeyBackupParams, KEY_BACKUP_ENTRY_MAX_CHARS } from '#lib/shared/e2ee.ts';
import { ARGON2ID_MODERATE, argon2idKey, type Argon2idLimits } from './argon2id.ts';
import { concat, encodeFields, fromB64, fromB64Exact, fromUtf8, toB64, utf8 } from './encoding.ts';
import { DecryptionError } from './errors.ts';
import type { Sodium as FullSodium } from './sodium.ts';

type Sodium = Pick<
	FullSodium,
	| 'randombytes_buf'
	| 'crypto_secretbox_easy'
	| 'crypto_secretbox_open_easy'
	| 'crypto_secretbox_NONCEBYTES'
	| 'crypto_aead_xchacha20poly1305_ietf_encrypt'
	| 'crypto_aead_xchacha20poly1305_ietf_decrypt'
	| 'crypto_aead_xchacha20poly1305_ietf_NPUBBYTES'
>;

export const BACKUP_KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Domain separation for entry AD, so entry ciphertexts never verify in any other context. */
const ENTRY_CONTEXT = 'hearth.key-backup.entry.v1';

/** The passphrase does not open the wrapped key (or the wrapped key was altered: the two look alike). */
export class WrongPassphraseError extends Error {
	override name = 'WrongPassphraseError';
	constructor() {
		super('This recovery passphrase does not unlock the key backup.');
	}
}

/** A fresh random backup key (a reset creates a new one and a new backup version). */
export function createBackupKey(sodium: Sodium): Uint8Array {
	return sodium.randombytes_buf(BACKUP_KEY_BYTES);
}

/** Parameters for a new wrapping: a fresh salt and Argon2id limits (MODERATE unless overridden, e.g. in tests). */
export function newBackupParams(sodium: Sodium, limits: Argon2idLimits = ARGON2ID_MODERATE): KeyBackupParams {
	return v.parse(KeyBackupParams, {
		alg: 'argon2id13',
		salt: toB64(sodium.randombytes_buf(SALT_BYTES)),
		opsLimit: limits.opsLimit,
		memLimit: limits.memLimit
	});
}

/** Wraps the backup key under the passphrase: base64url(nonce ‖ secretbox(key)). */
export async function wrapBackupKey(
	sodium: Sodium,
	backupKey: Uint8Array,
	passphrase: string,
	params: KeyBackupParams
): Promise<string> {
	if (backupKey.length !== BACKUP_KEY_BYTES) throw new Error('A backup key is 32 bytes.');
	const wrappingKey = await deriveWrappingKey(passphrase, params);
	const nonce = sodium.randombytes_buf(sodium.crypto_secretbox_NONCEBYTES);
	return toB64(concat(nonce, sodium.crypto_secretbox_easy(backupKey, nonce, wrappingKey)));
}

/**
 * Opens the wrapped backup key with the passphrase. Throws WrongPassphraseError when it does not
 * authenticate. `params` come from the server and are validated first (the schema caps memory at
 * 1 GiB, so a hostile server cannot make the browser allocate without bound).
 */
export async function unwrapBackupKey(
	sodium: Sodium,
	wrappedKey: string,
	passphrase: string,
	params: KeyBackupParams
): Promise<Uint8Array> {
	const checked = v.parse(KeyBackupParams, params);
	const bytes = fromB64(wrappedKey);
	const nonceBytes = sodium.crypto_secretbox_NONCEBYTES;
	if (bytes.length !== nonceBytes + BACKUP_KEY_BYTES + 16) throw new WrongPassphraseError();
	const wrappingKey = await deriveWrappingKey(passphrase, checked);
	try {
		return sodium.crypto_secretbox_open_easy(bytes.subarray(nonceBytes), bytes.subarray(0, nonceBytes), wrappingKey);
	} catch {
		throw new WrongPassphraseError();
	}
}

/**
 * A passphrase change keeps the same backup key (and version, so entries stay valid): unwrap with
 * the old passphrase, wrap with the new one under a fresh salt.
 */
export async function rewrapBackupKey(
	sodium: Sodium,
	current: { wrappedKey: string; params: KeyBackupParams; passphrase: string },
	newPassphrase: string,
	limits: Argon2idLimits = ARGON2ID_MODERATE
): Promise<{ wrappedKey: string; params: KeyBackupParams }> {
	const backupKey = await unwrapBackupKey(sodium, current.wrappedKey, current.passphrase, current.params);
	const params = newBackupParams(sodium, limits);
	return { wrappedKey: await wrapBackupKey(sodium, backupKey, newPassphrase, params), params };
}

/** Entry id of an inbound sender key, as the design fixes it. */
export function senderKeyEntryId(senderDeviceId: string, senderKeyId: string): string {
	return `sk:${senderDeviceId}:${senderKeyId}`;
}

/** Entry id of a direct message's content key. */
export function messageKeyEntryId(messageKeyId: string): string {
	return `mk:${messageKeyId}`;
}

/**
 * Encrypts one entry (any JSON value) with the backup key. The entry id is authenticated as
 * associated data: the server cannot move a ciphertext to another id (e.g. present one sender's
 * key as another's), because it would no longer decrypt.
 */
export function encryptEntry(sodium: Sodium, backupKey: Uint8Array, id: string, value: unknown): string {
	const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
		utf8(JSON.stringify(value)),
		encodeFields(ENTRY_CONTEXT, id),
		null,
		nonce,
		backupKey
	);
	const encoded = toB64(concat(nonce, ciphertext));
	if (encoded.length > KEY_BACKUP_ENTRY_MAX_CHARS) throw new Error('This key backup entry is too large.');
	return encoded;
}

/** Decrypts an entry stored under `id`. Throws DecryptionError when it was altered, moved or is from another backup key. */
export function decryptEntry(sodium: Sodium, backupKey: Uint8Array, id: string, ciphertext: string): unknown {
	const nonceBytes = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	let plaintext: Uint8Array;
	try {
		const bytes = fromB64(ciphertext);
		plaintext = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
			null,
			bytes.subarray(nonceBytes),
			encodeFields(ENTRY_CONTEXT, id),
			bytes.subarray(0, nonceBytes),
			backupKey
		);
	} catch {
		throw new DecryptionError(`Key backup entry ${id} does not decrypt.`);
	}
	return JSON.parse(fromUtf8(plaintext)) as unknown;
}

async function deriveWrappingKey(passphrase: string, params: KeyBackupParams): Promise<Uint8Array> {
	return argon2idKey(passphrase, fromB64Exact(params.salt, SALT_BYTES, 'salt'), params);
}

// ---------------------------------------------------------------------------------------------
// Passphrase strength: length is the only thing measured, and the hint says so. Guessability
// (a quote, a name, a keyboard walk) cannot be judged honestly by a length count, so no score
// pretends to; the advice points to random words instead.

/** Shortest passphrase accepted. At MODERATE Argon2id, 10 random characters are far out of reach; 10 chosen ones may not be. */
export const PASSPHRASE_MIN_LENGTH = 10;

export type PassphraseStrength = {
	/** Whether the passphrase may be used at all. */
	acceptable: boolean;
	level: 'too-short' | 'short' | 'reasonable' | 'long';
	/** Characters counted (Unicode code points after NFKC normalisation, as hashed). */
	length: number;
	hint: string;
};

const ADVICE = 'Several random words (four or more) are easy to remember and hard to guess.';

export function passphraseStrength(passphrase: string): PassphraseStrength {
	const normalized = passphrase.normalize('NFKC');
	const length = [...normalized].length;
	const distinct = new Set(normalized).size;
	if (length < PASSPHRASE_MIN_LENGTH) {
		return { acceptable: false, level: 'too-short', length, hint: `Use at least ${PASSPHRASE_MIN_LENGTH} characters. ${ADVICE}` };
	}
	if (distinct <= 2) {
		return { acceptable: false, level: 'too-short', length, hint: `A repeated character is not a passphrase. ${ADVICE}` };
	}
	if (length < 16) {
		return {
			acceptable: true,
			level: 'short',
			length,
			hint: `Short: fine only if it is random, not a word, name or phrase you have used before. ${ADVICE}`
		};
	}
	if (length < 24) {
		return {
			acceptable: true,
			level: 'reasonable',
			length,
			hint: 'A reasonable length. Length is all this check can see: a famous quote or song line is weak however long.'
		};
	}
	return {
		acceptable: true,
		level: 'long',
		length,
		hint: 'Long. Length is all this check can see: a famous quote or song line is weak however long.'
	};
}
