import { endpoint, json, requireUser } from '#lib/server/http.ts';
import { notFound } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

/** This session's device and how many one-time prekeys it has left on the server; 404 when it has none. */
export const GET: RequestHandler = endpoint(async (event) => {
	requireUser(event);
	const session = event.locals.session;
	if (!session) throw notFound('Device');
	return json(await event.locals.app.services.devices.current(session));
});
