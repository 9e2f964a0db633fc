// The composer's ":shortcode" autocomplete, as plain functions: which ":query" the caret is in,
// which emoji match it, and the text after picking one. The emoji itself goes into the message (so
// into its ciphertext), never the shortcode. The names are GitHub's (gemoji), the ones people type
// on GitHub, Slack and Discord; the list (~340 kB) loads the first time someone types a shortcode.
import type { Gemoji } from 'gemoji';

export type ShortcodeQuery = { start: number; query: string };
/** `url`: a community's own emoji (its `emoji` is the ":name:" text that goes into the message). */
export type EmojiSuggestion = { emoji: string; name: string; url?: string };

/** At most this many suggestions are shown. */
export const EMOJI_SUGGESTIONS_MAX = 8;

/** The ":query" (two characters at least, so "a:b" and times like 10:30 stay quiet) ending at the caret, or null. */
export function shortcodeQueryAt(text: string, caret: number): ShortcodeQuery | null {
	const before = text.slice(0, caret);
	const match = /(^|[\s([{"'>]):([a-z0-9_+-]{2,32})$/i.exec(before);
	if (!match) return null;
	return { start: before.length - match[2]!.length - 1, query: match[2]!.toLowerCase() };
}

let loaded: Promise<readonly Gemoji[]> | null = null;

/** The emoji list, loaded once. */
export function loadEmoji(): Promise<readonly Gemoji[]> {
	loaded ??= import('gemoji').then((module) => module.gemoji);
	return loaded;
}

/** Emoji whose names start with the query first (shortest name first), then those whose names or tags contain it. */
export function emojiSuggestions(query: string, list: readonly Gemoji[]): EmojiSuggestion[] {
	const q = query.toLowerCase();
	const starts: EmojiSuggestion[] = [];
	const contains: EmojiSuggestion[] = [];
	for (const entry of list) {
		const name = entry.names.find((n) => n.startsWith(q));
		if (name) starts.push({ emoji: entry.emoji, name });
		else {
			const other = entry.names.find((n) => n.includes(q)) ?? (entry.tags.some((t) => t.startsWith(q)) ? entry.names[0] : undefined);
			if (other) contains.push({ emoji: entry.emoji, name: other });
		}
	}
	starts.sort((a, b) => a.name.length - b.name.length || a.name.localeCompare(b.name));
	return [...starts, ...contains].slice(0, EMOJI_SUGGESTIONS_MAX);
}

/** The community's own emoji first (names starting with the query, then containing it), then the standard ones. */
export function withCustomSuggestions(query: string, custom: readonly { name: string; url: string }[], standard: EmojiSuggestion[]): EmojiSuggestion[] {
	const q = query.toLowerCase();
	const own = custom
		.filter((e) => e.name.includes(q))
		.sort((a, b) => Number(!a.name.startsWith(q)) - Number(!b.name.startsWith(q)) || a.name.length - b.name.length)
		.map((e) => ({ emoji: `:${e.name}:`, name: e.name, url: e.url }));
	return [...own, ...standard].slice(0, EMOJI_SUGGESTIONS_MAX);
}

/** The text with ":query" replaced by the emoji, and where the caret goes after it. */
export function applyEmoji(text: string, query: ShortcodeQuery, caret: number, emoji: string): { text: string; caret: number } {
	return { text: text.slice(0, query.start) + emoji + text.slice(caret), caret: query.start + emoji.length };
}
