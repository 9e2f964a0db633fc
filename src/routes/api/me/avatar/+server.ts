import { AVATAR_MAX_BYTES, AVATAR_MAX_MESSAGE } from '#lib/shared/profile.ts';
import { endpoint, json, readBytesCapped, requireUser } from '#lib/server/http.ts';
import { payloadTooLarge } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

/**
 * Replaces the caller's avatar with the request body's bytes (any Content-Type: the server judges
 * the bytes). The browser crops and re-encodes it square first; refused over 512 KB or when not a
 * PNG, JPEG or WebP (an SVG, also one named .png, is refused).
 */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	// Refuse an announced oversize body before reading it; the length is checked again after.
	if (Number(event.request.headers.get('content-length') ?? '0') > AVATAR_MAX_BYTES) throw payloadTooLarge(AVATAR_MAX_MESSAGE);
	const bytes = await readBytesCapped(event, AVATAR_MAX_BYTES, () => payloadTooLarge(AVATAR_MAX_MESSAGE));
	return json({ profile: await event.locals.app.services.profiles.setAvatar(user.id, bytes) });
});

export const DELETE: RequestHandler = endpoint(async (event) => json({ profile: await event.locals.app.services.profiles.removeAvatar(requireUser(event).id) }));
