import * as v from 'valibot';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ password: v.optional(v.pipe(v.string(), v.maxLength(256))) });

/**
 * Starts setting up an authenticator app: a new secret (as text and as an otpauth:// URI for the QR
 * code), waiting for its first code. Needs the password again: someone at a left-open browser must
 * not be able to tie the account to their own phone.
 */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, Body);
	const setup = await event.locals.app.services.twoFactor.beginSetup({ id: user.id, ip: event.locals.ip, username: user.username }, body.password);
	return json(setup);
});
