import * as v from 'valibot';
import { HISTORY_PAGE_MAX } from '#lib/shared/limits.ts';
import { Mentions } from '#lib/shared/mentions.ts';
import { endpoint, idParam, intQuery, json, readBody, requireUser } from '#lib/server/http.ts';
import { invalid } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

/** History: ?before=<seq> pages back, ?after=<seq> pages forward, neither gives the newest page. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	const before = intQuery(event, 'before', 0, Number.MAX_SAFE_INTEGER);
	const after = intQuery(event, 'after', 0, Number.MAX_SAFE_INTEGER);
	if (before !== undefined && after !== undefined) throw invalid('Use either before or after, not both.');
	const limit = intQuery(event, 'limit', 1, HISTORY_PAGE_MAX) ?? 50;
	return json(await event.locals.app.services.messages.history(user.id, id, { before, after, limit }));
});

const Body = v.strictObject({
	clientId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{8,64}$/, 'clientId must be 8-64 url-safe characters.')),
	payload: v.pipe(v.string(), v.minLength(1, 'A message cannot be empty.')),
	replyToId: v.optional(v.pipe(v.string(), v.uuid('replyToId must be a message id.'))),
	mentions: v.optional(Mentions),
	threadRootId: v.optional(v.pipe(v.string(), v.uuid('threadRootId must be a message id.')))
});

/** Sends a message (the same operation as the /ws message.send frame, for scripts and bots). */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	const body = await readBody(event, Body);
	const result = await event.locals.app.services.messages.send({ userId: user.id, channelId: id, ...body });
	return json(result, result.duplicate ? 200 : 201);
});
