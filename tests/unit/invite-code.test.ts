import { describe, expect, it } from 'vitest';
import { inviteCodeFrom } from '#lib/client/chat/community-forms.svelte.ts';
import { typingSentence } from '#lib/client/format.ts';

describe('inviteCodeFrom', () => {
	it('finds the code in a full link, a path or on its own', () => {
		expect(inviteCodeFrom('https://chat.example.com/invite/AbC123xy')).toBe('AbC123xy');
		expect(inviteCodeFrom('  /invite/AbC123xy/ ')).toBe('AbC123xy');
		expect(inviteCodeFrom('AbC123xy')).toBe('AbC123xy');
	});

	it('refuses what is not an invite', () => {
		expect(inviteCodeFrom('https://example.com/')).toBeNull();
		expect(inviteCodeFrom('abc')).toBeNull();
	});
});

describe('typingSentence', () => {
	it('names up to three people, then says several', () => {
		expect(typingSentence([])).toBe('');
		expect(typingSentence(['Ana'])).toBe('Ana is typing…');
		expect(typingSentence(['Ana', 'Bo'])).toBe('Ana and Bo are typing…');
		expect(typingSentence(['Ana', 'Bo', 'Cy'])).toBe('Ana, Bo and Cy are typing…');
		expect(typingSentence(['Ana', 'Bo', 'Cy', 'Di'])).toBe('Several people are typing…');
	});
});
