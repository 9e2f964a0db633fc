import { beforeEach, describe, expect, it } from 'vitest';
import { loadEmoji } from '#lib/client/chat/emoji-shortcodes.ts';
import { categorise, noteRecentEmoji, recentEmoji, RECENT_MAX, savedSkinTone, saveSkinTone, searchEmoji, withSkinTone } from '#lib/client/emoji/emoji-catalogue.ts';

describe('the emoji picker catalogue', () => {
	it('groups every emoji into gemoji\'s categories, in order, with short tab labels', async () => {
		const list = await loadEmoji();
		const categories = categorise(list);
		expect(categories.map((c) => c.label)).toEqual(['Smileys', 'People', 'Nature', 'Food', 'Travel', 'Activities', 'Objects', 'Symbols', 'Flags']);
		expect(categories.reduce((n, c) => n + c.emoji.length, 0)).toBe(list.length);
		expect(categories[0]!.emoji[0]).toEqual({ emoji: '😀', name: 'grinning', label: 'Grinning face', category: 'Smileys & Emotion' });
	});

	it('finds emoji by name first (shortest first), then by tag or description, every word counting', async () => {
		const list = await loadEmoji();
		expect(searchEmoji('tada', list)[0]?.emoji).toBe('🎉');
		expect(searchEmoji('coffee', list)[0]?.emoji).toBe('☕');
		// "party" is a tag of 🎉 and part of other names: names first.
		expect(searchEmoji('party', list).map((e) => e.emoji)).toContain('🎉');
		// Two words: both must match.
		expect(searchEmoji('red heart', list)[0]?.emoji).toBe('❤️');
		expect(searchEmoji('   ', list)).toEqual([]);
		expect(searchEmoji('zzzznothing', list)).toEqual([]);
	});

	it('puts a skin tone after the one person or hand in an emoji, and leaves others alone', () => {
		expect(withSkinTone('👋', 3)).toBe('👋🏽');
		expect(withSkinTone('👍', 5)).toBe('👍🏿');
		// A variation selector after the base goes: the modifier takes its place.
		expect(withSkinTone('✌️', 1)).toBe('✌🏻');
		// A joined sequence with one person keeps its joiner and the rest.
		expect(withSkinTone('🧑‍💻', 2)).toBe('🧑🏼‍💻');
		// Not a person or a hand, or several people: unchanged.
		expect(withSkinTone('🎉', 3)).toBe('🎉');
		expect(withSkinTone('👨‍👩‍👧', 3)).toBe('👨‍👩‍👧');
		expect(withSkinTone('👋', 0)).toBe('👋');
	});

	describe('kept in this browser', () => {
		beforeEach(() => {
			const store = new Map<string, string>();
			globalThis.localStorage = {
				getItem: (k: string) => store.get(k) ?? null,
				setItem: (k: string, v: string) => void store.set(k, v),
				removeItem: (k: string) => void store.delete(k),
				clear: () => store.clear(),
				key: () => null,
				length: 0
			} as Storage;
		});

		it('recent emoji: the last used first, no repeats, at most RECENT_MAX', () => {
			expect(recentEmoji()).toEqual([]);
			noteRecentEmoji('🎉');
			noteRecentEmoji('👍');
			noteRecentEmoji('🎉');
			expect(recentEmoji()).toEqual(['🎉', '👍']);
			for (let i = 0; i < RECENT_MAX + 5; i++) noteRecentEmoji(String.fromCodePoint(0x1f600 + i));
			expect(recentEmoji()).toHaveLength(RECENT_MAX);
			expect(recentEmoji()[0]).toBe(String.fromCodePoint(0x1f600 + RECENT_MAX + 4));
			localStorage.setItem('hearth:emoji:recent', 'not json');
			expect(recentEmoji()).toEqual([]);
		});

		it('the skin tone, with anything unexpected read as the default', () => {
			expect(savedSkinTone()).toBe(0);
			saveSkinTone(4);
			expect(savedSkinTone()).toBe(4);
			localStorage.setItem('hearth:emoji:skin-tone', '9');
			expect(savedSkinTone()).toBe(0);
		});
	});
});
