import sumo from 'libsodium-wrappers-sumo';
import * as v from 'valibot';
import { beforeAll, describe, expect, it } from 'vitest';
import { KeyBackupParams, PutKeyBackupRequest } from '#lib/shared/e2ee.ts';
import { ARGON2ID_MODERATE, argon2idKey } from '#lib/client/e2ee/argon2id.ts';
import { DecryptionError } from '#lib/client/e2ee/errors.ts';
import {
	createBackupKey,
	decryptEntry,
	encryptEntry,
	messageKeyEntryId,
	newBackupParams,
	passphraseStrength,
	rewrapBackupKey,
	senderKeyEntryId,
	unwrapBackupKey,
	WrongPassphraseError,
	wrapBackupKey
} from '#lib/client/e2ee/key-backup.ts';
import { loadSodium, type Sodium } from '#lib/client/e2ee/sodium.ts';

let sodium: Sodium;
beforeAll(async () => {
	sodium = await loadSodium();
	await sumo.ready;
});

/** Argon2id at its minimum cost: the construction is the same, the tests stay fast. */
const FAST = { opsLimit: 1, memLimit: 8 * 1024 * 1024 };
const PASSPHRASE = 'correct horse battery staple';

describe('Argon2id parameters', () => {
	it("defaults to libsodium's MODERATE limits with a fresh 16-byte salt", () => {
		expect(ARGON2ID_MODERATE).toEqual({
			opsLimit: sumo.crypto_pwhash_OPSLIMIT_MODERATE,
			memLimit: sumo.crypto_pwhash_MEMLIMIT_MODERATE
		});
		const a = newBackupParams(sodium);
		const b = newBackupParams(sodium);
		expect(a).toMatchObject({ alg: 'argon2id13', opsLimit: 3, memLimit: 256 * 1024 * 1024 });
		expect(v.is(KeyBackupParams, a)).toBe(true);
		expect(a.salt).not.toBe(b.salt);
	});

	it('derives the same key as libsodium crypto_pwhash Argon2id13 directly', async () => {
		const salt = new Uint8Array(16).fill(9);
		const expected = sumo.crypto_pwhash(32, PASSPHRASE, salt, FAST.opsLimit, FAST.memLimit, sumo.crypto_pwhash_ALG_ARGON2ID13);
		expect(sumo.to_hex(await argon2idKey(PASSPHRASE, salt, FAST))).toBe(sumo.to_hex(expected));
	});

	it('treats composed and decomposed accents as the same passphrase (NFKC)', async () => {
		const salt = new Uint8Array(16).fill(1);
		const composed = await argon2idKey('caf\u00e9 au lait', salt, FAST);
		const decomposed = await argon2idKey('cafe\u0301 au lait', salt, FAST);
		expect(sumo.to_hex(decomposed)).toBe(sumo.to_hex(composed));
	});
});

describe('wrapping the backup key', () => {
	it('unwraps with the right passphrase and produces a request the server schema accepts', async () => {
		const backupKey = createBackupKey(sodium);
		const params = newBackupParams(sodium, FAST);
		const wrappedKey = await wrapBackupKey(sodium, backupKey, PASSPHRASE, params);
		expect(v.is(PutKeyBackupRequest, { version: 1, params, wrappedKey })).toBe(true);
		expect(wrappedKey).not.toContain(sumo.to_base64(backupKey, sumo.base64_variants.URLSAFE_NO_PADDING));
		const unwrapped = await unwrapBackupKey(sodium, wrappedKey, PASSPHRASE, params);
		expect(sumo.to_hex(unwrapped)).toBe(sumo.to_hex(backupKey));
	});

	it('refuses a wrong passphrase with WrongPassphraseError', async () => {
		const params = newBackupParams(sodium, FAST);
		const wrappedKey = await wrapBackupKey(sodium, createBackupKey(sodium), PASSPHRASE, params);
		await expect(unwrapBackupKey(sodium, wrappedKey, 'correct horse battery stapler', params)).rejects.toBeInstanceOf(
			WrongPassphraseError
		);
	});

	it('refuses when the server swaps the salt or the limits (the derived key changes)', async () => {
		const params = newBackupParams(sodium, FAST);
		const wrappedKey = await wrapBackupKey(sodium, createBackupKey(sodium), PASSPHRASE, params);
		const otherSalt = { ...params, salt: newBackupParams(sodium, FAST).salt };
		await expect(unwrapBackupKey(sodium, wrappedKey, PASSPHRASE, otherSalt)).rejects.toBeInstanceOf(WrongPassphraseError);
		await expect(unwrapBackupKey(sodium, wrappedKey, PASSPHRASE, { ...params, opsLimit: 2 })).rejects.toBeInstanceOf(
			WrongPassphraseError
		);
	});

	it('refuses parameters outside the schema before running Argon2id (no 4 GiB allocation on request)', async () => {
		const params = { ...newBackupParams(sodium, FAST), memLimit: 4 * 1024 * 1024 * 1024 };
		await expect(unwrapBackupKey(sodium, 'AAAA', PASSPHRASE, params)).rejects.toThrow(v.ValiError);
	});

	it('changing the passphrase keeps the same backup key under a fresh salt; the old passphrase stops working', async () => {
		const backupKey = createBackupKey(sodium);
		const params = newBackupParams(sodium, FAST);
		const wrappedKey = await wrapBackupKey(sodium, backupKey, PASSPHRASE, params);
		const changed = await rewrapBackupKey(sodium, { wrappedKey, params, passphrase: PASSPHRASE }, 'a new and different phrase', FAST);
		expect(changed.params.salt).not.toBe(params.salt);
		const reopened = await unwrapBackupKey(sodium, changed.wrappedKey, 'a new and different phrase', changed.params);
		expect(sumo.to_hex(reopened)).toBe(sumo.to_hex(backupKey));
		await expect(unwrapBackupKey(sodium, changed.wrappedKey, PASSPHRASE, changed.params)).rejects.toBeInstanceOf(
			WrongPassphraseError
		);
	});
});

describe('backup entries', () => {
	// Long enough that random ciphertext never holds it by chance: a three-letter value did, about
	// once in 2,000 runs (base64url of ~90 bytes has ~120 places for it), and failed a CI run.
	const value = { chainKey: 'chain-key-plaintext-marker-0123456789', iteration: 7, signingKey: 'def' };

	it('round-trip a JSON value under its id', () => {
		const key = createBackupKey(sodium);
		const id = senderKeyEntryId('5b7c9c8e-0000-4000-8000-000000000001', 'AAAAAAAAAAAAAAAAAAAAAA');
		expect(id).toBe('sk:5b7c9c8e-0000-4000-8000-000000000001:AAAAAAAAAAAAAAAAAAAAAA');
		const ciphertext = encryptEntry(sodium, key, id, value);
		expect(ciphertext).not.toContain(value.chainKey);
		expect(decryptEntry(sodium, key, id, ciphertext)).toEqual(value);
	});

	it('cannot be moved to another id (the id is authenticated)', () => {
		const key = createBackupKey(sodium);
		const ciphertext = encryptEntry(sodium, key, messageKeyEntryId('m1'), value);
		expect(() => decryptEntry(sodium, key, messageKeyEntryId('m2'), ciphertext)).toThrow(DecryptionError);
	});

	it('does not decrypt with another backup key (after a reset) or when altered', () => {
		const key = createBackupKey(sodium);
		const ciphertext = encryptEntry(sodium, key, 'mk:m1', value);
		expect(() => decryptEntry(sodium, createBackupKey(sodium), 'mk:m1', ciphertext)).toThrow(DecryptionError);
		const last = ciphertext.at(-1) === 'A' ? 'B' : 'A';
		expect(() => decryptEntry(sodium, key, 'mk:m1', ciphertext.slice(0, -1) + last)).toThrow(DecryptionError);
	});

	it('uses a fresh nonce each time', () => {
		const key = createBackupKey(sodium);
		expect(encryptEntry(sodium, key, 'mk:m1', value)).not.toBe(encryptEntry(sodium, key, 'mk:m1', value));
	});
});

describe('passphraseStrength', () => {
	it('refuses fewer than 10 characters and one repeated character', () => {
		expect(passphraseStrength('')).toMatchObject({ acceptable: false, level: 'too-short', length: 0 });
		expect(passphraseStrength('abcdefghi')).toMatchObject({ acceptable: false, level: 'too-short' });
		expect(passphraseStrength('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')).toMatchObject({ acceptable: false });
	});

	it('grades by length only, and says that length is all it measures', () => {
		expect(passphraseStrength('abcdefghij')).toMatchObject({ acceptable: true, level: 'short' });
		expect(passphraseStrength('plum orbit tundra')).toMatchObject({ acceptable: true, level: 'reasonable' });
		const long = passphraseStrength('plum orbit tundra velvet cactus');
		expect(long).toMatchObject({ acceptable: true, level: 'long' });
		expect(long.hint).toMatch(/Length is all this check can see/);
	});

	it('counts characters, not UTF-16 units', () => {
		// Nine emoji: 17 UTF-16 units, 9 characters.
		const emoji = '🔑🚪🏠🌳🌊🔥🌙⭐🍀';
		expect(emoji.length).toBe(17);
		expect(passphraseStrength(emoji)).toMatchObject({ length: 9, acceptable: false });
	});
});
