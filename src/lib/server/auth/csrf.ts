// CSRF tokens in the "signed double-submit cookie" form OWASP recommends over the naive one: the
// token is a random value plus an HMAC (keyed by APP_SECRET) over that value and the session it was
// issued for. A token planted by someone else (e.g. a cookie set from a sibling subdomain over plain
// http) or copied from another session does not verify, and a signed-out token stops working at
// sign-in. The token still travels twice (cookie and header) and the Origin is still checked.
import { createHmac } from 'node:crypto';
import { generateToken, sessionIdFromToken, tokensEqual } from './tokens.ts';

const TOKEN_SHAPE = /^[a-z2-7]{32}\.[A-Za-z0-9_-]{43}$/;

/** What a token is bound to: the session cookie's hash, or nothing before sign-in. */
export function csrfBinding(sessionToken: string | undefined): string {
	return sessionToken ? sessionIdFromToken(sessionToken) : '';
}

function signature(secret: Uint8Array, random: string, binding: string): string {
	return createHmac('sha256', secret).update(`hearth-csrf\0${binding}\0${random}`).digest('base64url');
}

export function issueCsrfToken(secret: Uint8Array, binding: string): string {
	const random = generateToken();
	return `${random}.${signature(secret, random, binding)}`;
}

export function csrfTokenValid(secret: Uint8Array, binding: string, token: string | undefined): token is string {
	if (!token || !TOKEN_SHAPE.test(token)) return false;
	const [random, mac] = token.split('.') as [string, string];
	return tokensEqual(mac, signature(secret, random, binding));
}
