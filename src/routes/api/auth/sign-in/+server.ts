import * as v from 'valibot';
import { setPendingSignInCookie, setSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { endpoint, json, readBody } from '#lib/server/http.ts';
import type { SecondFactorChallenge } from '#lib/shared/api-types.ts';
import type { RequestHandler } from './$types';

// Deliberately looser than the sign-up rules: an old account must still be able to sign in if the
// rules tighten, and a malformed username simply fails like a wrong password.
const Body = v.strictObject({
	username: v.pipe(v.string(), v.trim(), v.toLowerCase(), v.minLength(1, 'Enter your username.'), v.maxLength(64)),
	password: v.pipe(v.string(), v.minLength(1, 'Enter your password.'), v.maxLength(256))
});

/** A session, or (with a second factor) a pending sign-in that POST /api/auth/second-factor completes. */
export const POST: RequestHandler = endpoint(async (event) => {
	const body = await readBody(event, Body);
	const result = await event.locals.app.services.accounts.signIn(body, {
		ip: event.locals.ip,
		userAgent: event.request.headers.get('user-agent') ?? ''
	});
	if ('pending' in result) {
		setPendingSignInCookie(event.cookies, event.locals.app.config, result.pending.token, result.pending.expiresAt);
		const methods: SecondFactorChallenge['secondFactor']['methods'] = ['totp', 'recovery_code', ...(result.pending.passkey ? (['passkey'] as const) : [])];
		const challenge: SecondFactorChallenge = { secondFactor: { methods, expiresAt: result.pending.expiresAt.toISOString() } };
		return json(challenge);
	}
	setSessionCookie(event.cookies, event.locals.app.config, result.session.token, result.session.expiresAt);
	return json({ user: result.user });
});
