import * as v from 'valibot';
import { Reason } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

// Four weeks: longer than that is what bans are for.
const TIMEOUT_MAX_MINUTES = 28 * 24 * 60;

const Body = v.strictObject({
	minutes: v.pipe(
		v.number('minutes must be a number.'),
		v.integer('minutes must be a whole number.'),
		v.minValue(0, 'minutes cannot be negative.'),
		v.maxValue(TIMEOUT_MAX_MINUTES, `A timeout lasts at most ${TIMEOUT_MAX_MINUTES} minutes (4 weeks).`)
	),
	reason: v.optional(Reason, '')
});

/** Stops a member from sending for `minutes` (0 ends it); needs "timeout" and a higher rank. */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const targetId = idParam(event, 'userId', 'Member');
	const body = await readBody(event, Body);
	return json(await event.locals.app.services.moderation.timeout(user.id, id, targetId, body));
});
