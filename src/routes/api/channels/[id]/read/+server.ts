import * as v from 'valibot';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ seq: v.pipe(v.number(), v.integer(), v.minValue(0)) });

export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	const body = await readBody(event, Body);
	return json({ lastReadSeq: await event.locals.app.services.messages.markRead(user.id, id, body.seq) });
});
