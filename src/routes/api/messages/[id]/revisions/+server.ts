import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** The earlier versions of an edited message (ciphertext), oldest first. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	return json(await event.locals.app.services.messages.revisions(user.id, id));
});
