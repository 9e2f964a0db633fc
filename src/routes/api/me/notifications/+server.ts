import { endpoint, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** This account's notification settings, and whether this browser has a push subscription. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json(await event.locals.app.services.push.settings(user.id, event.locals.session?.deviceId ?? null));
});
