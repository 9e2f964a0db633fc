// Issues the CSRF token: kept in a SameSite=Strict HttpOnly cookie and returned in the body, to be
// echoed in the X-CSRF-Token header of state-changing /api requests. The token is signed for the
// current session (see auth/csrf.ts), so a new one is issued after sign-in.
import { csrfCookieName, sessionCookieName } from '#lib/server/auth/cookies.ts';
import { csrfBinding, csrfTokenValid, issueCsrfToken } from '#lib/server/auth/csrf.ts';
import { setCsrfCookie } from '#lib/server/auth/session-cookie.ts';
import { json } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async ({ locals, cookies }) => {
	const config = locals.app.config;
	// Bound to the session cookie as the browser sent it, exactly as the check in hooks.server.ts reads it.
	const binding = csrfBinding(cookies.get(sessionCookieName(config)));
	let token = cookies.get(csrfCookieName(config));
	if (!csrfTokenValid(config.appSecret, binding, token)) {
		token = issueCsrfToken(config.appSecret, binding);
		setCsrfCookie(cookies, config, token);
	}
	return json({ token });
};
