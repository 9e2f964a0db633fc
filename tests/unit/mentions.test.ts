// Mentions in a text, the rule that a reader trusts a mention only when the routing field and the
// encrypted content agree, the composer's "@" autocomplete, and the counts in the tab title.
import { describe, expect, it } from 'vitest';
import { MENTIONS_MAX_USERS, mentionsInText, mentionsUser, namesUser, normalizeMentions } from '#lib/shared/mentions.ts';
import { applyMention, mentionQueryAt, mentionSuggestions } from '#lib/client/chat/mention-autocomplete.ts';
import { titlePrefix, titleWithCounts } from '#lib/client/chat/attention.svelte.ts';

const ann = { id: 'a0000000-0000-4000-8000-000000000001', username: 'ann', displayName: 'Ann Lee' };
const ben = { id: 'b0000000-0000-4000-8000-000000000002', username: 'ben.k', displayName: 'Ben Kim' };
const cy = { id: 'c0000000-0000-4000-8000-000000000003', username: 'cy_d', displayName: 'Cyrus Dane' };
const people = [ann, ben, cy];

describe('mentionsInText', () => {
	it('finds @username of people in the conversation, case-insensitively, once each', () => {
		expect(mentionsInText('hi @Ann and @ben.k, also @ann again', people, false)).toEqual({ users: [ann.id, ben.id].sort() });
	});
	it('ignores unknown names, e-mail addresses and code', () => {
		expect(mentionsInText('mail ann@example.com or @nobody; `@ann` and ```\n@ben.k\n```', people, false)).toBeNull();
	});
	it('takes a sentence-ending dot off the name', () => {
		expect(mentionsInText('thanks @ann.', people, false)).toEqual({ users: [ann.id] });
	});
	it('offers @everyone and @here only to those allowed', () => {
		expect(mentionsInText('@everyone look', people, true)).toEqual({ everyone: true });
		expect(mentionsInText('@here look', people, true)).toEqual({ here: true });
		expect(mentionsInText('@everyone @here look', people, false)).toBeNull();
	});
	it('names at most the limit', () => {
		const many = Array.from({ length: MENTIONS_MAX_USERS + 5 }, (_, i) => ({ id: `d0000000-0000-4000-8000-${String(i).padStart(12, '0')}`, username: `u${i}` }));
		expect(mentionsInText(many.map((p) => `@${p.username}`).join(' '), many, false)?.users).toHaveLength(MENTIONS_MAX_USERS);
	});
});

describe('a mention counts only when the routing field and the encrypted content agree', () => {
	it('both name the reader: a mention', () => {
		expect(mentionsUser({ users: [ann.id] }, { users: [ann.id] }, ann.id)).toBe(true);
		expect(mentionsUser({ everyone: true }, { everyone: true }, ann.id)).toBe(true);
	});
	it('a server that adds the reader to the routing field invents nothing', () => {
		expect(mentionsUser({ users: [ann.id] }, undefined, ann.id)).toBe(false);
		expect(mentionsUser({ everyone: true }, { users: [ben.id] }, ann.id)).toBe(false);
	});
	it('a server that strips the routing field silences it (all it can do)', () => {
		expect(mentionsUser(undefined, { users: [ann.id] }, ann.id)).toBe(false);
	});
	it('ids compare in any case; normalising sorts and drops empty parts', () => {
		expect(namesUser({ users: [ann.id] }, ann.id.toUpperCase())).toBe(true);
		expect(normalizeMentions({ users: [ben.id.toUpperCase(), ann.id, ann.id] })).toEqual({ users: [ann.id, ben.id] });
		expect(normalizeMentions({})).toBeNull();
	});
});

describe('the composer autocomplete', () => {
	it('finds the @query the caret is in, and nothing elsewhere', () => {
		expect(mentionQueryAt('hello @be', 9)).toEqual({ start: 6, query: 'be' });
		expect(mentionQueryAt('@', 1)).toEqual({ start: 0, query: '' });
		expect(mentionQueryAt('mail a@b', 8)).toBeNull();
		expect(mentionQueryAt('hello @ben done', 15)).toBeNull();
	});
	it('suggests by username or any word of the display name, prefix matches first', () => {
		expect(mentionSuggestions('k', people, false).map((s) => s.username)).toEqual(['ben.k']);
		expect(mentionSuggestions('d', people, false).map((s) => s.username)).toEqual(['cy_d']);
		expect(mentionSuggestions('', people, false).map((s) => s.username)).toEqual(['ann', 'ben.k', 'cy_d']);
		expect(mentionSuggestions('e', people, true).map((s) => s.username)).toEqual(['everyone', 'ann', 'ben.k', 'cy_d']);
		expect(mentionSuggestions('h', people, true).map((s) => s.username)).toEqual(['here']);
		expect(mentionSuggestions('h', people, false)).toEqual([]);
	});
	it('replaces the query with the name and a space, caret after it', () => {
		const text = 'hi @be how are you';
		expect(applyMention(text, { start: 3, query: 'be' }, 6, 'ben.k')).toEqual({ text: 'hi @ben.k how are you', caret: 10 });
	});
});

describe('counts in the tab title', () => {
	it('shows mentions (with direct messages) and unread messages, or nothing', () => {
		expect(titlePrefix(0, 0)).toBe('');
		expect(titlePrefix(0, 4)).toBe('(4) ');
		expect(titlePrefix(2, 2)).toBe('(@2) ');
		expect(titlePrefix(2, 7)).toBe('(@2 · 7) ');
		expect(titlePrefix(0, 1200)).toBe('(999+) ');
	});
	it('replaces an earlier prefix instead of stacking them', () => {
		expect(titleWithCounts('(@2 · 7) #general · Hearth', 0, 3)).toBe('(3) #general · Hearth');
		expect(titleWithCounts('(3) #general · Hearth', 0, 0)).toBe('#general · Hearth');
	});
});
