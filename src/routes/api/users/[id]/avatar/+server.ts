import { endpoint, idParam, requireUser } from '#lib/server/http.ts';
import { imageResponse } from '#lib/server/image-response.ts';
import type { RequestHandler } from './$types';

/** A person's avatar, for those who share a community or a DM with them (others, and no avatar: 404). */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'User');
	return imageResponse(event, await event.locals.app.services.profiles.avatar(user.id, id), 'private');
});
