import { setPasskeyCeremonyCookie } from '#lib/server/auth/session-cookie.ts';
import { generateToken } from '#lib/server/auth/tokens.ts';
import { endpoint, json } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Options for signing in with a passkey; the challenge is bound to a cookie this answer sets. */
export const POST: RequestHandler = endpoint(async (event) => {
	const token = generateToken();
	const options = await event.locals.app.services.passkeys.signInOptions(token);
	setPasskeyCeremonyCookie(event.cookies, event.locals.app.config, token);
	return json({ options });
});
