import { StatusInput } from '#lib/shared/profile.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Sets the caller's custom status: an emoji and/or up to 100 characters, until `expiresAt` (null: until cleared). */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, StatusInput);
	return json({ profile: await event.locals.app.services.profiles.setStatus(user.id, body) });
});

export const DELETE: RequestHandler = endpoint(async (event) => json({ profile: await event.locals.app.services.profiles.clearStatus(requireUser(event).id) }));
