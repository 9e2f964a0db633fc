import * as v from 'valibot';
import { PERMISSIONS } from '#lib/shared/permissions.ts';
import { RoleName } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	return json({ roles: await event.locals.app.services.roles.list(user.id, id) });
});

const Body = v.strictObject({ name: RoleName, permissions: v.pipe(v.array(v.picklist(PERMISSIONS, 'Unknown permission.')), v.maxLength(PERMISSIONS.length * 2)) });

/** A custom role; needs "manage roles", and only permissions the caller holds. */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const body = await readBody(event, Body);
	return json({ role: await event.locals.app.services.roles.create(user.id, id, body) }, 201);
});
