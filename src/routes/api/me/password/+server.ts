import * as v from 'valibot';
import { Password } from '#lib/shared/validation.ts';
import { setSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({
	currentPassword: v.pipe(v.string(), v.minLength(1, 'Enter your current password.'), v.maxLength(256)),
	newPassword: Password
});

/** Changes the password and signs out every session; this device gets a fresh one. */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, Body);
	const session = await event.locals.app.services.accounts.changePassword(user.id, body.currentPassword, body.newPassword, {
		ip: event.locals.ip,
		userAgent: event.request.headers.get('user-agent') ?? ''
	}, event.locals.session?.deviceId ?? null);
	setSessionCookie(event.cookies, event.locals.app.config, session.token, session.expiresAt);
	return json({ ok: true });
});
