import { auditFilter, endpoint, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Instance-level audit entries (settings, accounts, server invites), newest first, filterable. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ entries: await event.locals.app.services.auditLog.listForInstance(user, auditFilter(event)) });
});
