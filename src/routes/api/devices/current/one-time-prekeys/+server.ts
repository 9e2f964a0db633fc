import * as v from 'valibot';
import { OneTimePrekey, ONE_TIME_PREKEYS_PER_UPLOAD } from '#lib/shared/e2ee.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import { unauthenticated } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ oneTimePrekeys: v.pipe(v.array(OneTimePrekey), v.minLength(1), v.maxLength(ONE_TIME_PREKEYS_PER_UPLOAD)) });

/** Tops up this device's one-time prekeys (400 past ONE_TIME_PREKEYS_MAX_STORED). */
export const POST: RequestHandler = endpoint(async (event) => {
	requireUser(event);
	const session = event.locals.session;
	if (!session) throw unauthenticated();
	const body = await readBody(event, Body);
	return json(await event.locals.app.services.devices.uploadOneTimePrekeys(session, body.oneTimePrekeys));
});
