import * as v from 'valibot';
import { CommunityName, Description } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	return json({ community: await event.locals.app.services.communities.get(user.id, id) });
});

const Patch = v.strictObject({ name: v.optional(CommunityName), description: v.optional(Description) });

export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const body = await readBody(event, Patch);
	return json({ community: await event.locals.app.services.communities.update(user.id, id, body) });
});

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	await event.locals.app.services.communities.delete(user.id, id);
	return json({ ok: true });
});
