import { endpoint, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** The people the caller blocked. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ users: await event.locals.app.services.blocks.list(user.id) });
});
