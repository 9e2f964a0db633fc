import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** The channel's pinned messages, newest pin first. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	return json(await event.locals.app.services.pins.list(user.id, id));
});
