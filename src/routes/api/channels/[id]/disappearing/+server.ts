import * as v from 'valibot';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ seconds: v.pipe(v.number('seconds must be a number.'), v.integer('seconds must be a whole number.')) });

/** Sets the conversation's disappearing-messages timer (0: off); announced in the conversation. */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	const body = await readBody(event, Body);
	return json(await event.locals.app.services.disappearing.setTimer(user.id, id, body.seconds));
});
