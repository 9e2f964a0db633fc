import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Blocks this person: no direct messages, mentions or notifications from them. */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'User');
	await event.locals.app.services.blocks.block(user.id, id);
	return json({ blocked: true });
});

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'User');
	await event.locals.app.services.blocks.unblock(user.id, id);
	return json({ blocked: false });
});
