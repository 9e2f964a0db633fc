import { clearSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { endpoint, json } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = endpoint(async ({ locals, cookies }) => {
	if (locals.session) await locals.app.services.accounts.signOut(locals.session.id);
	clearSessionCookie(cookies, locals.app.config);
	return json({ ok: true });
});
