import * as v from 'valibot';
import { DisplayName, InviteCode } from '#lib/shared/validation.ts';
import { setSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { endpoint, json, readBody } from '#lib/server/http.ts';
import { invalid, notFound } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ displayName: DisplayName });

/**
 * A signed-out visitor joins the invite's community as a guest (display name only). Refused while
 * the instance's guest access is off. Rate-limited with sign-in and sign-up (auth scope).
 */
export const POST: RequestHandler = endpoint(async (event) => {
	const code = v.safeParse(InviteCode, event.params.code);
	if (!code.success) throw notFound('Invite');
	const body = await readBody(event, Body);
	if (event.locals.user) throw invalid('You are signed in already: join with your account.');
	const { user, session, communityId } = await event.locals.app.services.accounts.joinAsGuest(code.output, body.displayName, {
		ip: event.locals.ip,
		userAgent: event.request.headers.get('user-agent') ?? ''
	});
	setSessionCookie(event.cookies, event.locals.app.config, session.token, session.expiresAt);
	return json({ user, communityId }, 201);
});
