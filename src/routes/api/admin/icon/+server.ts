import { endpoint, json, readBytesCapped, requireUser } from '#lib/server/http.ts';
import { ICON_MAX_BYTES, ICON_MAX_MESSAGE } from '#lib/server/services/instance.ts';
import { payloadTooLarge } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

/**
 * Replaces the instance icon with the request body's bytes (any Content-Type: the server judges
 * the bytes). Instance owners and admins only; refused when over 256 KB or not PNG/JPEG/WebP.
 */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	// Refuse an announced oversize body before reading it; the length is checked again after.
	if (Number(event.request.headers.get('content-length') ?? '0') > ICON_MAX_BYTES) throw payloadTooLarge(ICON_MAX_MESSAGE);
	const bytes = await readBytesCapped(event, ICON_MAX_BYTES, () => payloadTooLarge(ICON_MAX_MESSAGE));
	return json({ settings: await event.locals.app.services.instance.setIcon(user, bytes) });
});

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ settings: await event.locals.app.services.instance.removeIcon(user) });
});
