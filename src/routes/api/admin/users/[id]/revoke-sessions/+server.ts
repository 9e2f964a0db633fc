import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Signs the account out everywhere (its open sockets close at once). */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'User');
	return json({ revoked: await event.locals.app.services.userAdmin.revokeSessions({ ...user, ip: event.locals.ip }, id) });
});
