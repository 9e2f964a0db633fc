import { beforeAll, describe, expect, it } from 'vitest';
import * as v from 'valibot';
import { RegisterDeviceRequest, type PrekeyBundle } from '#lib/shared/e2ee.ts';
import {
	buildRegisterDeviceRequest,
	generateIdentityKeyPair,
	generateOneTimePrekeys,
	generateSignedPrekey,
	publicOneTimePrekey,
	publicSignedPrekey,
	verifySignedPrekey
} from '#lib/client/e2ee/device-keys.ts';
import { fromB64, toB64 } from '#lib/client/e2ee/encoding.ts';
import { BadSignatureError } from '#lib/client/e2ee/errors.ts';
import { loadSodium, type Sodium } from '#lib/client/e2ee/sodium.ts';
import { x3dhInitiate, x3dhRespond } from '#lib/client/e2ee/x3dh.ts';

let sodium: Sodium;
beforeAll(async () => {
	sodium = await loadSodium();
});

function device() {
	const identity = generateIdentityKeyPair(sodium);
	const signedPrekey = generateSignedPrekey(sodium, identity, 1);
	const oneTimePrekeys = generateOneTimePrekeys(sodium, 100, 3);
	return { identity, signedPrekey, oneTimePrekeys };
}

function bundleOf(bob: ReturnType<typeof device>, withOneTimePrekey: boolean): PrekeyBundle {
	return {
		deviceId: '00000000-0000-4000-8000-000000000002',
		userId: '00000000-0000-4000-8000-000000000001',
		identityKey: bob.identity.publicKey,
		signedPrekey: publicSignedPrekey(bob.signedPrekey),
		oneTimePrekey: withOneTimePrekey ? publicOneTimePrekey(bob.oneTimePrekeys[1]!) : null
	};
}

describe('device keys', () => {
	it('signs the signed prekey with the identity key, and a different identity does not verify it', () => {
		const { identity, signedPrekey } = device();
		expect(verifySignedPrekey(sodium, identity.publicKey, publicSignedPrekey(signedPrekey))).toBe(true);
		expect(verifySignedPrekey(sodium, generateIdentityKeyPair(sodium).publicKey, publicSignedPrekey(signedPrekey))).toBe(false);
	});

	it('signs over the context string, not the bare public key', () => {
		const { identity, signedPrekey } = device();
		const bare = sodium.crypto_sign_detached(fromB64(signedPrekey.publicKey), fromB64(identity.privateKey));
		expect(verifySignedPrekey(sodium, identity.publicKey, { ...publicSignedPrekey(signedPrekey), signature: toB64(bare) })).toBe(false);
	});

	it('builds a registration request the shared schema accepts, without any private key in it', () => {
		const { identity, signedPrekey, oneTimePrekeys } = device();
		const request = buildRegisterDeviceRequest('Firefox on laptop', identity, signedPrekey, oneTimePrekeys);
		expect(v.safeParse(RegisterDeviceRequest, request).success).toBe(true);
		expect(request.oneTimePrekeys.map((key) => key.id)).toEqual([100, 101, 102]);
		const text = JSON.stringify(request);
		for (const secret of [identity.privateKey, signedPrekey.privateKey, ...oneTimePrekeys.map((key) => key.privateKey)]) {
			expect(text).not.toContain(secret);
		}
	});
});

describe('X3DH', () => {
	for (const withOneTimePrekey of [true, false]) {
		it(`gives both sides the same secret and associated data ${withOneTimePrekey ? 'with' : 'without'} a one-time prekey`, () => {
			const alice = device();
			const bob = device();
			const initiated = x3dhInitiate(sodium, alice.identity, bundleOf(bob, withOneTimePrekey));
			expect(initiated.oneTimePrekeyId).toBe(withOneTimePrekey ? 101 : null);
			const responded = x3dhRespond(sodium, {
				identity: bob.identity,
				remoteIdentityKey: alice.identity.publicKey,
				ephemeralKey: initiated.ephemeralKey,
				signedPrekey: bob.signedPrekey,
				oneTimePrekey: withOneTimePrekey ? bob.oneTimePrekeys[1]! : null
			});
			expect(initiated.sharedKey).toHaveLength(32);
			expect(toB64(responded.sharedKey)).toBe(toB64(initiated.sharedKey));
			expect(toB64(responded.associatedData)).toBe(toB64(initiated.associatedData));
			expect(toB64(initiated.associatedData)).toBe(toB64(new Uint8Array([...fromB64(alice.identity.publicKey), ...fromB64(bob.identity.publicKey)])));
		});
	}

	it('derives a different secret when the responder uses another one-time prekey, or none', () => {
		const alice = device();
		const bob = device();
		const initiated = x3dhInitiate(sodium, alice.identity, bundleOf(bob, true));
		const respond = (oneTimePrekey: (typeof bob.oneTimePrekeys)[number] | null) =>
			toB64(
				x3dhRespond(sodium, {
					identity: bob.identity,
					remoteIdentityKey: alice.identity.publicKey,
					ephemeralKey: initiated.ephemeralKey,
					signedPrekey: bob.signedPrekey,
					oneTimePrekey
				}).sharedKey
			);
		expect(respond(bob.oneTimePrekeys[1]!)).toBe(toB64(initiated.sharedKey));
		expect(respond(bob.oneTimePrekeys[0]!)).not.toBe(toB64(initiated.sharedKey));
		expect(respond(null)).not.toBe(toB64(initiated.sharedKey));
	});

	it('derives a different secret when the prekey message claims another identity (DH1 binds IK_A)', () => {
		const alice = device();
		const bob = device();
		const initiated = x3dhInitiate(sodium, alice.identity, bundleOf(bob, false));
		const responded = x3dhRespond(sodium, {
			identity: bob.identity,
			remoteIdentityKey: generateIdentityKeyPair(sodium).publicKey,
			ephemeralKey: initiated.ephemeralKey,
			signedPrekey: bob.signedPrekey,
			oneTimePrekey: null
		});
		expect(toB64(responded.sharedKey)).not.toBe(toB64(initiated.sharedKey));
	});

	it('refuses a bundle whose signed prekey is not signed by its identity key', () => {
		const alice = device();
		const bob = device();
		const mallory = device();
		// The server (or anyone in the middle) swaps in its own signed prekey.
		const swapped = { ...bundleOf(bob, true), signedPrekey: publicSignedPrekey(mallory.signedPrekey) };
		expect(() => x3dhInitiate(sodium, alice.identity, swapped)).toThrow(BadSignatureError);
		// A flipped bit in the signature is refused too.
		const signature = fromB64(bob.signedPrekey.signature);
		signature[0]! ^= 1;
		const flipped = { ...bundleOf(bob, true), signedPrekey: { ...publicSignedPrekey(bob.signedPrekey), signature: toB64(signature) } };
		expect(() => x3dhInitiate(sodium, alice.identity, flipped)).toThrow(BadSignatureError);
	});
});
