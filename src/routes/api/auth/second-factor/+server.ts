import * as v from 'valibot';
import { pendingSignInCookieName } from '#lib/server/auth/cookies.ts';
import { clearPendingSignInCookie, setSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { endpoint, json, readBody } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

// Either a code from the authenticator app or a recovery code; the shapes are checked in the
// service, which counts a malformed code as a wrong one.
const Body = v.union(
	[
		v.strictObject({ code: v.pipe(v.string('Enter the 6-digit code from your authenticator app.'), v.maxLength(32, 'Enter the 6-digit code from your authenticator app.')) }),
		v.strictObject({ recoveryCode: v.pipe(v.string('Enter one of your recovery codes.'), v.maxLength(64, 'Enter one of your recovery codes.')) })
	],
	'Send either code (from your authenticator app) or recoveryCode.'
);

/** The second step of signing in: the pending sign-in's cookie plus a code; answers with the session. */
export const POST: RequestHandler = endpoint(async (event) => {
	const config = event.locals.app.config;
	const body = await readBody(event, Body);
	const result = await event.locals.app.services.accounts.completeSecondFactor(event.cookies.get(pendingSignInCookieName(config)), body, {
		ip: event.locals.ip,
		userAgent: event.request.headers.get('user-agent') ?? ''
	});
	clearPendingSignInCookie(event.cookies, config);
	setSessionCookie(event.cookies, config, result.session.token, result.session.expiresAt);
	return json({ user: result.user, method: result.method, recoveryCodesLeft: result.recoveryCodesLeft });
});
