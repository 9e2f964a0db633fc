import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Devices of everyone who can read the channel (ChannelDevicesView); 404 for non-readers. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Channel');
	return json(await event.locals.app.services.devices.channelDevices(user.id, id));
});
