// Cookie names and attributes, shared by SvelteKit (HTTP) and the companion server (/ws upgrade).
import type { Config } from '../config/config.ts';

/** Cookies are Secure whenever the public origin is https (always in production). */
export function cookiesAreSecure(config: Pick<Config, 'origin' | 'env'>): boolean {
	return config.env === 'production' || (config.origin?.startsWith('https://') ?? false);
}

// The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and Path=/,
// so a sibling subdomain cannot plant or overwrite it. It requires https, hence the plain fallback.
export function sessionCookieName(config: Pick<Config, 'origin' | 'env'>): string {
	return cookiesAreSecure(config) ? '__Host-hearth_session' : 'hearth_session';
}

/**
 * The pending sign-in (password right, second factor due). Scoped to the one path that reads it,
 * so browsers send it nowhere else; that rules out the __Host- prefix (it needs Path=/), and
 * __Secure- still makes browsers refuse it over plain http.
 */
export const PENDING_SIGN_IN_PATH = '/api/auth/second-factor';
export function pendingSignInCookieName(config: Pick<Config, 'origin' | 'env'>): string {
	return cookiesAreSecure(config) ? '__Secure-hearth_pending_sign_in' : 'hearth_pending_sign_in';
}

/** The browser that asked for passkey sign-in options: the challenge is bound to this cookie's hash. */
export const PASSKEY_SIGN_IN_PATH = '/api/auth/passkey';
export function passkeyCeremonyCookieName(config: Pick<Config, 'origin' | 'env'>): string {
	return cookiesAreSecure(config) ? '__Secure-hearth_passkey_sign_in' : 'hearth_passkey_sign_in';
}

export function csrfCookieName(config: Pick<Config, 'origin' | 'env'>): string {
	return cookiesAreSecure(config) ? '__Host-hearth_csrf' : 'hearth_csrf';
}

/** Reads one cookie from a raw Cookie header (the /ws upgrade has no SvelteKit cookie helper). */
export function readCookie(header: string | undefined, name: string): string | undefined {
	if (!header) return undefined;
	for (const part of header.split(';')) {
		const index = part.indexOf('=');
		if (index === -1) continue;
		if (part.slice(0, index).trim() !== name) continue;
		const value = part.slice(index + 1).trim();
		try {
			return decodeURIComponent(value);
		} catch {
			return undefined;
		}
	}
	return undefined;
}

