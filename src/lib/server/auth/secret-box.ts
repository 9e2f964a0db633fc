// Encryption at rest for the few secrets the server must read back (authenticator-app secrets):
// AES-256-GCM under a key derived from APP_SECRET with HKDF, one key per purpose. A copy of the
// database alone (a backup, a dump) then cannot mint codes; whoever also holds APP_SECRET can.
// The owner's id is bound in as associated data, so a sealed secret copied onto another account
// does not open there.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12; // the GCM standard nonce size; random per seal, never reused under one key in practice (2^96)
const TAG_BYTES = 16;

export class SecretBox {
	readonly #key: Buffer;

	/** `purpose` separates keys: a value sealed for one purpose never opens under another. */
	constructor(appSecret: Uint8Array, purpose: string) {
		this.#key = Buffer.from(hkdfSync('sha256', appSecret, 'hearth secret box', purpose, 32));
	}

	seal(plain: Uint8Array, owner: string): string {
		const iv = randomBytes(IV_BYTES);
		const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
		cipher.setAAD(Buffer.from(owner));
		const body = Buffer.concat([cipher.update(plain), cipher.final()]);
		return `${VERSION}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
	}

	/** The plain bytes, or null when the value was sealed under another key or owner, or altered. */
	open(sealed: string, owner: string): Uint8Array | null {
		const [version, data] = sealed.split('.');
		if (version !== VERSION || !data) return null;
		const bytes = Buffer.from(data, 'base64url');
		if (bytes.length < IV_BYTES + TAG_BYTES) return null;
		try {
			const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES));
			decipher.setAAD(Buffer.from(owner));
			decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
			return new Uint8Array(Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]));
		} catch {
			return null;
		}
	}
}
