import * as v from 'valibot';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ password: v.optional(v.pipe(v.string(), v.maxLength(256))) });

/** Resets the account's second factor (it lost its phone and its recovery codes); needs the admin's password. */
export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'User');
	const body = await readBody(event, Body);
	await event.locals.app.services.userAdmin.resetTwoFactor({ ...user, ip: event.locals.ip }, id, body.password);
	return json({ ok: true });
});
