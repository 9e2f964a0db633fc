import * as v from 'valibot';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ seq: v.pipe(v.number(), v.integer(), v.minValue(0)) });

/** Marks the thread read up to seq (a channel seq; never moves back). */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	const body = await readBody(event, Body);
	return json(await event.locals.app.services.threads.markRead(user.id, id, body.seq));
});
