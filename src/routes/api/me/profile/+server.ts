import { ProfilePatch } from '#lib/shared/profile.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** The caller's own profile: avatar URL, bio, pronouns, chosen presence, custom status. */
export const GET: RequestHandler = endpoint(async (event) => json({ profile: await event.locals.app.services.profiles.own(requireUser(event).id) }));

/** Changes bio and/or pronouns (public profile data: see docs/encryption.md). */
export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, ProfilePatch);
	return json({ profile: await event.locals.app.services.profiles.update(user.id, body) });
});
