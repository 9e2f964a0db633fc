import * as v from 'valibot';
import { Reason } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({
	reason: v.pipe(Reason, v.minLength(1, 'Say briefly what is wrong with this message.')),
	/** What the reporter's device shows (the server cannot read encrypted messages). */
	forwardedContent: v.pipe(v.string(), v.maxLength(20_000, 'The forwarded message is too long.'))
});

/** Reports a community message to its moderators. */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Message');
	const body = await readBody(event, Body);
	return json({ report: await event.locals.app.services.reports.create(user.id, id, body) }, 201);
});
