// The reactions offered in the picker, with names screen readers can say. Any other key (from
// another client) is shown as it is.
export const QUICK_REACTIONS = [
	{ key: '👍', name: 'Thumbs up' },
	{ key: '❤️', name: 'Heart' },
	{ key: '😂', name: 'Laughing' },
	{ key: '🎉', name: 'Party' },
	{ key: '😮', name: 'Surprised' },
	{ key: '😢', name: 'Sad' },
	{ key: '🙏', name: 'Thank you' },
	{ key: '👀', name: 'Eyes' },
	{ key: '🔥', name: 'Fire' },
	{ key: '✅', name: 'Check mark' },
	{ key: '💯', name: 'Hundred' },
	{ key: '🚀', name: 'Rocket' }
] as const;

const NAMES = new Map<string, string>(QUICK_REACTIONS.map((r) => [r.key, r.name]));

export function reactionName(key: string): string {
	return NAMES.get(key) ?? key;
}

// Up to this many emoji alone in a message are shown large, as people expect from chat apps.
const JUMBO_MAX = 3;

/** True when the text is nothing but a few emoji. */
export function isJumboEmoji(text: string): boolean {
	const trimmed = text.trim();
	if (!trimmed || trimmed.length > 40) return false;
	if (!/^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0f|\s)+$/u.test(trimmed)) return false;
	if (/^[\d#*\s]+$/u.test(trimmed)) return false; // digits are Emoji_Component too
	const segments = [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(trimmed.replace(/\s+/g, ''))];
	return segments.length <= JUMBO_MAX;
}
