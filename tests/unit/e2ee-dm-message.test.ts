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
import { decryptDmBody, decryptDmMessage, encryptDmMessage } from '#lib/client/e2ee/dm-message.ts';
import { fromB64, toB64 } from '#lib/client/e2ee/encoding.ts';
import { parseEncryptedPayload, parseToDeviceContent, type DmPayload } from '#lib/client/e2ee/envelopes.ts';
import { DecryptionError, MissingKeyError } from '#lib/client/e2ee/errors.ts';
import { createOutboundSession, decryptFromDevice, pickSendingSession, type LocalPrekeys, type PairwiseSession } from '#lib/client/e2ee/pairwise-session.ts';
import { loadSodium, type Sodium } from '#lib/client/e2ee/sodium.ts';

let sodium: Sodium;
beforeAll(async () => {
	sodium = await loadSodium();
});

const CHANNEL = '66666666-6666-4666-8666-666666666666';
const OTHER_CHANNEL = '77777777-7777-4777-8777-777777777777';

class Device {
	identity = generateIdentityKeyPair(sodium);
	signedPrekey = generateSignedPrekey(sodium, this.identity, 1);
	oneTimePrekeys = new Map<number, PrekeyPair>(generateOneTimePrekeys(sodium, 1, 3).map((key) => [key.id, key]));
	/** Sessions per remote device id. */
	sessions = new Map<string, PairwiseSession[]>();
	readonly id: string;
	readonly userId: string;
	constructor(id: string, userId: string) {
		this.id = id;
		this.userId = userId;
	}
	local(): LocalPrekeys {
		return { identity: this.identity, signedPrekey: () => this.signedPrekey, oneTimePrekey: (id) => this.oneTimePrekeys.get(id) };
	}
	bundle(): PrekeyBundle {
		const otk = [...this.oneTimePrekeys.values()][0]!;
		return { deviceId: this.id, userId: this.userId, identityKey: this.identity.publicKey, signedPrekey: publicSignedPrekey(this.signedPrekey), oneTimePrekey: publicOneTimePrekey(otk) };
	}
	store(remoteDeviceId: string, session: PairwiseSession) {
		this.sessions.set(remoteDeviceId, [...(this.sessions.get(remoteDeviceId) ?? []).filter((s) => s.id !== session.id), session]);
	}
	send(to: Device[], text: string, channelId = CHANNEL) {
		const recipients = to.map((device) => {
			const session = pickSendingSession(this.sessions.get(device.id) ?? []) ?? createOutboundSession(sodium, this.identity, device.bundle());
			return { deviceId: device.id, session };
		});
		const out = encryptDmMessage(sodium, { channelId, senderDeviceId: this.id, content: text, recipients });
		for (const { deviceId, session } of out.sessions) this.store(deviceId, session);
		return out;
	}
	read(from: Device, payload: DmPayload, channelId = CHANNEL) {
		const out = decryptDmMessage(sodium, { payload, channelId, ownDeviceId: this.id, sessions: this.sessions.get(from.id) ?? [], local: this.local() });
		// The engine's check: the session's identity is the one known for the sending device.
		expect(out.session.remoteIdentityKey).toBe(from.identity.publicKey);
		if (out.usedOneTimePrekeyId !== null) this.oneTimePrekeys.delete(out.usedOneTimePrekeyId);
		this.store(from.id, out.session);
		return out;
	}
}

function people() {
	const alice1 = new Device('a1a1a1a1-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa');
	const alice2 = new Device('a2a2a2a2-0000-4000-8000-000000000002', alice1.userId);
	const bob1 = new Device('b1b1b1b1-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb');
	const bob2 = new Device('b2b2b2b2-0000-4000-8000-000000000002', bob1.userId);
	return { alice1, alice2, bob1, bob2 };
}

describe('direct messages (hearth.dm.v1)', () => {
	it("decrypt on every device of both participants but the sender's, in a conversation both ways", () => {
		const { alice1, alice2, bob1, bob2 } = people();
		const first = alice1.send([alice2, bob1, bob2], 'hello bob');
		expect(Object.keys(first.payload.k).sort()).toEqual([alice2.id, bob1.id, bob2.id].sort());
		const payload = parseEncryptedPayload(first.body) as DmPayload;
		for (const device of [alice2, bob1, bob2]) {
			const out = device.read(alice1, payload);
			expect(out.content).toBe('hello bob');
			expect(out.contentKey).toBe(first.contentKey);
			expect(out.isNew).toBe(true);
		}
		const reply = bob1.send([alice1, alice2, bob2], 'hi alice');
		for (const device of [alice1, alice2, bob2]) expect(device.read(bob1, reply.payload).content).toBe('hi alice');
		const again = alice1.send([alice2, bob1, bob2], 'again');
		expect(again.payload.k[bob1.id]!.t).toBe('msg');
		expect(bob1.read(alice1, again.payload).isNew).toBe(false);
	});

	it('re-renders from the kept content key alone', () => {
		const { alice1, bob1 } = people();
		const sent = alice1.send([bob1], 'keep me');
		const { contentKey } = bob1.read(alice1, sent.payload);
		expect(decryptDmBody(sodium, sent.payload, CHANNEL, contentKey)).toBe('keep me');
	});

	it('cannot be read by a device it was not wrapped for', () => {
		const { alice1, bob1, bob2 } = people();
		const sent = alice1.send([bob1], 'only bob1');
		expect(() => bob2.read(alice1, sent.payload)).toThrow(MissingKeyError);
	});

	it('refuses a payload moved to another channel, a tampered body and a wrong sender device', () => {
		const { alice1, bob1 } = people();
		const sent = alice1.send([bob1], 'channel bound');
		const { contentKey } = bob1.read(alice1, sent.payload);
		expect(() => decryptDmBody(sodium, sent.payload, OTHER_CHANNEL, contentKey)).toThrow(DecryptionError);
		const c = fromB64(sent.payload.c);
		c[0]! ^= 1;
		expect(() => decryptDmBody(sodium, { ...sent.payload, c: toB64(c) }, CHANNEL, contentKey)).toThrow(DecryptionError);
		expect(() => decryptDmBody(sodium, { ...sent.payload, dev: bob1.id }, CHANNEL, contentKey)).toThrow(DecryptionError);
	});

	it('wraps the content key in a pairwise plaintext that no to-device parser accepts', () => {
		const { alice1, bob1 } = people();
		const sent = alice1.send([bob1], 'x');
		// Lifted out of the message and replayed as a to-device body, the envelope opens to a dm-key.
		const opened = decryptFromDevice(sodium, [], sent.payload.k[bob1.id]!, bob1.local());
		expect(JSON.parse(opened.plaintext)).toEqual({ kind: 'dm-key', key: sent.contentKey });
		expect(() => parseToDeviceContent(opened.plaintext)).toThrow(DecryptionError);
	});
});
