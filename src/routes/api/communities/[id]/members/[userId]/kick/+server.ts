import * as v from 'valibot';
import { Reason } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ reason: v.optional(Reason, '') });

/** Removes a member (they may rejoin with a new invite); needs "kick" and a higher rank. */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const targetId = idParam(event, 'userId', 'Member');
	const body = await readBody(event, Body);
	await event.locals.app.services.moderation.kick(user.id, id, targetId, body.reason);
	return json({ ok: true });
});
