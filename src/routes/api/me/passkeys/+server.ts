import * as v from 'valibot';
import { RegistrationAnswer, WEBAUTHN_BODY_MAX_BYTES } from '#lib/server/auth/webauthn-schemas.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** The account's passkeys, with when each was added and last used. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ passkeys: await event.locals.app.services.passkeys.list(user.id) });
});

const Body = v.strictObject({
	name: v.pipe(v.string('Name the passkey.'), v.trim(), v.minLength(1, 'Name the passkey.'), v.maxLength(64, 'A passkey name is at most 64 characters.')),
	response: RegistrationAnswer
});

/** Stores a new passkey: the browser's answer to the options this session asked for (POST /api/me/passkeys/options). */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, Body, WEBAUTHN_BODY_MAX_BYTES);
	const passkey = await event.locals.app.services.passkeys.register({ id: user.id, sessionId: event.locals.session!.id }, body.name, body.response);
	return json({ passkey }, 201);
});
