// X3DH key agreement (Signal's specification, X25519 variant), with Ed25519 identity keys used in
// their X25519 form for the DH steps:
//   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)  [DH4 = DH(EK_A, OPK_B)]
//   SK  = KDF(0xFF*32 ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4])   AD = IK_A ‖ IK_B (Ed25519 public keys)
// The initiator refuses a bundle whose signed prekey is not signed by the bundle's identity key.
import type { PrekeyBundle } from '#lib/shared/e2ee.ts';
import {
	assertBundleSignature,
	identityToCurvePrivate,
	identityToCurvePublic,
	type IdentityKeyPair,
	type PrekeyPair
} from './device-keys.ts';
import { concat, fromB64Exact, toB64 } from './encoding.ts';
import { kdfX3dh } from './kdf.ts';
import type { Sodium } from './sodium.ts';

export type X3dhInitiatorResult = {
	/** 32-byte shared secret: the first root key of the Double Ratchet. */
	sharedKey: Uint8Array;
	/** IK_A ‖ IK_B, bound into every message of the session. */
	associatedData: Uint8Array;
	/** EK_A, sent in the prekey message. */
	ephemeralKey: string;
	signedPrekeyId: number;
	/** The one-time prekey used, or null when the bundle had none. */
	oneTimePrekeyId: number | null;
	/** SPK_B: the responder's first ratchet public key. */
	signedPrekeyPublic: string;
};

export function x3dhInitiate(sodium: Sodium, identity: IdentityKeyPair, bundle: PrekeyBundle): X3dhInitiatorResult {
	assertBundleSignature(sodium, bundle);
	const identityPrivate = identityToCurvePrivate(sodium, identity);
	const remoteIdentity = identityToCurvePublic(sodium, bundle.identityKey);
	const signedPrekey = fromB64Exact(bundle.signedPrekey.publicKey, 32, 'signed prekey');
	const ephemeral = sodium.crypto_box_keypair();
	const dhOutputs = [
		sodium.crypto_scalarmult(identityPrivate, signedPrekey),
		sodium.crypto_scalarmult(ephemeral.privateKey, remoteIdentity),
		sodium.crypto_scalarmult(ephemeral.privateKey, signedPrekey)
	];
	if (bundle.oneTimePrekey) {
		dhOutputs.push(sodium.crypto_scalarmult(ephemeral.privateKey, fromB64Exact(bundle.oneTimePrekey.publicKey, 32, 'one-time prekey')));
	}
	const sharedKey = kdfX3dh(sodium, dhOutputs);
	for (const secret of [identityPrivate, ephemeral.privateKey, ...dhOutputs]) sodium.memzero(secret);
	return {
		sharedKey,
		associatedData: associatedData(sodium, identity.publicKey, bundle.identityKey),
		ephemeralKey: toB64(ephemeral.publicKey),
		signedPrekeyId: bundle.signedPrekey.id,
		oneTimePrekeyId: bundle.oneTimePrekey?.id ?? null,
		signedPrekeyPublic: bundle.signedPrekey.publicKey
	};
}

export type X3dhResponderInput = {
	identity: IdentityKeyPair;
	/** IK_A as the prekey message states it. */
	remoteIdentityKey: string;
	/** EK_A from the prekey message. */
	ephemeralKey: string;
	signedPrekey: PrekeyPair;
	oneTimePrekey: PrekeyPair | null;
};

export function x3dhRespond(sodium: Sodium, input: X3dhResponderInput): { sharedKey: Uint8Array; associatedData: Uint8Array } {
	const identityPrivate = identityToCurvePrivate(sodium, input.identity);
	const remoteIdentity = identityToCurvePublic(sodium, input.remoteIdentityKey);
	const ephemeral = fromB64Exact(input.ephemeralKey, 32, 'ephemeral key');
	const signedPrekeyPrivate = fromB64Exact(input.signedPrekey.privateKey, 32, 'signed prekey private key');
	const dhOutputs = [
		sodium.crypto_scalarmult(signedPrekeyPrivate, remoteIdentity),
		sodium.crypto_scalarmult(identityPrivate, ephemeral),
		sodium.crypto_scalarmult(signedPrekeyPrivate, ephemeral)
	];
	if (input.oneTimePrekey) {
		dhOutputs.push(sodium.crypto_scalarmult(fromB64Exact(input.oneTimePrekey.privateKey, 32, 'one-time prekey private key'), ephemeral));
	}
	const sharedKey = kdfX3dh(sodium, dhOutputs);
	for (const secret of [identityPrivate, signedPrekeyPrivate, ...dhOutputs]) sodium.memzero(secret);
	return { sharedKey, associatedData: associatedData(sodium, input.remoteIdentityKey, input.identity.publicKey) };
}

/** AD = IK_A ‖ IK_B: the initiator's then the responder's Ed25519 identity key. */
function associatedData(sodium: Sodium, initiatorIdentityKey: string, responderIdentityKey: string): Uint8Array {
	return concat(
		fromB64Exact(initiatorIdentityKey, sodium.crypto_sign_PUBLICKEYBYTES, 'identity key'),
		fromB64Exact(responderIdentityKey, sodium.crypto_sign_PUBLICKEYBYTES, 'identity key')
	);
}
