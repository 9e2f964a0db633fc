import * as v from 'valibot';
import { Reason, Uuid } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	return json({ bans: await event.locals.app.services.moderation.listBans(user.id, id) });
});

const Body = v.strictObject({
	userId: Uuid,
	reason: v.optional(Reason, ''),
	/** Null or absent: until lifted. At most a year; longer is "until lifted". */
	expiresInHours: v.optional(
		v.nullable(v.pipe(v.number('expiresInHours must be a number.'), v.integer('expiresInHours must be a whole number.'), v.minValue(1, 'A ban lasts at least an hour.'), v.maxValue(24 * 366, 'A timed ban lasts at most a year; leave the expiry empty for a permanent ban.'))),
		null
	)
});

/** Bans a user (removing them if they are a member); needs "ban" and a higher rank. */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const body = await readBody(event, Body);
	const ban = await event.locals.app.services.moderation.ban(user.id, id, body.userId.toLowerCase(), { reason: body.reason, expiresInHours: body.expiresInHours });
	return json({ ban }, 201);
});
