import * as v from 'valibot';
import { passkeyCeremonyCookieName } from '#lib/server/auth/cookies.ts';
import { clearPasskeyCeremonyCookie, setSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { AuthenticationAnswer, WEBAUTHN_BODY_MAX_BYTES } from '#lib/server/auth/webauthn-schemas.ts';
import { endpoint, json, readBody } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ response: AuthenticationAnswer });

/** Signs in with a passkey alone: the browser's answer to the options from POST /api/auth/passkey/options. */
export const POST: RequestHandler = endpoint(async (event) => {
	const config = event.locals.app.config;
	const body = await readBody(event, Body, WEBAUTHN_BODY_MAX_BYTES);
	const ceremony = event.cookies.get(passkeyCeremonyCookieName(config));
	// The challenge is spent whatever the outcome: the next try asks for new options.
	clearPasskeyCeremonyCookie(event.cookies, config);
	const { user, session } = await event.locals.app.services.accounts.signInWithPasskey(ceremony, body.response, {
		ip: event.locals.ip,
		userAgent: event.request.headers.get('user-agent') ?? ''
	});
	setSessionCookie(event.cookies, config, session.token, session.expiresAt);
	return json({ user });
});
