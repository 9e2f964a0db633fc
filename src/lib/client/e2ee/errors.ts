// Typed failures of the encryption protocols, so callers can tell "show a lock and ask for the key"
// (missing key) from "show as unverifiable" (tampered, forged) and from "already seen" (replay).
// Messages never contain key material or plaintext.

/** The ciphertext, its header or its associated data does not authenticate, or cannot be parsed. */
export class DecryptionError extends Error {
	override name = 'DecryptionError';
}

/** The message key was already used (a replay), or was discarded. */
export class DuplicateMessageError extends DecryptionError {
	override name = 'DuplicateMessageError';
}

/** The message is further ahead in its chain than the limit allows (MAX_SKIP / forward limit). */
export class TooManySkippedError extends DecryptionError {
	override name = 'TooManySkippedError';
}

/** A signature (signed prekey, sender-key message) does not verify, or the sender is not the author. */
export class BadSignatureError extends Error {
	override name = 'BadSignatureError';
}

/**
 * The key needed is not held here: an unknown or already used one-time prekey, an unknown signed
 * prekey, or a sender-key message older than the earliest iteration this device knows.
 */
export class MissingKeyError extends DecryptionError {
	override name = 'MissingKeyError';
}
