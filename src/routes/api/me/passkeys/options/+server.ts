import * as v from 'valibot';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ password: v.optional(v.pipe(v.string(), v.maxLength(256))) });

/**
 * Options for the browser's "create a passkey" prompt, their challenge bound to this session. Needs
 * the password again: a passkey is a way into the account.
 */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, Body);
	const options = await event.locals.app.services.passkeys.registrationOptions(
		{ id: user.id, ip: event.locals.ip, username: user.username, displayName: user.displayName, sessionId: event.locals.session!.id },
		body.password
	);
	return json({ options });
});
