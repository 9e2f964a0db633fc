import { InviteOptions } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	return json({ invites: await event.locals.app.services.invites.listForCommunity(user, id) });
});

export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const body = await readBody(event, InviteOptions);
	return json({ invite: await event.locals.app.services.invites.create(user, { communityId: id, ...body }) }, 201);
});
