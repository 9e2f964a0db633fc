import * as v from 'valibot';
import { DisplayName } from '#lib/shared/validation.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => json({ user: requireUser(event) }));

const Patch = v.strictObject({ displayName: DisplayName });

export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, Patch);
	return json({ user: await event.locals.app.services.accounts.updateProfile(user.id, body) });
});
