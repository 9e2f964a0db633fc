import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Current devices of a user who shares a community or a DM with the caller (or the caller); others 404. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'User');
	return json({ devices: await event.locals.app.services.devices.listUserDevices(user.id, id) });
});
