import { beforeAll, describe, expect, it } from 'vitest';
import { fromB64, toB64 } from '#lib/client/e2ee/encoding.ts';
import { parseEncryptedPayload, type SenderKeyPayload } from '#lib/client/e2ee/envelopes.ts';
import { BadSignatureError, DecryptionError, DuplicateMessageError, MissingKeyError, TooManySkippedError } from '#lib/client/e2ee/errors.ts';
import {
	SENDER_KEY_MAX_FORWARD,
	SENDER_KEY_ROTATE_AFTER_MS,
	createOutboundSenderKey,
	decryptWithSenderKey,
	devicesMissingSenderKey,
	encryptWithSenderKey,
	exportInboundSenderKey,
	exportSenderKey,
	importSenderKey,
	markSenderKeyShared,
	mergeInboundSenderKeys,
	senderKeyLostDevice,
	senderKeyNeedsRotation,
	type InboundSenderKey,
	type OutboundSenderKey
} from '#lib/client/e2ee/sender-key.ts';
import { loadSodium, type Sodium } from '#lib/client/e2ee/sodium.ts';

let sodium: Sodium;
beforeAll(async () => {
	sodium = await loadSodium();
});

const CHANNEL = '11111111-1111-4111-8111-111111111111';
const OTHER_CHANNEL = '22222222-2222-4222-8222-222222222222';
const ALICE = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const ALICE_DEVICE = 'aaaaaaaa-0000-4000-8000-00000000000d';
const MALLORY = 'eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee';
const context = { channelId: CHANNEL, authorId: ALICE };

/** Alice's outbound key, and Bob's inbound copy of it. */
function setup(): { sender: { key: OutboundSenderKey; send(text: string): SenderKeyPayload }; inbound: InboundSenderKey } {
	const sender = {
		key: createOutboundSenderKey(sodium, CHANNEL),
		send(text: string) {
			const out = encryptWithSenderKey(sodium, this.key, { channelId: CHANNEL, deviceId: ALICE_DEVICE }, text);
			this.key = out.key;
			// Through the wire: the body parses as a hearth.sk.v1 payload.
			return parseEncryptedPayload(out.body) as SenderKeyPayload;
		}
	};
	const inbound = importSenderKey(JSON.parse(JSON.stringify(exportSenderKey(sender.key))), { userId: ALICE, deviceId: ALICE_DEVICE });
	return { sender, inbound };
}

function flipBit(b64: string, index: number): string {
	const bytes = fromB64(b64);
	bytes[index]! ^= 1;
	return toB64(bytes);
}

describe('sender keys: delivery', () => {
	it('decrypt in order and out of order, each iteration once', () => {
		const { sender, inbound } = setup();
		const sent = Array.from({ length: 10 }, (_, i) => sender.send(`m${i}`));
		let key = inbound;
		for (const i of [3, 0, 9, 1, 2, 8, 4, 7, 5, 6]) {
			const out = decryptWithSenderKey(sodium, key, sent[i]!, context);
			expect(out.plaintext).toBe(`m${i}`);
			key = out.key;
		}
		expect(key.highest).toBe(9);
		expect(key.earliest.iteration).toBe(0);
	});

	it('keep working after a JSON round-trip of both records mid-stream', () => {
		const { sender, inbound } = setup();
		const early = sender.send('early');
		sender.key = JSON.parse(JSON.stringify(sender.key)) as OutboundSenderKey;
		const late = sender.send('late');
		let key = JSON.parse(JSON.stringify(decryptWithSenderKey(sodium, inbound, late, context).key)) as InboundSenderKey;
		key = structuredClone(key);
		expect(decryptWithSenderKey(sodium, key, early, context).plaintext).toBe('early');
	});

	it('cannot read messages sent before the iteration the key was shared at', () => {
		const { sender } = setup();
		const before = sender.send('before you joined');
		const joined = importSenderKey(exportSenderKey(sender.key), { userId: ALICE, deviceId: ALICE_DEVICE });
		expect(() => decryptWithSenderKey(sodium, joined, before, context)).toThrow(MissingKeyError);
		expect(decryptWithSenderKey(sodium, joined, sender.send('after'), context).plaintext).toBe('after');
	});

	it('merge an earlier copy (re-share, backup) so older messages decrypt; refuse a conflicting copy', () => {
		const { sender, inbound: fromStart } = setup();
		const first = sender.send('first');
		const late = importSenderKey(exportSenderKey(sender.key), { userId: ALICE, deviceId: ALICE_DEVICE });
		const merged = mergeInboundSenderKeys(sodium, late, importSenderKey(exportInboundSenderKey(fromStart), { userId: ALICE, deviceId: ALICE_DEVICE }));
		expect(merged.earliest.iteration).toBe(0);
		expect(decryptWithSenderKey(sodium, merged, first, context).plaintext).toBe('first');
		const forgedChain = { ...fromStart, earliest: { iteration: 0, chainKey: toB64(sodium.randombytes_buf(32)) } };
		expect(() => mergeInboundSenderKeys(sodium, late, forgedChain)).toThrow(DecryptionError);
	});
});

describe('sender keys: rejection', () => {
	it('rejects a replay, yet lets the same message be decrypted again (history re-render)', () => {
		const { sender, inbound } = setup();
		const payload = sender.send('once');
		const withId = { ...context, messageId: 'msg-1' };
		const { key } = decryptWithSenderKey(sodium, inbound, payload, withId);
		expect(decryptWithSenderKey(sodium, key, payload, withId).plaintext).toBe('once');
		expect(() => decryptWithSenderKey(sodium, key, payload, { ...context, messageId: 'msg-2' })).toThrow(DuplicateMessageError);
		const anonymous = decryptWithSenderKey(sodium, inbound, payload, context).key;
		expect(() => decryptWithSenderKey(sodium, anonymous, payload, context)).toThrow(DuplicateMessageError);
	});

	it('rejects a message signed by anyone but the sender key owner, even when it encrypts correctly', () => {
		const { sender, inbound } = setup();
		sender.send('warm-up');
		// Mallory holds the chain key (she is a member) but not Alice's signing key.
		const mallorySigning = sodium.crypto_sign_keypair();
		const forger = { ...sender.key, signingPublicKey: toB64(mallorySigning.publicKey), signingPrivateKey: toB64(mallorySigning.privateKey) };
		const forged = encryptWithSenderKey(sodium, forger, { channelId: CHANNEL, deviceId: ALICE_DEVICE }, 'send me your password').payload;
		expect(() => decryptWithSenderKey(sodium, inbound, forged, context)).toThrow(BadSignatureError);
		const genuine = sender.send('genuine');
		expect(() => decryptWithSenderKey(sodium, inbound, { ...genuine, sig: flipBit(genuine.sig, 3) }, context)).toThrow(BadSignatureError);
		expect(() => decryptWithSenderKey(sodium, inbound, { ...genuine, c: flipBit(genuine.c, 3) }, context)).toThrow(BadSignatureError);
		expect(() => decryptWithSenderKey(sodium, inbound, { ...genuine, i: genuine.i + 1 }, context)).toThrow(BadSignatureError);
		expect(decryptWithSenderKey(sodium, inbound, genuine, context).plaintext).toBe('genuine');
	});

	it('rejects a message whose author is not the user who distributed the key', () => {
		const { sender, inbound } = setup();
		expect(() => decryptWithSenderKey(sodium, inbound, sender.send('hi'), { ...context, authorId: MALLORY })).toThrow(BadSignatureError);
	});

	it('binds the channel: a message moved to another channel does not verify', () => {
		const { sender, inbound } = setup();
		const payload = sender.send('for channel one');
		expect(() => decryptWithSenderKey(sodium, inbound, payload, { ...context, channelId: OTHER_CHANNEL })).toThrow(BadSignatureError);
		// Even with a record that claims the other channel, the signature and AEAD cover channel one.
		const relabelled = { ...inbound, channelId: OTHER_CHANNEL };
		expect(() => decryptWithSenderKey(sodium, relabelled, payload, { ...context, channelId: OTHER_CHANNEL })).toThrow(BadSignatureError);
	});

	it(`rejects a message more than ${SENDER_KEY_MAX_FORWARD} iterations ahead, and accepts exactly that far`, () => {
		const { sender, inbound } = setup();
		let far: SenderKeyPayload | undefined;
		let limit: SenderKeyPayload | undefined;
		for (let i = 0; i <= SENDER_KEY_MAX_FORWARD + 1; i++) {
			const payload = sender.send(`m${i}`);
			if (i === SENDER_KEY_MAX_FORWARD) limit = payload;
			if (i === SENDER_KEY_MAX_FORWARD + 1) far = payload;
		}
		expect(() => decryptWithSenderKey(sodium, inbound, far!, context)).toThrow(TooManySkippedError);
		const { key } = decryptWithSenderKey(sodium, inbound, limit!, context);
		expect(decryptWithSenderKey(sodium, key, far!, context).plaintext).toBe(`m${SENDER_KEY_MAX_FORWARD + 1}`);
	});
});

describe('sender keys: rotation and sharing bookkeeping', () => {
	it('asks for rotation after 1000 messages or 7 days', () => {
		const key = createOutboundSenderKey(sodium, CHANNEL, 0);
		expect(senderKeyNeedsRotation(key, 1)).toBe(false);
		expect(senderKeyNeedsRotation({ ...key, iteration: 1000 }, 1)).toBe(true);
		expect(senderKeyNeedsRotation(key, SENDER_KEY_ROTATE_AFTER_MS)).toBe(true);
	});

	it('lists the devices still to share with, and notices a device that left', () => {
		const key = markSenderKeyShared(createOutboundSenderKey(sodium, CHANNEL), ['d1', 'd2']);
		expect(devicesMissingSenderKey(key, ['own', 'd1', 'd2', 'd3'], 'own')).toEqual(['d3']);
		expect(senderKeyLostDevice(key, ['d1', 'd2', 'd3'])).toBe(false);
		expect(senderKeyLostDevice(key, ['d1', 'd3'])).toBe(true);
	});

	it('never exports the signing private key in a distribution', () => {
		const key = createOutboundSenderKey(sodium, CHANNEL);
		expect(JSON.stringify(exportSenderKey(key))).not.toContain(key.signingPrivateKey);
	});
});
