import * as v from 'valibot';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import { unauthenticated } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ upTo: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)) });

/** Deletes this device's queued messages with id <= upTo (they were received and processed). */
export const POST: RequestHandler = endpoint(async (event) => {
	requireUser(event);
	const session = event.locals.session;
	if (!session) throw unauthenticated();
	const body = await readBody(event, Body);
	return json(await event.locals.app.services.devices.ackToDevice(session, body.upTo));
});
