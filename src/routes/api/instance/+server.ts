import * as v from 'valibot';
import { RegistrationMode } from '#lib/shared/validation.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Public: the sign-up page needs the instance name and whether registration is open. */
export const GET: RequestHandler = endpoint(async ({ locals }) => json(await locals.app.services.instance.info()));

const Patch = v.strictObject({
	name: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1, 'The server name cannot be empty.'), v.maxLength(64))),
	registrationMode: v.optional(RegistrationMode)
});

export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, Patch);
	await event.locals.app.services.instance.update(user, body);
	return json(await event.locals.app.services.instance.info());
});
