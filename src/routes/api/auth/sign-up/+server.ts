import * as v from 'valibot';
import { DisplayName, InviteCode, Password, Username } from '#lib/shared/validation.ts';
import { setSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { endpoint, json, readBody } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({
	username: Username,
	password: Password,
	displayName: v.optional(DisplayName),
	inviteCode: v.optional(InviteCode)
});

export const POST: RequestHandler = endpoint(async (event) => {
	const body = await readBody(event, Body);
	const { user, session, joinedCommunityId } = await event.locals.app.services.accounts.signUp(body, {
		ip: event.locals.ip,
		userAgent: event.request.headers.get('user-agent') ?? ''
	});
	setSessionCookie(event.cookies, event.locals.app.config, session.token, session.expiresAt);
	return json({ user, joinedCommunityId }, 201);
});
