import { beforeAll, describe, expect, it } from 'vitest';
import { fromB64, toB64 } from '#lib/client/e2ee/encoding.ts';
import { DecryptionError } from '#lib/client/e2ee/errors.ts';
import { deriveSubkey } from '#lib/client/e2ee/kdf.ts';
import {
	REACTION_KEY_CHARS,
	createMessageContent,
	decodeMessageContent,
	decryptReactionKey,
	encodeMessageContent,
	encryptReactionKey
} from '#lib/client/e2ee/message-content.ts';
import { loadSodium, type Sodium } from '#lib/client/e2ee/sodium.ts';

let sodium: Sodium;
beforeAll(async () => {
	sodium = await loadSodium();
});

const attachment = {
	id: '33333333-3333-4333-8333-333333333333',
	name: 'plan.pdf',
	type: 'application/pdf',
	size: 123_456,
	key: toB64(new Uint8Array(32).fill(7)),
	header: toB64(new Uint8Array(24).fill(9)),
	chunk: 65_536
};

describe('message content v2', () => {
	it('round-trips text, attachments and a quote, with a fresh reaction key per message', () => {
		const content = createMessageContent(sodium, {
			text: 'see attached',
			attachments: [attachment],
			quote: { messageId: '44444444-4444-4444-8444-444444444444', authorId: '55555555-5555-4555-8555-555555555555', text: 'the plan?' }
		});
		expect(decodeMessageContent(encodeMessageContent(content))).toEqual(content);
		expect(fromB64(content.rk)).toHaveLength(32);
		expect(createMessageContent(sodium, { text: 'see attached' }).rk).not.toBe(content.rk);
	});

	it('refuses unknown shapes: other versions, extra keys, bad keys, empty messages, non-JSON', () => {
		const content = createMessageContent(sodium, { text: 'hi' });
		const bad = [
			{ ...content, v: 1 },
			{ ...content, extra: true },
			{ ...content, rk: content.rk.slice(1) },
			{ ...content, text: '   ' },
			{ ...content, attachments: [{ ...attachment, key: 'short' }] },
			{ ...content, attachments: [{ ...attachment, url: 'https://elsewhere' }] },
			{ ...content, quote: { messageId: 'x' } }
		];
		for (const shape of bad) expect(() => decodeMessageContent(JSON.stringify(shape))).toThrow(DecryptionError);
		expect(() => decodeMessageContent('not json')).toThrow(DecryptionError);
		expect(() => encodeMessageContent({ ...content, text: '' })).toThrow();
		// Attachments alone are a message.
		expect(decodeMessageContent(JSON.stringify({ ...content, text: '', attachments: [attachment] })).attachments).toHaveLength(1);
	});
});

describe('reaction keys', () => {
	it('are equal for equal emoji under one message key, different otherwise, all of one length', () => {
		const rk = toB64(sodium.randombytes_buf(32));
		const otherRk = toB64(sodium.randombytes_buf(32));
		const thumbs = encryptReactionKey(sodium, rk, '👍');
		expect(encryptReactionKey(sodium, rk, '👍')).toBe(thumbs);
		expect(encryptReactionKey(sodium, rk, '❤️')).not.toBe(thumbs);
		expect(encryptReactionKey(sodium, otherRk, '👍')).not.toBe(thumbs);
		for (const emoji of ['👍', '❤️', '👨‍👩‍👧‍👦', 'a']) expect(encryptReactionKey(sodium, rk, emoji)).toHaveLength(REACTION_KEY_CHARS);
		expect(REACTION_KEY_CHARS).toBeLessThanOrEqual(128);
	});

	it('decrypt with the message key, and not without it', () => {
		const rk = toB64(sodium.randombytes_buf(32));
		const key = encryptReactionKey(sodium, rk, '🎉');
		expect(decryptReactionKey(sodium, rk, key)).toBe('🎉');
		expect(() => decryptReactionKey(sodium, toB64(sodium.randombytes_buf(32)), key)).toThrow(DecryptionError);
		const tampered = fromB64(key);
		tampered[40]! ^= 1;
		expect(() => decryptReactionKey(sodium, rk, toB64(tampered))).toThrow(DecryptionError);
		expect(key).not.toContain(toB64(new TextEncoder().encode('🎉')));
	});

	it('refuse a key whose nonce is not the one its emoji dictates (one emoji, one key)', () => {
		const rk = toB64(sodium.randombytes_buf(32));
		// Built like a genuine key but with a random nonce: it decrypts, yet would count apart from the genuine one.
		const genuine = fromB64(encryptReactionKey(sodium, rk, '👍'));
		const aeadKey = deriveSubkey(sodium, fromB64(rk), 'hearth:reaction:aead:v1');
		const nonce = sodium.randombytes_buf(24);
		const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(sodium.pad(new TextEncoder().encode('👍'), 48), null, null, nonce, aeadKey);
		const rogue = toB64(new Uint8Array([...nonce, ...sealed]));
		expect(rogue).toHaveLength(toB64(genuine).length);
		// Same ciphertext under the genuine nonce is the genuine key: the forgery differs only by its nonce.
		expect(toB64(new Uint8Array([...genuine.slice(0, 24), ...sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(sodium.pad(new TextEncoder().encode('👍'), 48), null, null, genuine.slice(0, 24), aeadKey)]))).toBe(toB64(genuine));
		expect(() => decryptReactionKey(sodium, rk, rogue)).toThrow(DecryptionError);
	});
});
