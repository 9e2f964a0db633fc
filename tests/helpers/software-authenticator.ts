// A passkey authenticator in software, for integration tests that talk to the server without a
// browser: it answers registration and sign-in options with what a real authenticator with "none"
// attestation returns (WebAuthn Level 3 §6.1, §6.5): authenticator data, an ES256 key in COSE form,
// CBOR for the attestation object, ECDSA signatures over authenticatorData ‖ SHA-256(clientDataJSON).
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

type Json = Record<string, unknown>;

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest();

/** The little CBOR the attestation object needs: unsigned and negative integers, bytes, text, maps. */
function cbor(value: unknown): Buffer {
	const head = (major: number, length: number): Buffer => {
		if (length < 24) return Buffer.from([(major << 5) | length]);
		if (length < 256) return Buffer.from([(major << 5) | 24, length]);
		if (length < 65536) return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff]);
		throw new Error('too long for this encoder');
	};
	if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
	if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
	if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
	if (value instanceof Map) return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
	throw new Error(`cannot encode ${typeof value}`);
}

// Flags of the authenticator data: user present, user verified, backup eligible/state, attested data.
const UP = 0x01;
const UV = 0x04;
const AT = 0x40;

export class SoftwarePasskey {
	readonly credentialId = randomBytes(16);
	readonly #privateKey: KeyObject;
	readonly #publicJwk: { x: string; y: string };
	#counter = 0;
	/** The account id the server put in the options (the user handle), once registered. */
	userHandle: string | null = null;

	constructor() {
		const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
		this.#privateKey = privateKey;
		const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
		this.#publicJwk = jwk;
	}

	get id(): string {
		return b64url(this.credentialId);
	}

	#authenticatorData(rpId: string, flags: number, attested?: Buffer): Buffer {
		this.#counter += 1;
		const counter = Buffer.alloc(4);
		counter.writeUInt32BE(this.#counter);
		return Buffer.concat([sha256(rpId), Buffer.from([flags]), counter, ...(attested ? [attested] : [])]);
	}

	/** The answer to registration options, as @simplewebauthn/browser's startRegistration returns it. */
	register(options: Json, origin: string, tweak: { userVerified?: boolean; rpId?: string; origin?: string } = {}): Json {
		const rp = options.rp as { id: string };
		this.userHandle = (options.user as { id: string }).id;
		const clientDataJSON = JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: tweak.origin ?? origin, crossOrigin: false });
		const coseKey = cbor(
			new Map<number, unknown>([
				[1, 2], // kty: EC2
				[3, -7], // alg: ES256
				[-1, 1], // crv: P-256
				[-2, Buffer.from(this.#publicJwk.x, 'base64url')],
				[-3, Buffer.from(this.#publicJwk.y, 'base64url')]
			])
		);
		const idLength = Buffer.alloc(2);
		idLength.writeUInt16BE(this.credentialId.length);
		const attested = Buffer.concat([Buffer.alloc(16), idLength, this.credentialId, coseKey]);
		const flags = UP | (tweak.userVerified === false ? 0 : UV) | AT;
		const authData = this.#authenticatorData(tweak.rpId ?? rp.id, flags, attested);
		const attestationObject = cbor(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
		return {
			id: this.id,
			rawId: this.id,
			type: 'public-key',
			response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'] },
			clientExtensionResults: {}
		};
	}

	/** The answer to sign-in options, as startAuthentication returns it. */
	authenticate(options: Json, origin: string, tweak: { userVerified?: boolean } = {}): Json {
		const clientDataJSON = JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false });
		const authData = this.#authenticatorData(options.rpId as string, UP | (tweak.userVerified === false ? 0 : UV));
		const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.#privateKey);
		return {
			id: this.id,
			rawId: this.id,
			type: 'public-key',
			response: {
				clientDataJSON: b64url(clientDataJSON),
				authenticatorData: b64url(authData),
				signature: b64url(signature),
				...(this.userHandle ? { userHandle: this.userHandle } : {})
			},
			clientExtensionResults: {}
		};
	}
}
