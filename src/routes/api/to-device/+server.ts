import { SendToDeviceRequest } from '#lib/shared/e2ee.ts';
import { endpoint, intQuery, json, readBody, requireUser } from '#lib/server/http.ts';
import { unauthenticated } from '#lib/server/errors.ts';
import { TO_DEVICE_PAGE_DEFAULT, TO_DEVICE_PAGE_MAX } from '#lib/server/services/devices.ts';
import type { RequestHandler } from './$types';

// A batch of TO_DEVICE_BATCH_MAX bodies (sender-key distribution to a large channel) is far above
// the API's usual JSON limit; this bounds it at a few MiB.
const TO_DEVICE_REQUEST_MAX_BYTES = 4 * 1024 * 1024;

/** Queues pairwise ciphertext for devices (sent as this session's device); pushed live over /ws. */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const session = event.locals.session;
	if (!session) throw unauthenticated();
	const body = await readBody(event, SendToDeviceRequest, TO_DEVICE_REQUEST_MAX_BYTES);
	return json(await event.locals.app.services.devices.sendToDevice(user.id, session, body.messages));
});

/** This device's queued messages with id > after, oldest first. */
export const GET: RequestHandler = endpoint(async (event) => {
	requireUser(event);
	const session = event.locals.session;
	if (!session) throw unauthenticated();
	const after = intQuery(event, 'after', 0, Number.MAX_SAFE_INTEGER) ?? 0;
	const limit = intQuery(event, 'limit', 1, TO_DEVICE_PAGE_MAX) ?? TO_DEVICE_PAGE_DEFAULT;
	return json({ messages: await event.locals.app.services.devices.fetchToDevice(session, after, limit) });
});
