// A device's long-term and medium-term keys: the Ed25519 identity, the signed X25519 prekey and the
// one-time X25519 prekeys, plus checking another device's published bundle. All values are
// base64url strings, so the records are JSON and structured-clone safe for the key store.
import * as v from 'valibot';
import {
	ONE_TIME_PREKEYS_PER_UPLOAD,
	RegisterDeviceRequest,
	SIGNED_PREKEY_CONTEXT,
	type OneTimePrekey,
	type PrekeyBundle,
	type SignedPrekey
} from '#lib/shared/e2ee.ts';
import { concat, fromB64, fromB64Exact, toB64, utf8 } from './encoding.ts';
import { BadSignatureError } from './errors.ts';
import type { Sodium } from './sodium.ts';

/** Ed25519 key pair; the public key is the device's identity key. */
export type IdentityKeyPair = { publicKey: string; privateKey: string };

/** An X25519 prekey with its private half (kept on the device only). */
export type PrekeyPair = { id: number; publicKey: string; privateKey: string; createdAt: number };
export type SignedPrekeyPair = PrekeyPair & { signature: string };

/** Signed prekeys are rotated this often. */
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 3600_000;
/** A replaced signed prekey's private half is kept this long, for prekey messages still in flight. */
export const SIGNED_PREKEY_RETENTION_MS = 30 * 24 * 3600_000;

export function generateIdentityKeyPair(sodium: Sodium): IdentityKeyPair {
	const pair = sodium.crypto_sign_keypair();
	return { publicKey: toB64(pair.publicKey), privateKey: toB64(pair.privateKey) };
}

function generatePrekey(sodium: Sodium, id: number, now: number): PrekeyPair {
	const pair = sodium.crypto_box_keypair();
	return { id, publicKey: toB64(pair.publicKey), privateKey: toB64(pair.privateKey), createdAt: now };
}

/** The bytes an identity key signs for a signed prekey: utf8(SIGNED_PREKEY_CONTEXT) ‖ public key. */
function signedPrekeyMessage(publicKey: Uint8Array): Uint8Array {
	return concat(utf8(SIGNED_PREKEY_CONTEXT), publicKey);
}

export function generateSignedPrekey(sodium: Sodium, identity: IdentityKeyPair, id: number, now = Date.now()): SignedPrekeyPair {
	const prekey = generatePrekey(sodium, id, now);
	const signature = sodium.crypto_sign_detached(
		signedPrekeyMessage(fromB64(prekey.publicKey)),
		fromB64Exact(identity.privateKey, sodium.crypto_sign_SECRETKEYBYTES, 'identity private key')
	);
	return { ...prekey, signature: toB64(signature) };
}

/** `count` one-time prekeys with ids firstId, firstId+1, … (ids wrap within unsigned 32 bits). */
export function generateOneTimePrekeys(sodium: Sodium, firstId: number, count: number, now = Date.now()): PrekeyPair[] {
	return Array.from({ length: count }, (_, i) => generatePrekey(sodium, (firstId + i) >>> 0, now));
}

/** Whether `signedPrekey` carries a valid signature by the Ed25519 identity key `identityKey`. */
export function verifySignedPrekey(sodium: Sodium, identityKey: string, signedPrekey: SignedPrekey): boolean {
	try {
		return sodium.crypto_sign_verify_detached(
			fromB64Exact(signedPrekey.signature, sodium.crypto_sign_BYTES, 'signature'),
			signedPrekeyMessage(fromB64Exact(signedPrekey.publicKey, 32, 'signed prekey')),
			fromB64Exact(identityKey, sodium.crypto_sign_PUBLICKEYBYTES, 'identity key')
		);
	} catch {
		return false;
	}
}

/** Throws BadSignatureError unless the bundle's signed prekey is signed by the bundle's identity key. */
export function assertBundleSignature(sodium: Sodium, bundle: PrekeyBundle): void {
	if (!verifySignedPrekey(sodium, bundle.identityKey, bundle.signedPrekey)) {
		throw new BadSignatureError('the signed prekey of this bundle is not signed by its identity key');
	}
}

export function publicSignedPrekey(prekey: SignedPrekeyPair): SignedPrekey {
	return { id: prekey.id, publicKey: prekey.publicKey, signature: prekey.signature };
}

export function publicOneTimePrekey(prekey: PrekeyPair): OneTimePrekey {
	return { id: prekey.id, publicKey: prekey.publicKey };
}

/** The POST /api/devices body, validated against the shared schema before it leaves the device. */
export function buildRegisterDeviceRequest(
	name: string,
	identity: IdentityKeyPair,
	signedPrekey: SignedPrekeyPair,
	oneTimePrekeys: PrekeyPair[]
): RegisterDeviceRequest {
	if (oneTimePrekeys.length > ONE_TIME_PREKEYS_PER_UPLOAD) throw new RangeError(`at most ${ONE_TIME_PREKEYS_PER_UPLOAD} one-time prekeys per upload`);
	return v.parse(RegisterDeviceRequest, {
		name,
		identityKey: identity.publicKey,
		signedPrekey: publicSignedPrekey(signedPrekey),
		oneTimePrekeys: oneTimePrekeys.map(publicOneTimePrekey)
	});
}

/** The X25519 form of an Ed25519 identity public key (its DH identity in X3DH). */
export function identityToCurvePublic(sodium: Sodium, identityKey: string): Uint8Array {
	return sodium.crypto_sign_ed25519_pk_to_curve25519(fromB64Exact(identityKey, sodium.crypto_sign_PUBLICKEYBYTES, 'identity key'));
}

export function identityToCurvePrivate(sodium: Sodium, identity: IdentityKeyPair): Uint8Array {
	return sodium.crypto_sign_ed25519_sk_to_curve25519(fromB64Exact(identity.privateKey, sodium.crypto_sign_SECRETKEYBYTES, 'identity private key'));
}
