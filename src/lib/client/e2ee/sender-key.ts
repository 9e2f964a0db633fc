// Sender keys (Signal's "sender keys", Megolm-like) for channels and group DMs. Each sending device
// keeps one outbound key per channel: a random id, a symmetric chain (KDF_CK as in the Double
// Ratchet) and an Ed25519 signing key pair. Message i is encrypted with the i-th message key and
// signed; recipients get the chain key and the public signing key over pairwise sessions
// (to-device `sender-key`), never through the server in the clear.
//
// Payload `hearth.sk.v1`: {e, dev, sk, i, n, c, sig}
//   AD  = fields("hearth.sk.v1", channelId, dev, sk, u32 i)     (length-prefixed, encodeFields)
//   c   = XChaCha20-Poly1305(plaintext, AD, n, messageKey_i)
//   sig = Ed25519(signingKey, AD ‖ n ‖ c), verified before anything is decrypted.
//
// Records are JSON-safe; functions return new records and never modify the ones passed in.
import * as v from 'valibot';
import { concat, encodeFields, fromB64, fromB64Exact, fromUtf8, toB64, u32, utf8 } from './encoding.ts';
import { SENDER_KEY_SCHEME, SenderKeyDistribution, type SenderKeyPayload } from './envelopes.ts';
import { BadSignatureError, DecryptionError, DuplicateMessageError, MissingKeyError, TooManySkippedError } from './errors.ts';
import { kdfChainKey } from './kdf.ts';
import type { Sodium } from './sodium.ts';

/** A message may be at most this many iterations ahead of the furthest one seen (or of the key's start). */
export const SENDER_KEY_MAX_FORWARD = 2000;
/** An outbound key is replaced after this many messages… */
export const SENDER_KEY_ROTATE_AFTER_MESSAGES = 1000;
/** …or after this long, whichever comes first, which bounds what one leaked chain key reveals. */
export const SENDER_KEY_ROTATE_AFTER_MS = 7 * 24 * 3600_000;

export type OutboundSenderKey = {
	v: 1;
	channelId: string;
	senderKeyId: string;
	/** Chain key of the next message to send. */
	chainKey: string;
	/** Iteration of the next message to send. */
	iteration: number;
	signingPublicKey: string;
	signingPrivateKey: string;
	createdAt: number;
	/** Device ids this key was sent to; the next send shares it with the devices that appeared since. */
	sharedWith: string[];
};

export type InboundSenderKey = {
	v: 1;
	channelId: string;
	/** The user and device that distributed the key, as the server stated and the pairwise session authenticated. */
	senderUserId: string;
	senderDeviceId: string;
	senderKeyId: string;
	signingKey: string;
	/** The earliest chain position known: every later message key derives from it (history, backup). */
	earliest: { iteration: number; chainKey: string };
	/** A later position, so decrypting the newest message does not re-derive the chain from the start. */
	cursor: { iteration: number; chainKey: string };
	/** Highest iteration decrypted so far; -1 before the first. */
	highest: number;
	/** Iterations already decrypted → id of the message that used each ('' when the caller gave none). */
	used: Record<string, string>;
};

export type SenderContext = { channelId: string; deviceId: string };

function associatedData(channelId: string, deviceId: string, senderKeyId: string, iteration: number): Uint8Array {
	return encodeFields(SENDER_KEY_SCHEME, channelId, deviceId, senderKeyId, u32(iteration));
}

export function createOutboundSenderKey(sodium: Sodium, channelId: string, now = Date.now()): OutboundSenderKey {
	const signing = sodium.crypto_sign_keypair();
	return {
		v: 1,
		channelId,
		senderKeyId: toB64(sodium.randombytes_buf(16)),
		chainKey: toB64(sodium.randombytes_buf(32)),
		iteration: 0,
		signingPublicKey: toB64(signing.publicKey),
		signingPrivateKey: toB64(signing.privateKey),
		createdAt: now,
		sharedWith: []
	};
}

/** Whether the key has carried enough messages or lived long enough to be replaced before the next send. */
export function senderKeyNeedsRotation(key: OutboundSenderKey, now = Date.now()): boolean {
	return key.iteration >= SENDER_KEY_ROTATE_AFTER_MESSAGES || now - key.createdAt >= SENDER_KEY_ROTATE_AFTER_MS;
}

/** Of the channel's current devices, those that have not received this key yet (never the sending device itself). */
export function devicesMissingSenderKey(key: OutboundSenderKey, currentDeviceIds: readonly string[], ownDeviceId: string): string[] {
	const shared = new Set(key.sharedWith);
	return currentDeviceIds.filter((id) => id !== ownDeviceId && !shared.has(id));
}

/** Whether a device that received this key is gone from the channel's devices (then rotate: it must not read on). */
export function senderKeyLostDevice(key: OutboundSenderKey, currentDeviceIds: readonly string[]): boolean {
	const current = new Set(currentDeviceIds);
	return key.sharedWith.some((id) => !current.has(id));
}

export function markSenderKeyShared(key: OutboundSenderKey, deviceIds: readonly string[]): OutboundSenderKey {
	return { ...key, sharedWith: [...new Set([...key.sharedWith, ...deviceIds])] };
}

/** The to-device `sender-key` content: lets a recipient read this key's messages from the current iteration on. */
export function exportSenderKey(key: OutboundSenderKey): SenderKeyDistribution {
	return {
		kind: 'sender-key',
		channelId: key.channelId,
		senderKeyId: key.senderKeyId,
		chainKey: key.chainKey,
		iteration: key.iteration,
		signingKey: key.signingPublicKey
	};
}

export function encryptWithSenderKey(
	sodium: Sodium,
	key: OutboundSenderKey,
	sender: SenderContext,
	plaintext: string
): { key: OutboundSenderKey; payload: SenderKeyPayload; body: string } {
	if (sender.channelId !== key.channelId) throw new Error('sender key of another channel');
	const { chainKey, messageKey } = kdfChainKey(sodium, fromB64(key.chainKey));
	const ad = associatedData(key.channelId, sender.deviceId, key.senderKeyId, key.iteration);
	const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(utf8(plaintext), ad, null, nonce, messageKey);
	sodium.memzero(messageKey);
	const signature = sodium.crypto_sign_detached(concat(ad, nonce, ciphertext), fromB64(key.signingPrivateKey));
	const payload: SenderKeyPayload = {
		e: SENDER_KEY_SCHEME,
		dev: sender.deviceId,
		sk: key.senderKeyId,
		i: key.iteration,
		n: toB64(nonce),
		c: toB64(ciphertext),
		sig: toB64(signature)
	};
	return { key: { ...key, chainKey: toB64(chainKey), iteration: key.iteration + 1 }, payload, body: JSON.stringify(payload) };
}

/**
 * The inbound record for a received `sender-key` distribution. `sender` is who sent the to-device
 * message, as the server states it and as the pairwise session authenticated it.
 */
export function importSenderKey(distribution: SenderKeyDistribution, sender: { userId: string; deviceId: string }): InboundSenderKey {
	const parsed = v.parse(SenderKeyDistribution, distribution);
	const position = { iteration: parsed.iteration, chainKey: parsed.chainKey };
	return {
		v: 1,
		channelId: parsed.channelId,
		senderUserId: sender.userId,
		senderDeviceId: sender.deviceId,
		senderKeyId: parsed.senderKeyId,
		signingKey: parsed.signingKey,
		earliest: position,
		cursor: position,
		highest: -1,
		used: {}
	};
}

/**
 * The distribution of a key from a later iteration on, derived from its first distribution: what a
 * member who joined after the key was made receives (they read from the first message sent while
 * they were a member, never before it: the chain only derives forward).
 */
export function senderKeyDistributionFrom(sodium: Sodium, initial: SenderKeyDistribution, iteration: number): SenderKeyDistribution {
	if (iteration <= initial.iteration) return initial;
	return { ...initial, iteration, chainKey: toB64(advance(sodium, initial, iteration)) };
}

/** The chain key at `target`, derived forward from `from` (which must not be after it). */
function advance(sodium: Sodium, from: { iteration: number; chainKey: string }, target: number): Uint8Array {
	let chain = fromB64(from.chainKey);
	for (let i = from.iteration; i < target; i++) chain = kdfChainKey(sodium, chain).chainKey;
	return chain;
}

/**
 * Combines a record already held with another copy of the same key (a re-share, a backup restore),
 * keeping the earlier starting point. Throws DecryptionError when the two disagree (a different
 * signing key, channel or sender, or chain keys that do not lie on one chain).
 */
export function mergeInboundSenderKeys(sodium: Sodium, held: InboundSenderKey, incoming: InboundSenderKey): InboundSenderKey {
	const sameKey =
		held.senderKeyId === incoming.senderKeyId &&
		held.channelId === incoming.channelId &&
		held.senderDeviceId === incoming.senderDeviceId &&
		held.senderUserId === incoming.senderUserId &&
		held.signingKey === incoming.signingKey;
	if (!sameKey) throw new DecryptionError('conflicting sender key');
	const [early, late] = held.earliest.iteration <= incoming.earliest.iteration ? [held.earliest, incoming.earliest] : [incoming.earliest, held.earliest];
	if (late.iteration - early.iteration > SENDER_KEY_MAX_FORWARD * 50) throw new DecryptionError('sender key copies too far apart to compare');
	if (!sodium.memcmp(advance(sodium, early, late.iteration), fromB64(late.chainKey))) throw new DecryptionError('conflicting sender key chain');
	return { ...held, earliest: early, used: { ...incoming.used, ...held.used }, highest: Math.max(held.highest, incoming.highest) };
}

/** The record at its earliest iteration, as a distribution: what the key backup stores. */
export function exportInboundSenderKey(key: InboundSenderKey): SenderKeyDistribution {
	return {
		kind: 'sender-key',
		channelId: key.channelId,
		senderKeyId: key.senderKeyId,
		chainKey: key.earliest.chainKey,
		iteration: key.earliest.iteration,
		signingKey: key.signingKey
	};
}

export type SenderKeyMessageContext = {
	/** The channel the message was found in. */
	channelId: string;
	/** The message's author as the server states it: must be the user who distributed the key. */
	authorId: string;
	/**
	 * The server's message id. Decrypting the same message again (history re-render) is allowed; a
	 * different message reusing an iteration is a replay. Without it, any second use is refused.
	 */
	messageId?: string;
};

/**
 * Verifies and decrypts a `hearth.sk.v1` payload with the matching inbound record (looked up by
 * payload dev and sk). Throws BadSignatureError (forged, wrong author or channel), MissingKeyError
 * (older than the earliest iteration held), TooManySkippedError (beyond the forward limit),
 * DuplicateMessageError (replay) or DecryptionError (tampered).
 */
export function decryptWithSenderKey(
	sodium: Sodium,
	key: InboundSenderKey,
	payload: SenderKeyPayload,
	context: SenderKeyMessageContext
): { key: InboundSenderKey; plaintext: string } {
	if (payload.dev !== key.senderDeviceId || payload.sk !== key.senderKeyId) throw new DecryptionError('payload is not of this sender key');
	if (context.authorId !== key.senderUserId) throw new BadSignatureError('the sending device does not belong to the author');
	if (context.channelId !== key.channelId) throw new BadSignatureError('sender key of another channel');

	const ad = associatedData(context.channelId, payload.dev, payload.sk, payload.i);
	let nonce: Uint8Array;
	let ciphertext: Uint8Array;
	let signature: Uint8Array;
	try {
		nonce = fromB64Exact(payload.n, sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, 'nonce');
		ciphertext = fromB64(payload.c);
		signature = fromB64Exact(payload.sig, sodium.crypto_sign_BYTES, 'signature');
	} catch {
		throw new DecryptionError('malformed sender-key payload');
	}
	if (!sodium.crypto_sign_verify_detached(signature, concat(ad, nonce, ciphertext), fromB64(key.signingKey))) {
		throw new BadSignatureError('sender-key message signature does not verify');
	}

	const i = payload.i;
	if (i < key.earliest.iteration) throw new MissingKeyError('message is older than the earliest key held');
	if (i > Math.max(key.highest, key.earliest.iteration) + SENDER_KEY_MAX_FORWARD) {
		throw new TooManySkippedError(`message is more than ${SENDER_KEY_MAX_FORWARD} iterations ahead`);
	}
	const usedBy = key.used[String(i)];
	if (usedBy !== undefined && (usedBy === '' || usedBy !== context.messageId)) throw new DuplicateMessageError('iteration already used');

	const from = i >= key.cursor.iteration ? key.cursor : key.earliest;
	const chain = advance(sodium, from, i);
	const { chainKey: next, messageKey } = kdfChainKey(sodium, chain);
	let plaintext: Uint8Array;
	try {
		plaintext = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, messageKey);
	} catch {
		throw new DecryptionError('sender-key message does not authenticate');
	} finally {
		sodium.memzero(messageKey);
	}
	let text: string;
	try {
		text = fromUtf8(plaintext);
	} catch {
		throw new DecryptionError('plaintext is not UTF-8');
	}
	const cursor = i + 1 > key.cursor.iteration ? { iteration: i + 1, chainKey: toB64(next) } : key.cursor;
	return {
		key: { ...key, cursor, highest: Math.max(key.highest, i), used: { ...key.used, [String(i)]: context.messageId ?? '' } },
		plaintext: text
	};
}
