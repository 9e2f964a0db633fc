import * as v from 'valibot';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import { requireFullAccount } from '#lib/server/access.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ channels: await event.locals.app.services.channels.listDms(user.id) });
});

const Body = v.strictObject({ userId: v.pipe(v.string(), v.uuid('userId must be a user id.')) });

/** Opens the conversation with another user (creating it the first time). */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	requireFullAccount(user);
	const body = await readBody(event, Body);
	return json({ channel: await event.locals.app.services.channels.openDm(user.id, body.userId.toLowerCase()) });
});
