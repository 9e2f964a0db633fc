// Device keys for integration tests, made with Node's crypto (the same Ed25519 and X25519 the
// browser makes with libsodium; the server only sees public keys and signatures).
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { SIGNED_PREKEY_CONTEXT, type OneTimePrekey, type RegisterDeviceRequest, type SignedPrekey } from '#lib/shared/e2ee.ts';

function rawPublic(key: KeyObject): string {
	return key.export({ format: 'jwk' }).x!;
}

export function curvePublicKey(): string {
	return rawPublic(generateKeyPairSync('x25519').publicKey);
}

export type TestDeviceKeys = { identityKey: string; identityPrivate: KeyObject };

export function identity(): TestDeviceKeys {
	const { publicKey, privateKey } = generateKeyPairSync('ed25519');
	return { identityKey: rawPublic(publicKey), identityPrivate: privateKey };
}

export function signedPrekey(keys: TestDeviceKeys, id = 1): SignedPrekey {
	const publicKey = curvePublicKey();
	const message = Buffer.concat([Buffer.from(SIGNED_PREKEY_CONTEXT, 'utf8'), Buffer.from(publicKey, 'base64url')]);
	return { id, publicKey, signature: sign(null, message, keys.identityPrivate).toString('base64url') };
}

export function oneTimePrekeys(count: number, firstId = 1): OneTimePrekey[] {
	return Array.from({ length: count }, (_, i) => ({ id: firstId + i, publicKey: curvePublicKey() }));
}

export function registration(options: { name?: string; otks?: number; keys?: TestDeviceKeys } = {}): RegisterDeviceRequest & { keys: TestDeviceKeys } {
	const keys = options.keys ?? identity();
	return {
		keys,
		name: options.name ?? 'Test browser',
		identityKey: keys.identityKey,
		signedPrekey: signedPrekey(keys),
		oneTimePrekeys: oneTimePrekeys(options.otks ?? 10)
	};
}

/** The request body (without the test's private key). */
export function body(request: RegisterDeviceRequest & { keys?: TestDeviceKeys }): RegisterDeviceRequest {
	const { keys: _keys, ...rest } = request;
	return rest;
}
