// The emoji picker's catalogue, as plain functions over the gemoji list the :shortcode:
// autocomplete already loads: categories in Unicode's order, search by name, tag and description,
// skin tones, and the person's recently used emoji (kept in this browser).
import type { Gemoji } from 'gemoji';

/** `url`: a community's own emoji, whose `emoji` is its ":name:" text. */
export type PickerEmoji = { emoji: string; name: string; label: string; category: string; url?: string };
export type EmojiCategory = { id: string; label: string; icon: string; emoji: PickerEmoji[] };

/** Short labels and tab icons for gemoji's categories (its own names are long for a tab). */
const CATEGORY_META: Record<string, { label: string; icon: string }> = {
	'Smileys & Emotion': { label: 'Smileys', icon: '😀' },
	'People & Body': { label: 'People', icon: '👋' },
	'Animals & Nature': { label: 'Nature', icon: '🐻' },
	'Food & Drink': { label: 'Food', icon: '🍔' },
	'Travel & Places': { label: 'Travel', icon: '✈️' },
	Activities: { label: 'Activities', icon: '⚽' },
	Objects: { label: 'Objects', icon: '💡' },
	Symbols: { label: 'Symbols', icon: '❤️' },
	Flags: { label: 'Flags', icon: '🏁' }
};

export function toPickerEmoji(entry: Gemoji): PickerEmoji {
	const label = entry.description ? entry.description.charAt(0).toUpperCase() + entry.description.slice(1) : entry.names[0]!;
	return { emoji: entry.emoji, name: entry.names[0]!, label, category: entry.category };
}

/** The list in categories, in gemoji's (Unicode's) order. */
export function categorise(list: readonly Gemoji[]): EmojiCategory[] {
	const byCategory = new Map<string, PickerEmoji[]>();
	for (const entry of list) {
		const bucket = byCategory.get(entry.category) ?? [];
		bucket.push(toPickerEmoji(entry));
		byCategory.set(entry.category, bucket);
	}
	return [...byCategory].map(([id, emoji]) => ({ id, label: CATEGORY_META[id]?.label ?? id, icon: CATEGORY_META[id]?.icon ?? emoji[0]!.emoji, emoji }));
}

/** Emoji whose names start with every word of the query first, then those whose names, tags or descriptions contain them. */
export function searchEmoji(query: string, list: readonly Gemoji[], max = 120): PickerEmoji[] {
	const words = query.toLowerCase().trim().split(/[\s_:]+/).filter(Boolean);
	if (words.length === 0) return [];
	const starts: { entry: Gemoji; length: number }[] = [];
	const contains: Gemoji[] = [];
	for (const entry of list) {
		const haystack = [...entry.names, ...entry.tags, entry.description.toLowerCase()];
		if (!words.every((w) => haystack.some((h) => h.includes(w)))) continue;
		const name = entry.names.find((n) => n.startsWith(words[0]!));
		if (name) starts.push({ entry, length: name.length });
		else contains.push(entry);
	}
	starts.sort((a, b) => a.length - b.length);
	return [...starts.map((s) => s.entry), ...contains].slice(0, max).map(toPickerEmoji);
}

// --- skin tones ----------------------------------------------------------------------------------

export const SKIN_TONES = [
	{ id: 0, modifier: '', label: 'Default skin tone', swatch: '✋' },
	{ id: 1, modifier: '\u{1F3FB}', label: 'Light skin tone', swatch: '✋🏻' },
	{ id: 2, modifier: '\u{1F3FC}', label: 'Medium-light skin tone', swatch: '✋🏼' },
	{ id: 3, modifier: '\u{1F3FD}', label: 'Medium skin tone', swatch: '✋🏽' },
	{ id: 4, modifier: '\u{1F3FE}', label: 'Medium-dark skin tone', swatch: '✋🏾' },
	{ id: 5, modifier: '\u{1F3FF}', label: 'Dark skin tone', swatch: '✋🏿' }
] as const;

const MODIFIER_BASE = /\p{Emoji_Modifier_Base}/u;

/**
 * The emoji with a skin tone, when it takes one: exactly one person or hand in it (Unicode's
 * Emoji_Modifier_Base), the modifier right after it (dropping a variation selector there).
 * Families and couples, made of several people, stay as they are.
 */
export function withSkinTone(emoji: string, tone: number): string {
	const modifier = SKIN_TONES[tone]?.modifier;
	if (!modifier) return emoji;
	const points = [...emoji];
	const bases = points.filter((p) => MODIFIER_BASE.test(p));
	if (bases.length !== 1) return emoji;
	const at = points.findIndex((p) => MODIFIER_BASE.test(p));
	const rest = points.slice(at + 1);
	if (rest[0] === '\uFE0F') rest.shift();
	return [...points.slice(0, at + 1), modifier, ...rest].join('');
}

// --- preferences kept in this browser ---------------------------------------------------------------

const RECENT_KEY = 'hearth:emoji:recent';
const TONE_KEY = 'hearth:emoji:skin-tone';
/** Two rows of the picker: enough to find the few one uses every day. */
export const RECENT_MAX = 16;

function storage(): Storage | null {
	try {
		return typeof localStorage === 'undefined' ? null : localStorage;
	} catch {
		return null;
	}
}

export function recentEmoji(): string[] {
	try {
		const parsed: unknown = JSON.parse(storage()?.getItem(RECENT_KEY) ?? '[]');
		return Array.isArray(parsed) ? parsed.filter((e): e is string => typeof e === 'string').slice(0, RECENT_MAX) : [];
	} catch {
		return [];
	}
}

/** Puts the emoji first among the recent ones. */
export function noteRecentEmoji(emoji: string): string[] {
	const next = [emoji, ...recentEmoji().filter((e) => e !== emoji)].slice(0, RECENT_MAX);
	storage()?.setItem(RECENT_KEY, JSON.stringify(next));
	return next;
}

export function savedSkinTone(): number {
	const tone = Number(storage()?.getItem(TONE_KEY) ?? '0');
	return Number.isInteger(tone) && tone >= 0 && tone < SKIN_TONES.length ? tone : 0;
}

export function saveSkinTone(tone: number): void {
	storage()?.setItem(TONE_KEY, String(tone));
}
