// Writing the session and CSRF cookies from SvelteKit requests.
import type { Cookies } from '@sveltejs/kit';
import type { Config } from '../config/config.ts';
import {
	cookiesAreSecure,
	csrfCookieName,
	PASSKEY_SIGN_IN_PATH,
	passkeyCeremonyCookieName,
	PENDING_SIGN_IN_PATH,
	pendingSignInCookieName,
	sessionCookieName
} from './cookies.ts';

export function setSessionCookie(cookies: Cookies, config: Config, token: string, expiresAt: Date): void {
	cookies.set(sessionCookieName(config), token, {
		path: '/',
		httpOnly: true,
		// Lax: the cookie rides along when a person follows a link to the app (invite links), but not
		// on cross-site POSTs; the Origin check and CSRF token cover the rest.
		sameSite: 'lax',
		secure: cookiesAreSecure(config),
		expires: expiresAt
	});
}

export function clearSessionCookie(cookies: Cookies, config: Config): void {
	cookies.delete(sessionCookieName(config), { path: '/', secure: cookiesAreSecure(config) });
}

export function setCsrfCookie(cookies: Cookies, config: Config, token: string): void {
	cookies.set(csrfCookieName(config), token, {
		path: '/',
		httpOnly: true,
		sameSite: 'strict',
		secure: cookiesAreSecure(config)
	});
}

export function setPendingSignInCookie(cookies: Cookies, config: Config, token: string, expiresAt: Date): void {
	cookies.set(pendingSignInCookieName(config), token, {
		path: PENDING_SIGN_IN_PATH,
		httpOnly: true,
		// Strict: the second step is always a same-site fetch from the sign-in page.
		sameSite: 'strict',
		secure: cookiesAreSecure(config),
		expires: expiresAt
	});
}

export function clearPendingSignInCookie(cookies: Cookies, config: Config): void {
	cookies.delete(pendingSignInCookieName(config), { path: PENDING_SIGN_IN_PATH, secure: cookiesAreSecure(config) });
}

/** Scoped to /api/auth/passkey (the options and the answer); lives as long as a challenge. */
export function setPasskeyCeremonyCookie(cookies: Cookies, config: Config, token: string): void {
	cookies.set(passkeyCeremonyCookieName(config), token, {
		path: PASSKEY_SIGN_IN_PATH,
		httpOnly: true,
		sameSite: 'strict',
		secure: cookiesAreSecure(config),
		maxAge: 5 * 60
	});
}

export function clearPasskeyCeremonyCookie(cookies: Cookies, config: Config): void {
	cookies.delete(passkeyCeremonyCookieName(config), { path: PASSKEY_SIGN_IN_PATH, secure: cookiesAreSecure(config) });
}
