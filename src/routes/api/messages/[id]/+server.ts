import * as v from 'valibot';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Patch = v.strictObject({ payload: v.pipe(v.string(), v.minLength(1, 'A message cannot be empty.')) });

export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	const body = await readBody(event, Patch);
	return json(await event.locals.app.services.messages.edit(user.id, id, body.payload));
});

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	return json(await event.locals.app.services.messages.delete(user.id, id));
});
