// Issues the double-submit CSRF token: kept in a SameSite=Strict HttpOnly cookie and returned in
// the body, to be echoed in the X-CSRF-Token header of state-changing /api requests.
import { csrfCookieName } from '#lib/server/auth/cookies.ts';
import { setCsrfCookie } from '#lib/server/auth/session-cookie.ts';
import { generateToken } from '#lib/server/auth/tokens.ts';
import { json } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async ({ locals, cookies }) => {
	const config = locals.app.config;
	let token = cookies.get(csrfCookieName(config));
	if (!token || !/^[a-z2-7]{32}$/.test(token)) {
		token = generateToken();
		setCsrfCookie(cookies, config, token);
	}
	return json({ token });
};
