import { describe, expect, it } from 'vitest';
import { decryptMediaFrame, encryptMediaFrame } from '#lib/shared/call-media/media-frame.ts';
import {
	InboundMediaKeys,
	KEY_SWITCH_DELAY_MS,
	OutboundMediaKeys,
	PREVIOUS_KEY_GRACE_MS,
	RATCHET_WINDOW,
	ratchetMediaKey
} from '#lib/shared/call-media/media-keys.ts';
import { SFrameError } from '#lib/shared/call-media/sframe.ts';

const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const OPUS_FRAME = new Uint8Array(80).fill(0x78);

/** Sends one frame at `now` and has `receiver` decrypt it the way the receiving transform does. */
async function deliver(sender: OutboundMediaKeys, receiver: InboundMediaKeys, now: number): Promise<Uint8Array> {
	const { key, ctr } = sender.next(now);
	const frame = await encryptMediaFrame(key, ctr, 'opus', OPUS_FRAME);
	let usedKid = -1;
	const plain = await decryptMediaFrame(
		async (kid) => {
			usedKid = kid;
			return receiver.keyFor(kid, now);
		},
		'opus',
		frame
	);
	await receiver.confirm(usedKid, now);
	return plain;
}

describe('sending keys', () => {
	it('count the SFrame counter up per frame under one key', async () => {
		const keys = await OutboundMediaKeys.create(0);
		expect([keys.next(0).ctr, keys.next(1).ctr, keys.next(2).ctr]).toEqual([0, 1, 2]);
		expect(keys.sendingKid(3)).toBe(0);
	});

	it('ratchet forward when someone joins: the next KID, the HKDF of the old key, used at once', async () => {
		const keys = await OutboundMediaKeys.create(0);
		const before = keys.newest();
		keys.next(0);
		const granted = await keys.ratchetForJoin(100);
		expect(granted.kid).toBe(1);
		expect(toHex(granted.key)).toBe(toHex(await ratchetMediaKey(before.key)));
		expect(keys.next(100)).toMatchObject({ ctr: 0, key: { kid: 1 } });
	});

	it('make a fresh random key when someone leaves, and switch to it only after the delay', async () => {
		const keys = await OutboundMediaKeys.create(0);
		const before = keys.newest();
		const fresh = await keys.rotateForLeave(1_000);
		expect(fresh.kid).toBe(1);
		expect(toHex(fresh.key)).not.toBe(toHex(before.key));
		expect(toHex(fresh.key)).not.toBe(toHex(await ratchetMediaKey(before.key)));
		expect(keys.next(1_000 + KEY_SWITCH_DELAY_MS - 1).key.kid).toBe(0);
		expect(keys.newest().kid).toBe(1);
		expect(keys.all().map((grant) => grant.kid)).toEqual([0, 1]);
		expect(keys.next(1_000 + KEY_SWITCH_DELAY_MS)).toMatchObject({ ctr: 0, key: { kid: 1 } });
	});

	it('replace a pending key when a second person leaves before the switch', async () => {
		const keys = await OutboundMediaKeys.create(0);
		const first = await keys.rotateForLeave(0);
		const second = await keys.rotateForLeave(10);
		expect(second.kid).toBe(first.kid + 1);
		expect(keys.all().map((grant) => grant.kid)).toEqual([0, second.kid]);
		expect(keys.next(10 + KEY_SWITCH_DELAY_MS).key.kid).toBe(second.kid);
	});

	it('ratchet a pending key (not the current one) when someone joins during the switch delay', async () => {
		const keys = await OutboundMediaKeys.create(0);
		const pending = await keys.rotateForLeave(0);
		const granted = await keys.ratchetForJoin(5);
		expect(toHex(granted.key)).toBe(toHex(await ratchetMediaKey(pending.key)));
		expect(keys.next(5).key.kid).toBe(0);
		expect(keys.next(KEY_SWITCH_DELAY_MS).key.kid).toBe(granted.kid);
	});
});

describe('receiving keys', () => {
	it('decrypt with a granted key and refuse a KID nobody granted', async () => {
		const sender = await OutboundMediaKeys.create(0);
		const receiver = new InboundMediaKeys();
		await expect(deliver(sender, receiver, 0)).rejects.toThrow('no media key with id 0');
		receiver.add(sender.newest());
		expect(toHex(await deliver(sender, receiver, 1))).toBe(toHex(OPUS_FRAME));
	});

	it('follow a join ratchet by themselves, while the joiner holds only the ratcheted key', async () => {
		const sender = await OutboundMediaKeys.create(0);
		const present = new InboundMediaKeys();
		present.add(sender.newest());
		await deliver(sender, present, 0);
		const joiner = new InboundMediaKeys();
		joiner.add(await sender.ratchetForJoin(10));
		const { key, ctr } = sender.next(20);
		const frame = await encryptMediaFrame(key, ctr, 'opus', OPUS_FRAME);
		expect(toHex(await decryptMediaFrame((kid) => present.keyFor(kid, 20), 'opus', frame))).toBe(toHex(OPUS_FRAME));
		expect(toHex(await decryptMediaFrame((kid) => joiner.keyFor(kid, 20), 'opus', frame))).toBe(toHex(OPUS_FRAME));
		// The joiner cannot go back to KID 0.
		expect(await joiner.keyFor(0, 20)).toBeUndefined();
	});

	it('do not ratchet further ahead than the window', async () => {
		const sender = await OutboundMediaKeys.create(0);
		const receiver = new InboundMediaKeys();
		receiver.add(sender.newest());
		for (let i = 0; i < RATCHET_WINDOW; i++) await sender.ratchetForJoin(i);
		expect(await receiver.keyFor(RATCHET_WINDOW, 0)).toBeDefined();
		await sender.ratchetForJoin(RATCHET_WINDOW);
		expect(await receiver.keyFor(RATCHET_WINDOW + 1, 0)).toBeUndefined();
	});

	it('leave the one who left unable to decrypt what is sent after the rotation', async () => {
		const sender = await OutboundMediaKeys.create(0);
		const stays = new InboundMediaKeys();
		const leaves = new InboundMediaKeys();
		stays.add(sender.newest());
		leaves.add(sender.newest());
		await deliver(sender, leaves, 0);
		stays.add(await sender.rotateForLeave(100));
		const after = 100 + KEY_SWITCH_DELAY_MS;
		expect(toHex(await deliver(sender, stays, after))).toBe(toHex(OPUS_FRAME));
		// The old key ratcheted forward is not the fresh key: the frame fails authentication.
		await expect(deliver(sender, leaves, after + 1)).rejects.toThrow(SFrameError);
	});

	it('accept the previous KID for the grace period after the sender moved on, and not after', async () => {
		const sender = await OutboundMediaKeys.create(0);
		const receiver = new InboundMediaKeys();
		receiver.add(sender.newest());
		const late = sender.next(0);
		const lateFrame = await encryptMediaFrame(late.key, late.ctr, 'opus', OPUS_FRAME);
		receiver.add(await sender.rotateForLeave(0));
		await deliver(sender, receiver, KEY_SWITCH_DELAY_MS); // first frame under KID 1
		const inGrace = KEY_SWITCH_DELAY_MS + PREVIOUS_KEY_GRACE_MS - 1;
		expect(toHex(await decryptMediaFrame((kid) => receiver.keyFor(kid, inGrace), 'opus', lateFrame))).toBe(toHex(OPUS_FRAME));
		const expired = KEY_SWITCH_DELAY_MS + PREVIOUS_KEY_GRACE_MS;
		await expect(decryptMediaFrame((kid) => receiver.keyFor(kid, expired), 'opus', lateFrame)).rejects.toThrow('no media key with id 0');
		expect(receiver.kids(expired)).toEqual([1]);
		// A grant for the retired KID arriving late does not bring it back.
		receiver.add({ kid: 0, key: new Uint8Array(16) });
		expect(receiver.kids(expired)).toEqual([1]);
	});

	it('keep the first key granted under a KID (a second grant cannot replace it)', async () => {
		const receiver = new InboundMediaKeys();
		const sender = await OutboundMediaKeys.create(0);
		receiver.add(sender.newest());
		receiver.add({ kid: 0, key: new Uint8Array(16).fill(7) });
		expect(toHex(await deliver(sender, receiver, 0))).toBe(toHex(OPUS_FRAME));
	});
});
