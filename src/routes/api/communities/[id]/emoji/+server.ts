import * as v from 'valibot';
import { CUSTOM_EMOJI_MAX_BYTES, CUSTOM_EMOJI_MAX_MESSAGE, CustomEmojiName } from '#lib/shared/custom-emoji.ts';
import { firstIssue } from '#lib/shared/validation.ts';
import { endpoint, idParam, json, readBytesCapped, requireUser } from '#lib/server/http.ts';
import { invalid, payloadTooLarge } from '#lib/server/errors.ts';
import type { RequestHandler } from './$types';

/** The community's own emoji (members). */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	return json(await event.locals.app.services.customEmoji.list(user.id, id));
});

/**
 * Adds an emoji: the picture is the request body (any Content-Type: the server judges the bytes),
 * its name the `name` query parameter. Those who manage the community; 256 KB and 50 at most.
 */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const name = v.safeParse(CustomEmojiName, event.url.searchParams.get('name') ?? '');
	if (Number(event.request.headers.get('content-length') ?? '0') > CUSTOM_EMOJI_MAX_BYTES) throw payloadTooLarge(CUSTOM_EMOJI_MAX_MESSAGE);
	const bytes = await readBytesCapped(event, CUSTOM_EMOJI_MAX_BYTES, () => payloadTooLarge(CUSTOM_EMOJI_MAX_MESSAGE));
	if (!name.success) throw invalid(firstIssue(name.issues));
	return json({ emoji: await event.locals.app.services.customEmoji.add(user.id, id, name.output, bytes) }, 201);
});
