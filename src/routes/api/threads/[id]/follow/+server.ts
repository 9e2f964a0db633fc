import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Follows the thread: its new replies mark it unread for the caller. */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	return json(await event.locals.app.services.threads.follow(user.id, id, true));
});

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	return json(await event.locals.app.services.threads.follow(user.id, id, false));
});
