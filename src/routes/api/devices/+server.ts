import { RegisterDeviceRequest } from '#lib/shared/e2ee.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import { unauthenticated } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

/** The signed-in user's current (not removed) devices; `current` marks this session's. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ devices: await event.locals.app.services.devices.listOwn(user.id, event.locals.session?.deviceId ?? null) });
});

/** Registers this session's browser as a device (once per session: 409 device_exists after). */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const session = event.locals.session;
	if (!session) throw unauthenticated();
	const body = await readBody(event, RegisterDeviceRequest);
	return json({ device: await event.locals.app.services.devices.register(user.id, session, body) }, 201);
});
