import * as v from 'valibot';
import type { TwoFactorOverview } from '#lib/shared/api-types.ts';
import { standingOf } from '#lib/server/auth/two-factor-policy.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** The account's second factor and what the server requires of it. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const app = event.locals.app;
	const status = await app.services.twoFactor.status(user.id);
	const standing = standingOf({ ...user, twoFactor: status.enabled }, app.services.instance.twoFactorPolicy());
	const overview: TwoFactorOverview = { ...status, required: standing.required, deadline: standing.deadline?.toISOString() ?? null, blocked: standing.blocked };
	return json({ twoFactor: overview });
});

const Disable = v.strictObject({ password: v.optional(v.pipe(v.string(), v.maxLength(256))) });

/** Turns two-factor off (authenticator app and recovery codes); needs the password again. */
export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, Disable);
	await event.locals.app.services.twoFactor.disable({ id: user.id, ip: event.locals.ip }, body.password);
	return json({ ok: true });
});
