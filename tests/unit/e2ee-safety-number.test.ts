import sodium from 'libsodium-wrappers';
import { describe, expect, it } from 'vitest';
import {
	computeSafetyNumber,
	displayableHalf,
	fingerprintHash,
	safetyNumbersMatch,
	type SafetyNumberParty
} from '#lib/client/e2ee/safety-number.ts';

// Before the describe blocks run: they call sodium while collecting (the vectors below), and a
// beforeAll would only run after that, so the file failed whenever no earlier file in the same
// worker had loaded libsodium.
await sodium.ready;

const b64 = (bytes: Uint8Array) => sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING);
/** A fixed, recognisable 32-byte key: `fill` repeated. */
const key = (fill: number) => b64(new Uint8Array(32).fill(fill));
const hex = (s: string) => sodium.from_hex(s);

describe('the fingerprint construction', () => {
	// libsignal-protocol-c tests/test_fingerprint.c (and libsignal's NumericFingerprintGeneratorTest):
	// 33-byte serialized Curve25519 identity keys, phone numbers as stable ids, 5200 iterations.
	const ALICE = hex('0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868');
	const BOB = hex('05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b');
	const SIGNAL_DISPLAYABLE = '300354477692869396892869876765458257569162576843440918079131';

	it("reproduces Signal's published single-key test vector", () => {
		const alice = displayableHalf(fingerprintHash(sodium, [ALICE], '+14152222222'));
		const bob = displayableHalf(fingerprintHash(sodium, [BOB], '+14153333333'));
		const [first, second] = [alice, bob].sort();
		expect(first! + second!).toBe(SIGNAL_DISPLAYABLE);
	});
});

describe('computeSafetyNumber', () => {
	const alice: SafetyNumberParty = { userId: 'user-alice', identityKeys: [key(1), key(2)] };
	const bob: SafetyNumberParty = { userId: 'user-bob', identityKeys: [key(3)] };

	it('gives both people the same 60 digits in 12 groups of 5 and the same QR payload', () => {
		const seenByAlice = computeSafetyNumber(sodium, alice, bob);
		const seenByBob = computeSafetyNumber(sodium, bob, alice);
		expect(seenByAlice.digits).toMatch(/^\d{60}$/);
		expect(seenByAlice.groups).toHaveLength(12);
		expect(seenByAlice.groups.every((g) => /^\d{5}$/.test(g))).toBe(true);
		expect(seenByAlice.groups.join('')).toBe(seenByAlice.digits);
		expect(seenByBob).toEqual(seenByAlice);
		expect(seenByAlice.qrPayload).toMatch(/^hearth-sn:0:[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
	});

	it('is a fixed number for fixed keys (a regression pin of the construction)', () => {
		// Pinned from this implementation; the construction itself is checked by Signal's vector above.
		expect(computeSafetyNumber(sodium, alice, bob).digits).toBe(PINNED_DIGITS);
	});

	it('does not depend on the order the devices are listed in', () => {
		const reordered = { ...alice, identityKeys: [key(2), key(1)] };
		expect(computeSafetyNumber(sodium, reordered, bob).digits).toBe(computeSafetyNumber(sodium, alice, bob).digits);
	});

	it('changes when any device key changes, is added or removed, or the user id differs', () => {
		const base = computeSafetyNumber(sodium, alice, bob);
		const variants: Array<[SafetyNumberParty, SafetyNumberParty]> = [
			[{ ...alice, identityKeys: [key(1), key(4)] }, bob],
			[alice, { ...bob, identityKeys: [key(5)] }],
			[{ ...alice, identityKeys: [key(1), key(2), key(6)] }, bob],
			[{ ...alice, identityKeys: [key(1)] }, bob],
			[{ ...alice, userId: 'user-mallory' }, bob]
		];
		for (const [a, b] of variants) {
			const changed = computeSafetyNumber(sodium, a, b);
			expect(changed.digits).not.toBe(base.digits);
			expect(changed.qrPayload).not.toBe(base.qrPayload);
		}
		// One flipped bit in one key is enough.
		const flipped = sodium.from_base64(key(2), sodium.base64_variants.URLSAFE_NO_PADDING);
		flipped[31]! ^= 1;
		expect(computeSafetyNumber(sodium, { ...alice, identityKeys: [key(1), b64(flipped)] }, bob).digits).not.toBe(base.digits);
	});

	it('refuses a side without devices', () => {
		expect(() => computeSafetyNumber(sodium, { userId: 'x', identityKeys: [] }, bob)).toThrow(/at least one device/);
	});
});

describe('safetyNumbersMatch', () => {
	const ours = () =>
		computeSafetyNumber(sodium, { userId: 'a', identityKeys: [key(7)] }, { userId: 'b', identityKeys: [key(8)] });

	it('accepts the other side’s QR payload and typed digits with spaces', () => {
		const theirs = computeSafetyNumber(sodium, { userId: 'b', identityKeys: [key(8)] }, { userId: 'a', identityKeys: [key(7)] });
		expect(safetyNumbersMatch(ours(), theirs.qrPayload)).toBe(true);
		expect(safetyNumbersMatch(ours(), theirs.groups.join(' '))).toBe(true);
	});

	it('rejects a payload or digits computed over a different key', () => {
		const mitm = computeSafetyNumber(sodium, { userId: 'b', identityKeys: [key(9)] }, { userId: 'a', identityKeys: [key(7)] });
		expect(safetyNumbersMatch(ours(), mitm.qrPayload)).toBe(false);
		expect(safetyNumbersMatch(ours(), mitm.digits)).toBe(false);
		expect(safetyNumbersMatch(ours(), '')).toBe(false);
	});
});

const PINNED_DIGITS = '693415982576911265459167421028944145129926682365018918381746';
