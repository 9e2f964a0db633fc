// Rules for secrets given in the environment. A secret must carry at least 32 random bytes: we
// cannot measure randomness, but we can refuse what is plainly not random (too short once decoded,
// a handful of distinct characters, or a placeholder copied from an example).

export const MIN_SECRET_BYTES = 32;

const PLACEHOLDER_WORDS = ['change', 'replace', 'example', 'secret', 'password', 'placeholder', 'xxxx', 'todo'];

/** The bytes a secret string stands for: hex and base64 (or base64url) are decoded, anything else is taken as UTF-8. */
export function secretBytes(value: string): Uint8Array {
	if (/^(?:[0-9a-fA-F]{2})+$/.test(value)) return Uint8Array.from(Buffer.from(value, 'hex'));
	if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value) && value.length % 4 !== 1) {
		return Uint8Array.from(Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
	}
	return new TextEncoder().encode(value);
}

/** Why a secret is not acceptable, or null when it is. Never includes the secret itself. */
export function secretWeakness(value: string): string | null {
	const bytes = secretBytes(value);
	if (bytes.length < MIN_SECRET_BYTES) {
		return `is ${bytes.length} bytes; it needs at least ${MIN_SECRET_BYTES} random bytes (scripts/generate-secrets.sh makes one)`;
	}
	const lower = value.toLowerCase();
	if (PLACEHOLDER_WORDS.some((word) => lower.includes(word))) {
		return 'looks like a placeholder from an example; generate a random one (scripts/generate-secrets.sh)';
	}
	if (new Set(value).size < 12) return 'repeats too few characters to be random; generate one (scripts/generate-secrets.sh)';
	return null;
}

/** A secret shown in reports and logs: whether it is set and how long, never any of its characters. */
export function maskSecret(value: string | undefined): string {
	return value ? `set (${secretBytes(value).length} bytes, hidden)` : 'not set';
}

/** A postgres:// URL with its password replaced, for reports and logs. */
export function maskDatabaseUrl(url: string): string {
	try {
		const parsed = new URL(url);
		if (parsed.password) parsed.password = '*****';
		return parsed.toString();
	} catch {
		return 'postgres://(unparsable URL hidden)';
	}
}

/** A redis:// URL with its password (and a user name's password part) replaced, for reports and logs. */
export function maskRedisUrl(url: string): string {
	try {
		const parsed = new URL(url);
		if (parsed.password) parsed.password = '*****';
		return parsed.toString();
	} catch {
		return 'redis://(unparsable URL hidden)';
	}
}

/** The password inside a postgres:// URL, if it carries one. */
export function databasePassword(url: string): string | undefined {
	try {
		const password = new URL(url).password;
		return password ? decodeURIComponent(password) : undefined;
	} catch {
		return undefined;
	}
}
