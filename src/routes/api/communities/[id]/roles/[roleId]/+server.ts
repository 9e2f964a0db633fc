import * as v from 'valibot';
import { PERMISSIONS } from '#lib/shared/permissions.ts';
import { RoleName } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Patch = v.strictObject({
	name: v.optional(RoleName),
	permissions: v.optional(v.pipe(v.array(v.picklist(PERMISSIONS, 'Unknown permission.')), v.maxLength(PERMISSIONS.length * 2)))
});

export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const roleId = idParam(event, 'roleId', 'Role');
	const body = await readBody(event, Patch);
	return json({ role: await event.locals.app.services.roles.update(user.id, id, roleId, body) });
});

/** Members holding the role keep their built-in role. */
export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const roleId = idParam(event, 'roleId', 'Role');
	await event.locals.app.services.roles.delete(user.id, id, roleId);
	return json({ ok: true });
});
