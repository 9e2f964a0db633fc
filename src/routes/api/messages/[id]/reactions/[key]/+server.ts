import { invalid } from '#lib/server/errors.ts';
import { endpoint, idParam, json, NUL_REFUSED, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

function reactionKey(raw: string): string {
	if (raw.length < 1 || raw.length > 128) throw invalid('Reaction keys are 1-128 characters.');
	if (raw.includes('\u0000')) throw invalid(NUL_REFUSED);
	return raw;
}

export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	return json(await event.locals.app.services.messages.react(user.id, id, reactionKey(event.params.key), true));
});

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	return json(await event.locals.app.services.messages.react(user.id, id, reactionKey(event.params.key), false));
});
