import * as v from 'valibot';
import { setSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { endpoint, json, readBody } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

// Deliberately looser than the sign-up rules: an old account must still be able to sign in if the
// rules tighten, and a malformed username simply fails like a wrong password.
const Body = v.strictObject({
	username: v.pipe(v.string(), v.trim(), v.toLowerCase(), v.minLength(1, 'Enter your username.'), v.maxLength(64)),
	password: v.pipe(v.string(), v.minLength(1, 'Enter your password.'), v.maxLength(256))
});

export const POST: RequestHandler = endpoint(async (event) => {
	const body = await readBody(event, Body);
	const { user, session } = await event.locals.app.services.accounts.signIn(body, {
		ip: event.locals.ip,
		userAgent: event.request.headers.get('user-agent') ?? ''
	});
	setSessionCookie(event.cookies, event.locals.app.config, session.token, session.expiresAt);
	return json({ user });
});
