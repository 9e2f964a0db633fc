// Session and CSRF tokens, following the Lucia guide: 20 random bytes (160 bits) encoded as
// lower-case base32; the database keeps only the SHA-256 of a session token, so a leaked table
// cannot be replayed as cookies.
import { sha256 } from '@oslojs/crypto/sha2';
import { constantTimeEqual } from '@oslojs/crypto/subtle';
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from '@oslojs/encoding';

export function generateToken(): string {
	const bytes = new Uint8Array(20);
	crypto.getRandomValues(bytes);
	return encodeBase32LowerCaseNoPadding(bytes);
}

export function sessionIdFromToken(token: string): string {
	return encodeHexLowerCase(sha256(new TextEncoder().encode(token)));
}

/** Compares secrets without leaking, through timing, how many leading characters matched. */
export function tokensEqual(a: string, b: string): boolean {
	const left = new TextEncoder().encode(a);
	const right = new TextEncoder().encode(b);
	return left.length === right.length && constantTimeEqual(left, right);
}

export function generateInviteCode(): string {
	// 10 characters of base32: ~50 bits, unguessable at any rate limit while still easy to type.
	return generateToken().slice(0, 10);
}
