import * as v from 'valibot';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ password: v.optional(v.pipe(v.string(), v.maxLength(256))) });

/** Ten new recovery codes (the old ones stop working), shown this once; needs the password again. */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, Body);
	return json(await event.locals.app.services.twoFactor.regenerateRecoveryCodes({ id: user.id, ip: event.locals.ip }, body.password));
});
