import { endpoint, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const revoked = await event.locals.app.services.accounts.revokeOtherSessions(user.id, event.locals.session!.id);
	return json({ revoked });
});
