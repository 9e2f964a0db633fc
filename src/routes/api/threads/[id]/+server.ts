import { THREAD_PAGE_MAX } from '#lib/shared/limits.ts';
import { endpoint, idParam, intQuery, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** A thread: its root message and the newest replies (?before=<seq> pages back), with the caller's follow state. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	const before = intQuery(event, 'before', 0, Number.MAX_SAFE_INTEGER);
	const limit = intQuery(event, 'limit', 1, THREAD_PAGE_MAX);
	return json(await event.locals.app.services.threads.page(user.id, id, { before, limit }));
});
