import { auditFilter, endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** The community's audit log, newest first; filters: actor, action, target, since, until, before, limit. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	return json({ entries: await event.locals.app.services.auditLog.listForCommunity(user.id, id, auditFilter(event)) });
});
