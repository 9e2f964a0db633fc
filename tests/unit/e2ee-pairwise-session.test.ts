import { beforeAll, describe, expect, it } from 'vitest';
import type { PrekeyBundle } from '#lib/shared/e2ee.ts';
import {
	generateIdentityKeyPair,
	generateOneTimePrekeys,
	generateSignedPrekey,
	publicOneTimePrekey,
	publicSignedPrekey,
	type PrekeyPair
} from '#lib/client/e2ee/device-keys.ts';
import { parsePairwiseEnvelope, type PairwiseEnvelope } from '#lib/client/e2ee/envelopes.ts';
import {
	BadSignatureError,
	DecryptionError,
	DuplicateMessageError,
	MissingKeyError,
	createInboundSession,
	createOutboundSession,
	decryptFromDevice,
	decryptPairwise,
	encryptPairwise,
	pickSendingSession,
	type LocalPrekeys,
	type PairwiseSession
} from '#lib/client/e2ee/pairwise-session.ts';
import { loadSodium, type Sodium } from '#lib/client/e2ee/sodium.ts';

let sodium: Sodium;
beforeAll(async () => {
	sodium = await loadSodium();
});

/** A device with its private keys, its published bundle, and the sessions it holds per remote identity. */
class Device {
	identity = generateIdentityKeyPair(sodium);
	signedPrekey = generateSignedPrekey(sodium, this.identity, 7);
	oneTimePrekeys = new Map<number, PrekeyPair>(generateOneTimePrekeys(sodium, 1, 5).map((key) => [key.id, key]));
	sessions = new Map<string, PairwiseSession[]>();
	clock = 1_000;

	local(): LocalPrekeys {
		return {
			identity: this.identity,
			signedPrekey: (id) => (id === this.signedPrekey.id ? this.signedPrekey : undefined),
			oneTimePrekey: (id) => this.oneTimePrekeys.get(id)
		};
	}
	bundle(withOneTimePrekey = true): PrekeyBundle {
		const first = withOneTimePrekey ? [...this.oneTimePrekeys.values()][0] : undefined;
		return {
			deviceId: '00000000-0000-4000-8000-00000000000b',
			userId: '00000000-0000-4000-8000-00000000000a',
			identityKey: this.identity.publicKey,
			signedPrekey: publicSignedPrekey(this.signedPrekey),
			oneTimePrekey: first ? publicOneTimePrekey(first) : null
		};
	}
	private store(remote: string, session: PairwiseSession) {
		const others = (this.sessions.get(remote) ?? []).filter((s) => s.id !== session.id);
		this.sessions.set(remote, [...others, session]);
	}
	startSession(other: Device, withOneTimePrekey = true) {
		this.store(other.identity.publicKey, createOutboundSession(sodium, this.identity, other.bundle(withOneTimePrekey), this.clock++));
	}
	send(other: Device, text: string): PairwiseEnvelope {
		const session = pickSendingSession(this.sessions.get(other.identity.publicKey) ?? []);
		if (!session) throw new Error('no session');
		const out = encryptPairwise(sodium, session, text, this.clock++);
		this.store(other.identity.publicKey, out.session);
		return parsePairwiseEnvelope(out.body);
	}
	receive(from: Device, envelope: PairwiseEnvelope): { text: string; isNew: boolean } {
		const result = decryptFromDevice(sodium, this.sessions.get(from.identity.publicKey) ?? [], envelope, this.local(), this.clock++);
		if (result.usedOneTimePrekeyId !== null) this.oneTimePrekeys.delete(result.usedOneTimePrekeyId);
		this.store(from.identity.publicKey, result.session);
		return { text: result.plaintext, isNew: result.isNew };
	}
}

describe('pairwise sessions', () => {
	for (const withOneTimePrekey of [true, false]) {
		it(`start with X3DH from a bundle ${withOneTimePrekey ? 'with' : 'without'} a one-time prekey; the initiator sends prekey envelopes until the first reply`, () => {
			const alice = new Device();
			const bob = new Device();
			alice.startSession(bob, withOneTimePrekey);
			const first = alice.send(bob, 'one');
			const second = alice.send(bob, 'two');
			expect(first.t).toBe('prekey');
			expect(second.t).toBe('prekey');
			if (first.t === 'prekey') expect(first.otk).toBe(withOneTimePrekey ? 1 : undefined);
			expect(bob.receive(alice, first)).toEqual({ text: 'one', isNew: true });
			// The one-time prekey is deleted once used.
			expect(bob.oneTimePrekeys.has(1)).toBe(!withOneTimePrekey);
			// The second prekey envelope lands in the session the first one created.
			expect(bob.receive(alice, second)).toEqual({ text: 'two', isNew: false });
			expect(bob.sessions.get(alice.identity.publicKey)).toHaveLength(1);
			expect(alice.receive(bob, bob.send(alice, 'reply')).text).toBe('reply');
			const after = alice.send(bob, 'three');
			expect(after.t).toBe('msg');
			expect(bob.receive(alice, after).text).toBe('three');
		});
	}

	it('refuses a bundle with a bad signed-prekey signature', () => {
		const alice = new Device();
		const bob = new Device();
		const mallory = new Device();
		const forged = { ...bob.bundle(), signedPrekey: publicSignedPrekey(mallory.signedPrekey) };
		expect(() => createOutboundSession(sodium, alice.identity, forged)).toThrow(BadSignatureError);
	});

	it('cannot start a second session from a prekey envelope whose one-time prekey was used', () => {
		const alice = new Device();
		const bob = new Device();
		alice.startSession(bob);
		const first = alice.send(bob, 'one');
		bob.receive(alice, first);
		// The session is gone (say, storage was cleared) and the prekey envelope is replayed.
		expect(() => createInboundSession(sodium, bob.local(), first)).toThrow(MissingKeyError);
	});

	it('rejects a replayed prekey envelope once its session exists', () => {
		const alice = new Device();
		const bob = new Device();
		alice.startSession(bob);
		const first = alice.send(bob, 'one');
		bob.receive(alice, first);
		expect(() => bob.receive(alice, first)).toThrow(DuplicateMessageError);
	});

	it('refuses a prekey envelope that claims another identity key (X3DH binds IK_A)', () => {
		const alice = new Device();
		const bob = new Device();
		const mallory = new Device();
		mallory.startSession(bob);
		const envelope = mallory.send(bob, 'I am Alice');
		const claimed = { ...envelope, ik: alice.identity.publicKey };
		expect(() => bob.receive(alice, claimed)).toThrow(DecryptionError);
	});

	it('refuses an envelope whose sender identity is not the session remote identity', () => {
		const alice = new Device();
		const bob = new Device();
		alice.startSession(bob);
		bob.receive(alice, alice.send(bob, 'hi'));
		const reply = bob.send(alice, 'reply');
		const aliceSession = alice.sessions.get(bob.identity.publicKey)![0]!;
		expect(() => decryptPairwise(sodium, aliceSession, { ...reply, ik: new Device().identity.publicKey })).toThrow(DecryptionError);
		expect(decryptPairwise(sodium, aliceSession, reply).plaintext).toBe('reply');
	});

	it('survives simultaneous initiation: two sessions per device, both readable, sending converges on the most recent', () => {
		const alice = new Device();
		const bob = new Device();
		alice.startSession(bob);
		bob.startSession(alice);
		const fromAlice = alice.send(bob, 'from alice');
		const fromBob = bob.send(alice, 'from bob');
		expect(bob.receive(alice, fromAlice)).toEqual({ text: 'from alice', isNew: true });
		expect(alice.receive(bob, fromBob)).toEqual({ text: 'from bob', isNew: true });
		expect(alice.sessions.get(bob.identity.publicKey)).toHaveLength(2);
		expect(bob.sessions.get(alice.identity.publicKey)).toHaveLength(2);
		for (let i = 0; i < 4; i++) {
			expect(bob.receive(alice, alice.send(bob, `a${i}`)).text).toBe(`a${i}`);
			expect(alice.receive(bob, bob.send(alice, `b${i}`)).text).toBe(`b${i}`);
		}
	});

	it('sessions survive a JSON round-trip', () => {
		const alice = new Device();
		const bob = new Device();
		alice.startSession(bob);
		bob.receive(alice, alice.send(bob, 'hi'));
		for (const device of [alice, bob]) {
			for (const [key, sessions] of device.sessions) device.sessions.set(key, JSON.parse(JSON.stringify(sessions)) as PairwiseSession[]);
		}
		expect(alice.receive(bob, bob.send(alice, 'still here')).text).toBe('still here');
		expect(bob.receive(alice, alice.send(bob, 'me too')).text).toBe('me too');
	});

	it('answers MissingKeyError for a normal envelope from a device without a session', () => {
		const alice = new Device();
		const bob = new Device();
		alice.startSession(bob);
		bob.receive(alice, alice.send(bob, 'hi'));
		const carol = new Device();
		expect(() => decryptFromDevice(sodium, [], bob.send(alice, 'x'), carol.local())).toThrow(MissingKeyError);
	});
});
