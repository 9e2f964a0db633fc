import * as v from 'valibot';
import { endpoint, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({
	/** Until when nothing notifies (at most a week ahead); null turns do-not-disturb off. */
	until: v.nullable(v.pipe(v.string(), v.isoTimestamp('until must be an ISO timestamp.')))
});
const QUIET_MAX_MS = 7 * 24 * 3600_000;

export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const { until } = await readBody(event, Body);
	const date = until === null ? null : new Date(Math.min(Date.parse(until), Date.now() + QUIET_MAX_MS));
	await event.locals.app.services.push.setQuiet(user.id, date);
	return new Response(null, { status: 204 });
});
