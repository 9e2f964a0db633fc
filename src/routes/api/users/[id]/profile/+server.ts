import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** A person's profile card (avatar, bio, pronouns, status) for those who share a community or a DM with them; others 404. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'User');
	return json({ profile: await event.locals.app.services.profiles.of(user.id, id) });
});
