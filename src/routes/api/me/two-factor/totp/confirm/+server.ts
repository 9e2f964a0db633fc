import * as v from 'valibot';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ code: v.pipe(v.string('Enter the 6-digit code from your authenticator app.'), v.maxLength(32, 'Enter the 6-digit code from your authenticator app.')) });

/** The app's first code turns two-factor on; the answer carries the recovery codes, shown this once. */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, Body);
	return json(await event.locals.app.services.twoFactor.confirmSetup({ id: user.id, ip: event.locals.ip }, body.code));
});
