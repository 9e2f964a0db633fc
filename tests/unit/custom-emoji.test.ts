import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '#lib/client/chat/markdown.ts';
import { withCustomEmoji } from '#lib/client/chat/custom-emoji.svelte.ts';
import { customEmojiName } from '#lib/shared/custom-emoji.ts';

const parrot = { id: 'e1', name: 'party_parrot', url: '/api/communities/c/emoji/e1?v=abc' };
const lookup = (name: string) => (name === parrot.name ? parrot : undefined);

describe('custom emoji in message text', () => {
	it('turns a known :name: into its picture, leaves unknown names as text', () => {
		expect(withCustomEmoji(renderMarkdown('so :party_parrot: :unknown_one:'), lookup)).toBe(
			'<p>so <img class="custom-emoji" src="/api/communities/c/emoji/e1?v=abc" alt=":party_parrot:" title=":party_parrot:" draggable="false"> :unknown_one:</p>'
		);
	});

	it('never inside code, and never inside markup the sender wrote (it is escaped text)', () => {
		expect(withCustomEmoji(renderMarkdown('`:party_parrot:`'), lookup)).toBe('<p><code>:party_parrot:</code></p>');
		expect(withCustomEmoji(renderMarkdown('```\n:party_parrot:\n```'), lookup)).not.toContain('<img');
		const html = withCustomEmoji(renderMarkdown('<img src=x onerror=alert(1)> :party_parrot:'), lookup);
		expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
		expect(html.match(/<img /g)).toHaveLength(1);
	});

	it('names a reaction that is exactly one custom emoji', () => {
		expect(customEmojiName(':party_parrot:')).toBe('party_parrot');
		expect(customEmojiName('👍')).toBeNull();
		expect(customEmojiName(':Party:')).toBeNull();
		expect(customEmojiName(' :party_parrot:')).toBeNull();
	});
});

describe('the :shortcode: list with community emoji', () => {
	it('offers the community\'s own first (names starting with the query first), as ":name:" text, then the standard ones', async () => {
		const { withCustomSuggestions, EMOJI_SUGGESTIONS_MAX } = await import('#lib/client/chat/emoji-shortcodes.ts');
		const custom = [
			{ name: 'big_party', url: '/a' },
			{ name: 'party_parrot', url: '/b' },
			{ name: 'cat', url: '/c' }
		];
		const standard = [{ emoji: '🎉', name: 'tada' }];
		expect(withCustomSuggestions('party', custom, standard)).toEqual([
			{ emoji: ':party_parrot:', name: 'party_parrot', url: '/b' },
			{ emoji: ':big_party:', name: 'big_party', url: '/a' },
			{ emoji: '🎉', name: 'tada' }
		]);
		expect(withCustomSuggestions('p', Array.from({ length: 20 }, (_, i) => ({ name: `p${i}`, url: '/x' })), standard)).toHaveLength(EMOJI_SUGGESTIONS_MAX);
	});
});
