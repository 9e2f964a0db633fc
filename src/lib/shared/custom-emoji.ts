// A community's own emoji: the rules the upload form and the API share, and how messages and
// reactions name them (":name:", the same text the sender typed; the text stays end-to-end
// encrypted, only the pictures are served by the server).
import * as v from 'valibot';

/** Largest custom emoji: drawn at 22-48 px, so 256 KB leaves room for a short animated GIF. */
export const CUSTOM_EMOJI_MAX_BYTES = 256 * 1024;
export const CUSTOM_EMOJI_MAX_MESSAGE = 'An emoji can be at most 256 KB.';
export const CUSTOM_EMOJI_TYPE_MESSAGE = 'An emoji must be a PNG, GIF or WebP image.';
/** Per community: a picker row or six, and a bound on what every member's browser may load. */
export const CUSTOM_EMOJI_PER_COMMUNITY_MAX = 50;

export const CUSTOM_EMOJI_NAME = /^[a-z0-9_]{2,32}$/;
export const CustomEmojiName = v.pipe(
	v.string('The emoji name must be text.'),
	v.regex(CUSTOM_EMOJI_NAME, 'Emoji names are 2-32 lower-case letters, digits or underscores.')
);

export type CustomEmojiView = { id: string; name: string; url: string };
export type CustomEmojiList = { emoji: CustomEmojiView[]; max: number };

/** Where a community's emoji is served; the etag makes a replaced picture a new URL. */
export function customEmojiUrl(communityId: string, id: string, etag: string): string {
	return `/api/communities/${communityId}/emoji/${id}?v=${etag}`;
}

/** A reaction or a piece of text that is exactly one custom emoji, ":name:" → its name. */
export function customEmojiName(text: string): string | null {
	const match = /^:([a-z0-9_]{2,32}):$/.exec(text);
	return match ? match[1]! : null;
}
