import { describe, expect, it } from 'vitest';
import { applyEmoji, emojiSuggestions, loadEmoji, shortcodeQueryAt } from '#lib/client/chat/emoji-shortcodes.ts';

describe(':shortcode autocomplete', () => {
	it('finds the ":query" at the caret, from two characters on, not inside words or times', () => {
		expect(shortcodeQueryAt('great :ta', 9)).toEqual({ start: 6, query: 'ta' });
		expect(shortcodeQueryAt(':Thumbs', 7)).toEqual({ start: 0, query: 'thumbs' });
		expect(shortcodeQueryAt('great :t', 8)).toBeNull();
		expect(shortcodeQueryAt('at 10:30', 8)).toBeNull();
		expect(shortcodeQueryAt('http://x', 8)).toBeNull();
		expect(shortcodeQueryAt('done :tada: ok', 14)).toBeNull();
	});

	it('suggests names that start with the query first, shortest first, then names and tags that contain it', async () => {
		const list = await loadEmoji();
		const tada = emojiSuggestions('tad', list);
		expect(tada[0]).toEqual({ emoji: '🎉', name: 'tada' });
		const thumbs = emojiSuggestions('+1', list);
		expect(thumbs[0]).toEqual({ emoji: '👍', name: '+1' });
		expect(emojiSuggestions('zzzzzz', list)).toEqual([]);
		expect(emojiSuggestions('s', list).length).toBeLessThanOrEqual(8);
	});

	it('replaces the query with the emoji itself and puts the caret after it', () => {
		const query = shortcodeQueryAt('nice :tad and more', 9)!;
		expect(applyEmoji('nice :tad and more', query, 9, '🎉')).toEqual({ text: 'nice 🎉 and more', caret: 7 });
	});
});
