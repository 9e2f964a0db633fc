import * as v from 'valibot';
import { Uuid } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ channelIds: v.pipe(v.array(Uuid), v.maxLength(500)) });

/** The community's channels in their new order (every channel once). Needs "manage channels". */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const body = await readBody(event, Body);
	return json({ channels: await event.locals.app.services.channels.reorder(user.id, id, body.channelIds.map((c) => c.toLowerCase())) });
});
