import * as v from 'valibot';
import { CommunityName, Description } from '#lib/shared/validation.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import { requireFullAccount } from '#lib/server/access.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ communities: await event.locals.app.services.communities.listForUser(user.id) });
});

const Body = v.strictObject({ name: CommunityName, description: v.optional(Description, '') });

export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	requireFullAccount(user);
	const body = await readBody(event, Body);
	return json({ community: await event.locals.app.services.communities.create(user.id, body) }, 201);
});
