import * as v from 'valibot';
import { ChannelName, ChannelTopic, SlowModeSeconds } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	return json({ channel: await event.locals.app.services.channels.get(user.id, id) });
});

const Patch = v.strictObject({
	name: v.optional(ChannelName),
	topic: v.optional(ChannelTopic),
	slowModeSeconds: v.optional(SlowModeSeconds),
	archived: v.optional(v.boolean('archived must be true or false.'))
});

export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	const body = await readBody(event, Patch);
	return json({ channel: await event.locals.app.services.channels.update(user.id, id, body) });
});
