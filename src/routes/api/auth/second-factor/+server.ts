import * as v from 'valibot';
import { pendingSignInCookieName } from '#lib/server/auth/cookies.ts';
import { clearPendingSignInCookie, setSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { endpoint, json, readBody } from '#lib/server/http.ts';
import { AuthenticationAnswer, WEBAUTHN_BODY_MAX_BYTES } from '#lib/server/auth/webauthn-schemas.ts';
import type { RequestHandler } from './$types';

// A code from the authenticator app, a recovery code, or a passkey's answer; the codes' shapes are
// checked in the service, which counts a malformed code as a wrong one.
const Body = v.union(
	[
		v.strictObject({ code: v.pipe(v.string('Enter the 6-digit code from your authenticator app.'), v.maxLength(32, 'Enter the 6-digit code from your authenticator app.')) }),
		v.strictObject({ recoveryCode: v.pipe(v.string('Enter one of your recovery codes.'), v.maxLength(64, 'Enter one of your recovery codes.')) }),
		v.strictObject({ passkey: AuthenticationAnswer })
	],
	'Send code (from your authenticator app), recoveryCode or passkey.'
);

/** The second step of signing in: the pending sign-in's cookie plus a code; answers with the session. */
export const POST: RequestHandler = endpoint(async (event) => {
	const config = event.locals.app.config;
	const body = await readBody(event, Body, WEBAUTHN_BODY_MAX_BYTES);
	const result = await event.locals.app.services.accounts.completeSecondFactor(event.cookies.get(pendingSignInCookieName(config)), body, {
		ip: event.locals.ip,
		userAgent: event.request.headers.get('user-agent') ?? ''
	});
	clearPendingSignInCookie(event.cookies, config);
	setSessionCookie(event.cookies, config, result.session.token, result.session.expiresAt);
	return json({ user: result.user, method: result.method, recoveryCodesLeft: result.recoveryCodesLeft });
});
