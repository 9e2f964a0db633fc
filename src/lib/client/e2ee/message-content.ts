// The plaintext inside an encrypted message (either scheme), version 2:
//   {"v":2,"text":string,"rk":<32-byte reaction key>,"attachments"?:[…],"quote"?:{…},"mentions"?:{…}}
// and the reaction keys derived from `rk`. Decoding validates strictly and refuses unknown shapes.
//
// Reactions: the server counts reactions by an opaque key without reading the emoji. The key is a
// deterministic encryption of the emoji under the message's `rk` (a synthetic nonce, SIV-style), so
// equal emoji from different people give equal keys, and only readers of the message can tell which
// emoji a key stands for. The emoji is padded to a fixed block before encryption so the key's length
// does not hint at the emoji.
import * as v from 'valibot';
import { MESSAGE_TEXT_MAX_CHARS } from '#lib/shared/message-body.ts';
import { Mentions, normalizeMentions } from '#lib/shared/mentions.ts';
import { fromB64, fromB64Exact, fromUtf8, toB64, utf8 } from './encoding.ts';
import { DecryptionError } from './errors.ts';
import { deriveSubkey } from './kdf.ts';
import type { Sodium } from './sodium.ts';

const B64URL = /^[A-Za-z0-9_-]+$/;
const b64Bytes = (bytes: number) => v.pipe(v.string(), v.length(Math.ceil((bytes * 4) / 3)), v.regex(B64URL));
const Uuid = v.pipe(v.string(), v.uuid());
const noControlCharacters = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);

export const MESSAGE_ATTACHMENTS_MAX = 10;
/** Longest quoted excerpt carried inside a reply. */
export const QUOTE_TEXT_MAX_CHARS = 300;

/** An encrypted attachment: the server holds its ciphertext under `id`; key and header stay in here. */
export const AttachmentRef = v.strictObject({
	id: Uuid,
	name: v.pipe(v.string(), v.minLength(1), v.maxLength(255), v.check(noControlCharacters)),
	/** MIME type as the sender's browser reported it. */
	type: v.pipe(v.string(), v.maxLength(255), v.check(noControlCharacters)),
	/** Plaintext size in bytes. */
	size: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
	/** crypto_secretstream_xchacha20poly1305 key (32 bytes) and header (24 bytes). */
	key: b64Bytes(32),
	header: b64Bytes(24),
	/** Plaintext bytes per encrypted chunk. */
	chunk: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(16 * 1024 * 1024))
});
export type AttachmentRef = v.InferOutput<typeof AttachmentRef>;

/** A reply's excerpt of the message it answers (the server's replyToId is the routing link). */
export const QuoteRef = v.strictObject({
	messageId: Uuid,
	authorId: Uuid,
	text: v.pipe(v.string(), v.maxLength(QUOTE_TEXT_MAX_CHARS))
});
export type QuoteRef = v.InferOutput<typeof QuoteRef>;

export const MessageContent = v.pipe(
	v.strictObject({
		v: v.literal(2),
		text: v.pipe(v.string(), v.maxLength(MESSAGE_TEXT_MAX_CHARS)),
		rk: b64Bytes(32),
		attachments: v.optional(v.pipe(v.array(AttachmentRef), v.minLength(1), v.maxLength(MESSAGE_ATTACHMENTS_MAX))),
		quote: v.optional(QuoteRef),
		/** The mentions the routing field beside the ciphertext must agree with (shared/mentions.ts). */
		mentions: v.optional(Mentions)
	}),
	v.check((content) => content.text.trim().length > 0 || (content.attachments?.length ?? 0) > 0, 'A message needs text or an attachment.')
);
export type MessageContent = v.InferOutput<typeof MessageContent>;

/** A new message's content with a fresh reaction key. Throws a valibot error when the input is invalid. */
export function createMessageContent(
	sodium: Sodium,
	input: { text: string; attachments?: AttachmentRef[]; quote?: QuoteRef; mentions?: Mentions | null }
): MessageContent {
	const mentions = normalizeMentions(input.mentions);
	return v.parse(MessageContent, {
		v: 2,
		text: input.text,
		rk: toB64(sodium.randombytes_buf(32)),
		...(input.attachments?.length ? { attachments: input.attachments } : {}),
		...(input.quote ? { quote: input.quote } : {}),
		...(mentions ? { mentions } : {})
	});
}

/** The plaintext to encrypt. Validates first, so an invalid content never leaves the device. */
export function encodeMessageContent(content: MessageContent): string {
	return JSON.stringify(v.parse(MessageContent, content));
}

/** Parses decrypted plaintext; throws DecryptionError for anything but a valid v2 content. */
export function decodeMessageContent(plaintext: string): MessageContent {
	let data: unknown;
	try {
		data = JSON.parse(plaintext);
	} catch {
		throw new DecryptionError('message content is not JSON');
	}
	const result = v.safeParse(MessageContent, data);
	if (!result.success) throw new DecryptionError('unsupported message content');
	return result.output;
}

// --- reaction keys --------------------------------------------------------------------------------

/** Emoji are padded to this block: 47 bytes of UTF-8 fit (ISO/IEC 7816-4 padding needs one). */
const REACTION_PAD_BLOCK = 48;
export const REACTION_EMOJI_MAX_BYTES = REACTION_PAD_BLOCK - 1;
const NONCE_BYTES = 24;
/** Length of every reaction key: base64url of nonce (24) ‖ padded emoji (48) ‖ tag (16). Fits ReactionKey max 128. */
export const REACTION_KEY_CHARS = Math.ceil(((NONCE_BYTES + REACTION_PAD_BLOCK + 16) * 4) / 3);

function reactionSubkeys(sodium: Sodium, rk: string): { nonceKey: Uint8Array; aeadKey: Uint8Array } {
	const key = fromB64Exact(rk, 32, 'reaction key');
	return { nonceKey: deriveSubkey(sodium, key, 'hearth:reaction:nonce:v1'), aeadKey: deriveSubkey(sodium, key, 'hearth:reaction:aead:v1') };
}

/**
 * The opaque server key of a reaction with `emoji` on the message whose content carries `rk`:
 * nonce = BLAKE2b(nonceKey, emoji) truncated to 24 bytes; key = nonce ‖ XChaCha20-Poly1305(pad(emoji)).
 */
export function encryptReactionKey(sodium: Sodium, rk: string, emoji: string): string {
	const bytes = utf8(emoji);
	if (bytes.length === 0 || bytes.length > REACTION_EMOJI_MAX_BYTES || !noControlCharacters(emoji)) {
		throw new RangeError(`a reaction is 1-${REACTION_EMOJI_MAX_BYTES} bytes of text without control characters`);
	}
	const { nonceKey, aeadKey } = reactionSubkeys(sodium, rk);
	const nonce = sodium.crypto_generichash(32, bytes, nonceKey).slice(0, NONCE_BYTES);
	const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(sodium.pad(bytes, REACTION_PAD_BLOCK), null, null, nonce, aeadKey);
	const out = new Uint8Array(NONCE_BYTES + sealed.length);
	out.set(nonce);
	out.set(sealed, NONCE_BYTES);
	return toB64(out);
}

/** The emoji behind a reaction key; throws DecryptionError when the key was not made with this `rk`. */
export function decryptReactionKey(sodium: Sodium, rk: string, reactionKey: string): string {
	const { nonceKey, aeadKey } = reactionSubkeys(sodium, rk);
	try {
		const bytes = fromB64(reactionKey);
		const padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, bytes.subarray(NONCE_BYTES), null, bytes.subarray(0, NONCE_BYTES), aeadKey);
		const emoji = sodium.unpad(padded, REACTION_PAD_BLOCK);
		// The nonce must be the one the emoji dictates, or equal emoji could hide behind different keys.
		if (!sodium.memcmp(sodium.crypto_generichash(32, emoji, nonceKey).slice(0, NONCE_BYTES), bytes.slice(0, NONCE_BYTES))) throw new Error('nonce');
		return fromUtf8(emoji);
	} catch {
		throw new DecryptionError('reaction key does not decrypt with this message key');
	}
}
