import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Pins the message to its channel's pinned list. */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	return json(await event.locals.app.services.pins.set(user.id, id, true));
});

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	return json(await event.locals.app.services.pins.set(user.id, id, false));
});
