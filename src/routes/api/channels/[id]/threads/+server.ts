import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** The channel's threads the caller follows, most recently active first, with which are unread. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	return json(await event.locals.app.services.threads.followed(user.id, id));
});
