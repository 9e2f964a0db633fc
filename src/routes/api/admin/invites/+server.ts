import { InviteOptions } from '#lib/shared/validation.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Instance invites admit sign-ups on invite-only servers; instance owners and admins manage them. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ invites: await event.locals.app.services.invites.listInstance(user) });
});

export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, InviteOptions);
	return json({ invite: await event.locals.app.services.invites.create(user, { communityId: null, ...body }) }, 201);
});
