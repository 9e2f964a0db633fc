import { pendingSignInCookieName } from '#lib/server/auth/cookies.ts';
import { endpoint, json } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/**
 * Options for answering the pending sign-in with a passkey: its challenge is bound to the pending
 * sign-in (whose cookie is scoped to /api/auth/second-factor, so it reaches this path too).
 */
export const POST: RequestHandler = endpoint(async (event) => {
	const token = event.cookies.get(pendingSignInCookieName(event.locals.app.config));
	return json({ options: await event.locals.app.services.twoFactor.passkeyOptions(token) });
});
