import * as v from 'valibot';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({
	status: v.picklist(['resolved', 'dismissed'], 'status is resolved or dismissed.'),
	deleteMessage: v.optional(v.boolean('deleteMessage must be true or false.'), false)
});

/** Closes a report, optionally deleting the reported message. */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Report');
	const body = await readBody(event, Body);
	await event.locals.app.services.reports.resolve(user.id, id, body);
	return json({ ok: true });
});
