import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Lifts a ban; needs "ban". */
export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const targetId = idParam(event, 'userId', 'Ban');
	await event.locals.app.services.moderation.unban(user.id, id, targetId);
	return json({ ok: true });
});
