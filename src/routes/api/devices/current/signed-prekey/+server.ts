import * as v from 'valibot';
import { SignedPrekey } from '#lib/shared/e2ee.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import { unauthenticated } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ signedPrekey: SignedPrekey });

/** Replaces this device's signed prekey (rotation); the signature is verified against its identity key. */
export const PUT: RequestHandler = endpoint(async (event) => {
	requireUser(event);
	const session = event.locals.session;
	if (!session) throw unauthenticated();
	const body = await readBody(event, Body);
	await event.locals.app.services.devices.replaceSignedPrekey(session, body.signedPrekey);
	return json({ ok: true });
});
