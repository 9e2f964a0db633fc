import { endpoint, idParam, requireUser } from '#lib/server/http.ts';
import { imageResponse } from '#lib/server/image-response.ts';
import type { RequestHandler } from './$types';

/** The emoji's picture, for members of the community (served like the instance icon, privately). */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const emojiId = idParam(event, 'emojiId', 'Emoji');
	return imageResponse(event, await event.locals.app.services.customEmoji.image(user.id, id, emojiId), 'private');
});

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const emojiId = idParam(event, 'emojiId', 'Emoji');
	await event.locals.app.services.customEmoji.remove(user.id, id, emojiId);
	return new Response(null, { status: 204 });
});
