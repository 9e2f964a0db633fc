import * as v from 'valibot';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

// The admin's own password: risky changes need it again (src/lib/server/auth/reauth.ts).
const Password = v.optional(v.pipe(v.string(), v.maxLength(256)));

const Patch = v.strictObject({
	instanceRole: v.optional(v.picklist(['admin', 'member'], 'The server role is admin or member.')),
	disabled: v.optional(v.boolean('disabled must be true or false.')),
	password: Password
});

/** Disables / re-enables an account or changes its server role; needs the admin's password. */
export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'User');
	const body = await readBody(event, Patch);
	const actor = { ...user, ip: event.locals.ip };
	const admin = event.locals.app.services.userAdmin;
	if (body.instanceRole !== undefined) await admin.setRole(actor, id, body.instanceRole, body.password);
	if (body.disabled !== undefined) await admin.setDisabled(actor, id, body.disabled, body.password);
	return json({ ok: true });
});

const Delete = v.strictObject({ password: Password });

/** Deletes an account for good; needs the admin's password. */
export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'User');
	const body = await readBody(event, Delete);
	await event.locals.app.services.userAdmin.delete({ ...user, ip: event.locals.ip }, id, body.password);
	return json({ ok: true });
});
