// Trust on first use, verification and the "safety number changed" warnings (e2ee/trust.ts), over
// the memory store the engine uses in Node, and the safety number between two users' device sets.
import { describe, expect, it } from 'vitest';
import { MemoryE2eeStore } from '#lib/client/e2ee/memory-store.ts';
import { safetyNumberFor, TrustStore, type DeviceIdentityRecord } from '#lib/client/e2ee/trust.ts';
import { loadSodium } from '#lib/client/e2ee/sodium.ts';
import { toB64 } from '#lib/client/e2ee/encoding.ts';
import type { PublicDeviceView } from '#lib/shared/e2ee.ts';

const BOB = '00000000-0000-4000-8000-00000000b0b0';
const ME = '00000000-0000-4000-8000-0000000000a1';

let counter = 0;
function device(userId: string, id = `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`, key?: string): PublicDeviceView {
	const bytes = new Uint8Array(32);
	bytes[0] = counter & 0xff;
	bytes[1] = (counter >> 8) & 0xff;
	bytes[31] = 7;
	return { id, userId, identityKey: key ?? toB64(bytes), createdAt: '2026-01-01T00:00:00.000Z' };
}

function rekeyed(d: PublicDeviceView): PublicDeviceView {
	const other = device(d.userId);
	return { ...d, identityKey: other.identityKey };
}

describe('trust on first use', () => {
	it('accepts a new contact’s devices silently and records each key as first seen, in the engine’s record format', async () => {
		const store = new MemoryE2eeStore();
		const trust = new TrustStore(store, () => 1000);
		const [b1, b2] = [device(BOB), device(BOB)];
		expect(await trust.observe(BOB, [b1, b2])).toEqual({ userId: BOB, verified: false, warning: null });
		expect(await store.get<DeviceIdentityRecord>('identities', b1.id)).toEqual({ userId: BOB, identityKey: b1.identityKey, firstSeenAt: 1000 });
		// Another device of an unverified contact: no warning (trust on first use).
		const b3 = device(BOB);
		expect((await trust.observe(BOB, [b1, b2, b3])).warning).toBeNull();
		expect((await trust.observe(BOB, [b1, b3])).warning).toBeNull();
	});

	it('warns when a device presents another identity key than the one first seen, verified or not', async () => {
		const store = new MemoryE2eeStore();
		const trust = new TrustStore(store);
		const b1 = device(BOB);
		await trust.observe(BOB, [b1]);
		const swapped = rekeyed(b1);
		const seen = await trust.observe(BOB, [swapped]);
		expect(seen.warning).toMatchObject({ reason: 'identity-changed', deviceIds: [b1.id] });
		// The first-seen key is kept, flagged, so the engine keeps refusing the new one until acknowledged.
		expect(await store.get<DeviceIdentityRecord>('identities', b1.id)).toMatchObject({ identityKey: b1.identityKey, changed: true });
		// The warning does not go away by itself.
		expect((await trust.observe(BOB, [swapped])).warning?.reason).toBe('identity-changed');

		const acknowledged = await trust.acknowledge(BOB, [swapped]);
		expect(acknowledged.warning).toBeNull();
		const record = await store.get<DeviceIdentityRecord>('identities', b1.id);
		expect(record).toMatchObject({ identityKey: swapped.identityKey });
		expect(record?.changed).toBeUndefined();
		expect((await trust.observe(BOB, [swapped])).warning).toBeNull();
	});

	it('also warns when the engine flagged a changed key (a session presenting another key)', async () => {
		const store = new MemoryE2eeStore();
		const trust = new TrustStore(store);
		const b1 = device(BOB);
		await store.put<DeviceIdentityRecord>('identities', b1.id, { userId: BOB, identityKey: b1.identityKey, firstSeenAt: 1, changed: true });
		expect((await trust.observe(BOB, [b1])).warning).toMatchObject({ reason: 'identity-changed', deviceIds: [b1.id] });
	});
});

describe('verification', () => {
	it('marks a contact verified for exactly their devices; a new device clears it and warns until re-verified', async () => {
		const store = new MemoryE2eeStore();
		const trust = new TrustStore(store);
		const b1 = device(BOB);
		await trust.observe(BOB, [b1]);
		expect(await trust.markVerified(BOB, [b1])).toEqual({ userId: BOB, verified: true, warning: null });
		expect((await trust.observe(BOB, [b1])).verified).toBe(true);
		expect((await trust.contact(BOB)).verified).toBe(true);

		const b2 = device(BOB);
		const changed = await trust.observe(BOB, [b1, b2]);
		expect(changed).toMatchObject({ verified: false, warning: { reason: 'new-device', deviceIds: [b2.id] } });
		expect(await trust.contact(BOB)).toMatchObject({ verified: false, warning: { reason: 'new-device' } });

		expect(await trust.markVerified(BOB, [b1, b2])).toEqual({ userId: BOB, verified: true, warning: null });
		expect((await trust.observe(BOB, [b1, b2])).verified).toBe(true);
	});

	it('a verified contact removing a device clears the verification and warns; acknowledging closes the warning without verifying', async () => {
		const store = new MemoryE2eeStore();
		const trust = new TrustStore(store);
		const [b1, b2] = [device(BOB), device(BOB)];
		await trust.observe(BOB, [b1, b2]);
		await trust.markVerified(BOB, [b1, b2]);
		expect(await trust.observe(BOB, [b1])).toMatchObject({ verified: false, warning: { reason: 'device-removed', deviceIds: [b2.id] } });
		expect(await trust.acknowledge(BOB, [b1])).toEqual({ userId: BOB, verified: false, warning: null });
		// Now unverified: later changes are accepted silently again.
		expect((await trust.observe(BOB, [b1, device(BOB)])).warning).toBeNull();
	});

	it('unverify drops the badge and keeps the devices accepted', async () => {
		const store = new MemoryE2eeStore();
		const trust = new TrustStore(store);
		const b1 = device(BOB);
		await trust.markVerified(BOB, [b1]);
		expect(await trust.unverify(BOB)).toEqual({ userId: BOB, verified: false, warning: null });
		expect((await trust.observe(BOB, [b1])).warning).toBeNull();
	});

	it('ignores devices listed for another user', async () => {
		const store = new MemoryE2eeStore();
		const trust = new TrustStore(store);
		const b1 = device(BOB);
		await trust.markVerified(BOB, [b1, device(ME)]);
		expect((await trust.observe(BOB, [b1])).verified).toBe(true);
	});
});

describe('safetyNumberFor', () => {
	it('is the same 60 digits from both sides, ignores device order and changes with any device', async () => {
		const sodium = await loadSodium();
		const mine = [device(ME), device(ME)];
		const theirs = [device(BOB)];
		const a = safetyNumberFor(sodium, { userId: ME, devices: mine }, { userId: BOB, devices: theirs });
		const b = safetyNumberFor(sodium, { userId: BOB, devices: theirs }, { userId: ME, devices: [...mine].reverse() });
		expect(a.digits).toMatch(/^\d{60}$/);
		expect(a.groups).toHaveLength(12);
		expect(b).toEqual(a);
		const added = safetyNumberFor(sodium, { userId: ME, devices: mine }, { userId: BOB, devices: [...theirs, device(BOB)] });
		expect(added.digits).not.toBe(a.digits);
	});
});
