import * as v from 'valibot';
import { ChannelName, ChannelTopic } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	return json({ channel: await event.locals.app.services.channels.get(user.id, id) });
});

const Patch = v.strictObject({ name: v.optional(ChannelName), topic: v.optional(ChannelTopic) });

export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	const body = await readBody(event, Patch);
	return json({ channel: await event.locals.app.services.channels.update(user.id, id, body) });
});
