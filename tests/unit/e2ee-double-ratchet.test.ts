import { beforeAll, describe, expect, it } from 'vitest';
import {
	MAX_SKIP,
	MAX_SKIPPED_KEYS,
	initRatchetAsInitiator,
	initRatchetAsResponder,
	ratchetDecrypt,
	ratchetEncrypt,
	type RatchetHeader,
	type RatchetState
} from '#lib/client/e2ee/double-ratchet.ts';
import { fromB64, fromUtf8, toB64, utf8 } from '#lib/client/e2ee/encoding.ts';
import { DecryptionError, DuplicateMessageError, TooManySkippedError } from '#lib/client/e2ee/errors.ts';
import { loadSodium, type Sodium } from '#lib/client/e2ee/sodium.ts';

let sodium: Sodium;
beforeAll(async () => {
	sodium = await loadSodium();
});

type Message = { header: RatchetHeader; ciphertext: string };

/** One side of a conversation: its ratchet state, replaced only after a successful operation. */
class Party {
	state: RatchetState;
	constructor(state: RatchetState) {
		this.state = state;
	}
	send(text: string): Message {
		const { state, header, ciphertext } = ratchetEncrypt(sodium, this.state, utf8(text));
		this.state = state;
		return { header, ciphertext };
	}
	receive(message: Message): string {
		const { state, plaintext } = ratchetDecrypt(sodium, this.state, message.header, message.ciphertext);
		this.state = state;
		return fromUtf8(plaintext);
	}
}

function pair(): { alice: Party; bob: Party } {
	const sharedKey = sodium.randombytes_buf(32);
	const ad = sodium.randombytes_buf(64);
	const bobKey = sodium.crypto_box_keypair();
	const bobRatchetKey = { publicKey: toB64(bobKey.publicKey), privateKey: toB64(bobKey.privateKey) };
	return {
		alice: new Party(initRatchetAsInitiator(sodium, sharedKey, ad, bobRatchetKey.publicKey)),
		bob: new Party(initRatchetAsResponder(sharedKey, ad, bobRatchetKey))
	};
}

function flipBit(b64: string, index = 0): string {
	const bytes = fromB64(b64);
	bytes[index]! ^= 1;
	return toB64(bytes);
}

describe('Double Ratchet: delivery', () => {
	it('decrypts a conversation in order, both directions', () => {
		const { alice, bob } = pair();
		expect(bob.receive(alice.send('hi bob'))).toBe('hi bob');
		expect(alice.receive(bob.send('hi alice'))).toBe('hi alice');
		expect(bob.receive(alice.send('how are you?'))).toBe('how are you?');
	});

	it('never sends two messages under the same ratchet key and counter, nor the same ciphertext', () => {
		const { alice } = pair();
		const a = alice.send('same');
		const b = alice.send('same');
		expect(b.header.n).toBe(a.header.n + 1);
		expect(b.ciphertext).not.toBe(a.ciphertext);
	});

	it('handles long one-sided runs, then a reply that turns the ratchet', () => {
		const { alice, bob } = pair();
		for (let i = 0; i < 300; i++) expect(bob.receive(alice.send(`a${i}`))).toBe(`a${i}`);
		const reply = bob.send('finally');
		expect(reply.header.dh).not.toBe(alice.state.dhRemote);
		expect(alice.receive(reply)).toBe('finally');
		for (let i = 0; i < 300; i++) expect(alice.receive(bob.send(`b${i}`))).toBe(`b${i}`);
	});

	it('handles interleaved replies, every one a new DH step', () => {
		const { alice, bob } = pair();
		const ratchetKeys = new Set<string>();
		for (let round = 0; round < 40; round++) {
			const fromAlice = alice.send(`a${round}`);
			ratchetKeys.add(fromAlice.header.dh);
			expect(bob.receive(fromAlice)).toBe(`a${round}`);
			const fromBob = bob.send(`b${round}`);
			ratchetKeys.add(fromBob.header.dh);
			expect(alice.receive(fromBob)).toBe(`b${round}`);
		}
		expect(ratchetKeys.size).toBe(80);
	});

	it('decrypts out of order within one chain', () => {
		const { alice, bob } = pair();
		const sent = Array.from({ length: 6 }, (_, i) => alice.send(`m${i}`));
		for (const i of [4, 1, 5, 0, 3, 2]) expect(bob.receive(sent[i]!)).toBe(`m${i}`);
		expect(bob.state.skipped).toHaveLength(0);
	});

	it('decrypts out of order across DH steps (late messages of a previous chain)', () => {
		const { alice, bob } = pair();
		const a0 = alice.send('a0');
		const a1 = alice.send('a1');
		const a2 = alice.send('a2');
		expect(bob.receive(a0)).toBe('a0');
		expect(alice.receive(bob.send('b0'))).toBe('b0');
		// Alice's next chain; a1 and a2 of the old chain are still on their way.
		const a3 = alice.send('a3');
		expect(a3.header.pn).toBe(3);
		expect(bob.receive(a3)).toBe('a3');
		expect(bob.receive(a2)).toBe('a2');
		expect(alice.receive(bob.send('b1'))).toBe('b1');
		expect(bob.receive(a1)).toBe('a1');
		expect(bob.state.skipped).toHaveLength(0);
	});
});

describe('Double Ratchet: rejection', () => {
	it('rejects a replay of a message already decrypted, in order or skipped, current chain or past', () => {
		const { alice, bob } = pair();
		const a0 = alice.send('a0');
		const a1 = alice.send('a1');
		const a2 = alice.send('a2');
		bob.receive(a0);
		expect(() => bob.receive(a0)).toThrow(DuplicateMessageError);
		bob.receive(a2);
		bob.receive(a1); // from the skipped store
		expect(() => bob.receive(a1)).toThrow(DuplicateMessageError);
		expect(() => bob.receive(a2)).toThrow(DuplicateMessageError);
		// After the ratchet turns, the old chain's messages are still refused.
		alice.receive(bob.send('b0'));
		bob.receive(alice.send('a3'));
		expect(() => bob.receive(a0)).toThrow(DuplicateMessageError);
		expect(() => bob.receive(a1)).toThrow(DuplicateMessageError);
	});

	it('rejects a tampered ciphertext, header or associated data, and a failure changes no state', () => {
		const { alice, bob } = pair();
		bob.receive(alice.send('setup'));
		alice.receive(bob.send('setup reply'));
		const message = alice.send('secret');
		const before = structuredClone(bob.state);
		const tampered: Message[] = [
			{ ...message, ciphertext: flipBit(message.ciphertext, 30) },
			{ ...message, ciphertext: flipBit(message.ciphertext, 0) },
			{ ...message, header: { ...message.header, n: message.header.n + 1 } },
			{ ...message, header: { ...message.header, pn: message.header.pn + 1 } },
			{ ...message, header: { ...message.header, dh: flipBit(message.header.dh, 5) } }
		];
		for (const forged of tampered) {
			expect(() => bob.receive(forged)).toThrow(DecryptionError);
			expect(bob.state).toEqual(before);
		}
		// A session with other associated data (another identity pair) cannot read it either.
		const otherAd = { ...bob.state, ad: toB64(sodium.randombytes_buf(64)) };
		expect(() => ratchetDecrypt(sodium, otherAd, message.header, message.ciphertext)).toThrow(DecryptionError);
		expect(bob.receive(message)).toBe('secret');
	});

	it('rejects a message more than MAX_SKIP ahead in its chain, and accepts exactly MAX_SKIP', () => {
		const { alice, bob } = pair();
		const sent = Array.from({ length: MAX_SKIP + 2 }, (_, i) => alice.send(`m${i}`));
		expect(() => bob.receive(sent[MAX_SKIP + 1]!)).toThrow(TooManySkippedError);
		expect(bob.state.recvN).toBe(0);
		expect(bob.receive(sent[MAX_SKIP]!)).toBe(`m${MAX_SKIP}`);
		expect(bob.state.skipped).toHaveLength(MAX_SKIP);
		expect(bob.receive(sent[MAX_SKIP + 1]!)).toBe(`m${MAX_SKIP + 1}`);
	});

	it('rejects a new chain whose previous-chain count (pn) would skip more than MAX_SKIP', () => {
		const { alice, bob } = pair();
		bob.receive(alice.send('a0'));
		alice.receive(bob.send('b0'));
		const forged = alice.send('next chain');
		// Claims 5000 unseen messages in the chain Bob is on: refused before any key is derived.
		expect(() => bob.receive({ ...forged, header: { ...forged.header, pn: 5000 } })).toThrow(TooManySkippedError);
	});

	it('caps the skipped-key store, evicting the oldest keys first', () => {
		const { alice, bob } = pair();
		// Three chains of MAX_SKIP + 1 messages; Bob only ever receives the last of each.
		const firstChain: Message[] = [];
		let lastSkipped: Message | undefined;
		for (let chain = 0; chain < 3; chain++) {
			const sent = Array.from({ length: MAX_SKIP + 1 }, (_, i) => alice.send(`c${chain}m${i}`));
			if (chain === 0) firstChain.push(...sent);
			lastSkipped = sent[MAX_SKIP - 1];
			bob.receive(sent[MAX_SKIP]!);
			alice.receive(bob.send(`turn ${chain}`));
		}
		expect(bob.state.skipped).toHaveLength(MAX_SKIPPED_KEYS);
		// The first chain's keys were the oldest: gone.
		expect(() => bob.receive(firstChain[0]!)).toThrow(DuplicateMessageError);
		expect(() => bob.receive(firstChain[MAX_SKIP - 1]!)).toThrow(DuplicateMessageError);
		// The newest skipped key is kept.
		expect(bob.receive(lastSkipped!)).toBe(`c2m${MAX_SKIP - 1}`);
	});
});

describe('Double Ratchet: persistence', () => {
	it('survives a JSON round-trip and a structured clone mid-conversation, skipped keys included', () => {
		const { alice, bob } = pair();
		const a0 = alice.send('a0');
		const a1 = alice.send('a1');
		bob.receive(alice.send('a2'));
		bob.state = JSON.parse(JSON.stringify(bob.state)) as RatchetState;
		alice.state = structuredClone(alice.state);
		expect(alice.receive(bob.send('b0'))).toBe('b0');
		const a3 = alice.send('a3');
		alice.state = JSON.parse(JSON.stringify(alice.state)) as RatchetState;
		bob.state = structuredClone(bob.state);
		expect(bob.receive(a1)).toBe('a1');
		expect(bob.receive(a3)).toBe('a3');
		bob.state = JSON.parse(JSON.stringify(bob.state)) as RatchetState;
		expect(bob.receive(a0)).toBe('a0');
		expect(alice.receive(bob.send('b1'))).toBe('b1');
	});

	it('returns a new state and never modifies the one passed in', () => {
		const { alice, bob } = pair();
		const aliceBefore = structuredClone(alice.state);
		const message = ratchetEncrypt(sodium, alice.state, utf8('x'));
		expect(alice.state).toEqual(aliceBefore);
		const bobBefore = structuredClone(bob.state);
		ratchetDecrypt(sodium, bob.state, message.header, message.ciphertext);
		expect(bob.state).toEqual(bobBefore);
	});
});
