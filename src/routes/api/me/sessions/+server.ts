import { endpoint, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ sessions: await event.locals.app.services.accounts.listSessions(user.id, event.locals.session!.id) });
});
