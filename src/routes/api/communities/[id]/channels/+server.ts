import * as v from 'valibot';
import { ChannelName, ChannelTopic } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	return json({ channels: await event.locals.app.services.channels.listForCommunity(user.id, id) });
});

// A voice channel is a text channel with a call attached (server/calls/); its kind never changes.
const Body = v.strictObject({ name: ChannelName, topic: v.optional(ChannelTopic, ''), kind: v.optional(v.picklist(['text', 'voice']), 'text') });

export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const body = await readBody(event, Body);
	return json({ channel: await event.locals.app.services.channels.create(user.id, id, body) }, 201);
});
