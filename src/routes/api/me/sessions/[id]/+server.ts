import { notFound } from '#lib/server/errors.ts';
import { clearSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { endpoint, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = event.params.id;
	if (!/^[0-9a-f]{64}$/.test(id)) throw notFound('Session');
	if (!(await event.locals.app.services.accounts.revokeSession(user.id, id))) throw notFound('Session');
	if (id === event.locals.session?.id) clearSessionCookie(event.cookies, event.locals.app.config);
	return json({ ok: true });
});
