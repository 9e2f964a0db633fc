// 1:1 direct messages, `hearth.dm.v1`: the body is encrypted once under a fresh 32-byte content key
// K, and K travels in a pairwise envelope to every current device of both participants except the
// sending one:
//   {"e":"hearth.dm.v1","dev":<sender device>,"n":<nonce>,"c":<body>,"k":{"<deviceId>":<envelope>}}
//   c = XChaCha20-Poly1305(content, AD = fields("hearth.dm.v1", channelId, senderDeviceId), n, K)
// The pairwise plaintext is {"kind":"dm-key","key":K}, a kind no to-device parser accepts, so an
// envelope lifted out of a message cannot pass for a to-device message. Recipients keep K (the
// engine stores it in `messageKeys`) to re-render history and to back it up.
//
// Pure functions over session objects; the engine loads and stores the sessions.
import * as v from 'valibot';
import { encodeFields, fromB64, fromB64Exact, fromUtf8, toB64, utf8 } from './encoding.ts';
import { DM_SCHEME, DmPayload, type PairwiseEnvelope } from './envelopes.ts';
import { DecryptionError, MissingKeyError } from './errors.ts';
import { decryptFromDevice, encryptPairwise, type LocalPrekeys, type PairwiseSession } from './pairwise-session.ts';
import type { Sodium } from './sodium.ts';

const DmKeyContent = v.strictObject({ kind: v.literal('dm-key'), key: v.pipe(v.string(), v.length(43), v.regex(/^[A-Za-z0-9_-]+$/)) });

function bodyAd(channelId: string, senderDeviceId: string): Uint8Array {
	return encodeFields(DM_SCHEME, channelId, senderDeviceId);
}

export type DmRecipient = { deviceId: string; session: PairwiseSession };

/**
 * Encrypts `content` (an encoded message content) for the given recipient devices, each with the
 * session to send with (pickSendingSession, or a new outbound session). Returns the payload, the
 * content key (the sender keeps it to show its own message) and every session to store.
 */
export function encryptDmMessage(
	sodium: Sodium,
	input: { channelId: string; senderDeviceId: string; content: string; recipients: readonly DmRecipient[]; now?: number }
): { payload: DmPayload; body: string; contentKey: string; sessions: DmRecipient[] } {
	const now = input.now ?? Date.now();
	if (input.recipients.some((recipient) => recipient.deviceId === input.senderDeviceId)) throw new Error('the sending device is not a recipient');
	const contentKey = sodium.randombytes_buf(32);
	const nonce = sodium.randombytes_buf(sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(utf8(input.content), bodyAd(input.channelId, input.senderDeviceId), null, nonce, contentKey);
	const keyText = JSON.stringify({ kind: 'dm-key', key: toB64(contentKey) });
	const k: Record<string, PairwiseEnvelope> = {};
	const sessions: DmRecipient[] = [];
	for (const recipient of input.recipients) {
		const out = encryptPairwise(sodium, recipient.session, keyText, now);
		k[recipient.deviceId] = out.envelope;
		sessions.push({ deviceId: recipient.deviceId, session: out.session });
	}
	const payload: DmPayload = { e: DM_SCHEME, dev: input.senderDeviceId, n: toB64(nonce), c: toB64(ciphertext), k };
	const result = { payload, body: JSON.stringify(payload), contentKey: toB64(contentKey), sessions };
	sodium.memzero(contentKey);
	return result;
}

/** Decrypts the body with a content key already known (history re-render, backup restore). */
export function decryptDmBody(sodium: Sodium, payload: DmPayload, channelId: string, contentKey: string): string {
	try {
		const plaintext = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
			null,
			fromB64(payload.c),
			bodyAd(channelId, payload.dev),
			fromB64Exact(payload.n, sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, 'nonce'),
			fromB64Exact(contentKey, 32, 'content key')
		);
		return fromUtf8(plaintext);
	} catch {
		throw new DecryptionError('direct message does not authenticate');
	}
}

/**
 * Unwraps this device's copy of the content key with the sessions held with the sending device
 * (`payload.dev`), then decrypts the body. The caller checks that the returned session's remote
 * identity key belongs to `payload.dev`, stores the session (new when `isNew`), deletes the used
 * one-time prekey, and keeps `contentKey`. Throws MissingKeyError when the message has no copy for
 * this device or no session can open it.
 */
export function decryptDmMessage(
	sodium: Sodium,
	input: {
		payload: DmPayload;
		channelId: string;
		ownDeviceId: string;
		sessions: readonly PairwiseSession[];
		local: LocalPrekeys | null;
		now?: number;
	}
): { content: string; contentKey: string; session: PairwiseSession; isNew: boolean; usedOneTimePrekeyId: number | null } {
	const parsed = v.safeParse(DmPayload, input.payload);
	if (!parsed.success) throw new DecryptionError('malformed direct-message payload');
	const payload = parsed.output;
	const envelope = payload.k[input.ownDeviceId];
	if (!envelope) throw new MissingKeyError('this direct message was not encrypted for this device');
	const opened = decryptFromDevice(sodium, input.sessions, envelope, input.local, input.now);
	let contentKey: string;
	try {
		contentKey = v.parse(DmKeyContent, JSON.parse(opened.plaintext)).key;
	} catch {
		throw new DecryptionError('the wrapped content key is malformed');
	}
	return {
		content: decryptDmBody(sodium, payload, input.channelId, contentKey),
		contentKey,
		session: opened.session,
		isNew: opened.isNew,
		usedOneTimePrekeyId: opened.usedOneTimePrekeyId
	};
}
