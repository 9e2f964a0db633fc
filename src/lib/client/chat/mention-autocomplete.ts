// The composer's "@" autocomplete, as plain functions: which "@query" the caret is in, who matches
// it, and the text after picking someone. The Composer component only draws the list and routes keys.
import type { MentionCandidate } from './conversation.svelte.ts';

export type MentionQuery = { start: number; query: string };
export type MentionSuggestion =
	| { kind: 'person'; id: string; username: string; displayName: string }
	| { kind: 'everyone' | 'here'; username: 'everyone' | 'here'; displayName: string };

/** At most this many suggestions are shown. */
export const MENTION_SUGGESTIONS_MAX = 8;

/** The "@query" that ends at the caret (a word just being typed), or null. */
export function mentionQueryAt(text: string, caret: number): MentionQuery | null {
	const before = text.slice(0, caret);
	const match = /(^|[\s([{"'>])@([A-Za-z0-9._-]{0,64})$/.exec(before);
	if (!match) return null;
	return { start: before.length - match[2]!.length - 1, query: match[2]! };
}

const SPECIAL = {
	everyone: 'Notify everyone in this community',
	here: 'Notify everyone online now'
} as const;

/**
 * Who matches the query: @everyone and @here (when allowed) and people whose username or display
 * name starts with it, then those where it appears later; each group alphabetical by display name.
 */
export function mentionSuggestions(query: string, people: readonly MentionCandidate[], canMentionEveryone: boolean): MentionSuggestion[] {
	const q = query.toLowerCase();
	const special: MentionSuggestion[] = canMentionEveryone
		? (['everyone', 'here'] as const).filter((name) => name.startsWith(q)).map((name) => ({ kind: name, username: name, displayName: SPECIAL[name] }))
		: [];
	const starts: MentionCandidate[] = [];
	const contains: MentionCandidate[] = [];
	for (const person of people) {
		const username = person.username.toLowerCase();
		const name = person.displayName.toLowerCase();
		if (username.startsWith(q) || name.startsWith(q) || name.split(/\s+/).some((word) => word.startsWith(q))) starts.push(person);
		else if (username.includes(q) || name.includes(q)) contains.push(person);
	}
	const byName = (a: MentionCandidate, b: MentionCandidate) => a.displayName.localeCompare(b.displayName);
	const matched: MentionSuggestion[] = [...starts.sort(byName), ...contains.sort(byName)].map((p) => ({ kind: 'person', id: p.id, username: p.username, displayName: p.displayName }));
	return [...special, ...matched].slice(0, MENTION_SUGGESTIONS_MAX);
}

/** The text with the query replaced by "@username " and where the caret goes after it. */
export function applyMention(text: string, query: MentionQuery, caret: number, username: string): { text: string; caret: number } {
	const inserted = `@${username} `;
	const after = text.slice(caret).replace(/^\s/, '');
	return { text: text.slice(0, query.start) + inserted + after, caret: query.start + inserted.length };
}
