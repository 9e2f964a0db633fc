import * as v from 'valibot';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import { notFound } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ password: v.optional(v.pipe(v.string(), v.maxLength(256))) });
const CREDENTIAL_ID = /^[A-Za-z0-9_-]{1,1400}$/;

/** Removes one of the account's passkeys; needs the password again. Another account's answers like a missing one. */
export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	if (!CREDENTIAL_ID.test(event.params.id)) throw notFound('Passkey');
	const body = await readBody(event, Body);
	await event.locals.app.services.passkeys.remove({ id: user.id, ip: event.locals.ip }, event.params.id, body.password);
	return json({ ok: true });
});
