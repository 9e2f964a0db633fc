import * as v from 'valibot';
import { BUILT_IN_ROLES } from '#lib/shared/permissions.ts';
import { Uuid } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Patch = v.strictObject({
	role: v.optional(v.picklist(BUILT_IN_ROLES, 'Unknown role.')),
	customRoleId: v.optional(v.nullable(Uuid))
});

/** Changes a member's built-in and/or custom role; needs "manage roles" and a higher rank. */
export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const targetId = idParam(event, 'userId', 'Member');
	const body = await readBody(event, Patch);
	await event.locals.app.services.roles.assign(user.id, id, targetId, { ...body, customRoleId: body.customRoleId?.toLowerCase() ?? body.customRoleId });
	return json({ ok: true });
});
