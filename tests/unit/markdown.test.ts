// Message markdown is rendered with {@html}: these tests are what makes that safe. Every input is
// attacker-controlled (any member can send anything), so each case checks the actual output.
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '#lib/client/chat/markdown.ts';

describe('renderMarkdown', () => {
	it('renders bold, italics, inline code, strikethrough and code blocks', () => {
		expect(renderMarkdown('**bold** _it_ `x < y` ~~gone~~')).toBe('<p><strong>bold</strong> <em>it</em> <code>x &lt; y</code> <del>gone</del></p>');
		expect(renderMarkdown('```\n<b>hi</b>\n```')).toBe('<pre><code>&lt;b&gt;hi&lt;/b&gt;\n</code></pre>');
	});

	it('shows a script tag as text', () => {
		const html = renderMarkdown('<script>alert(1)</script>');
		expect(html).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
		expect(html).not.toContain('<script');
	});

	it('shows an img tag with an onerror handler as text', () => {
		const html = renderMarkdown('<img src=x onerror=alert(1)>');
		expect(html).toBe('<p>&lt;img src=x onerror=alert(1)&gt;</p>');
		expect(html).not.toMatch(/<img/i);
	});

	it('never turns a javascript: link into a link, however it is written', () => {
		for (const input of [
			'[x](javascript:alert(1))',
			'[x](JAVASCRIPT:alert(1))',
			'[x](&#106;avascript:alert(1))',
			'[x](&#x6A;avascript&colon;alert(1))',
			'[x](<javascript:alert(1)>)',
			'[x]: javascript:alert(1)\n\n[x]',
			'<javascript:alert(1)>',
			'[x](vbscript:msgbox(1))',
			'[x](data:text/html,<script>alert(1)</script>)'
		]) {
			const html = renderMarkdown(input);
			expect(html, input).not.toMatch(/<a\b/);
			expect(html, input).not.toMatch(/href=/);
		}
		expect(renderMarkdown('[x](javascript:alert(1))')).toBe('<p>x</p>');
	});

	it('does not load remote images', () => {
		expect(renderMarkdown('![pixel](https://tracker.example/p.png)')).not.toMatch(/<img/);
	});

	it('opens links in a new tab without opener, referrer or endorsement', () => {
		expect(renderMarkdown('[docs](https://example.com/a?b=1)')).toBe(
			'<p><a target="_blank" rel="noopener noreferrer nofollow" href="https://example.com/a?b=1">docs</a></p>'
		);
	});

	it('turns bare web addresses into links', () => {
		expect(renderMarkdown('see https://example.com and www.example.org')).toBe(
			'<p>see <a target="_blank" rel="noopener noreferrer nofollow" href="https://example.com">https://example.com</a> and ' +
				'<a target="_blank" rel="noopener noreferrer nofollow" href="http://www.example.org">www.example.org</a></p>'
		);
	});

	it('cannot break out of an attribute with quotes in a URL or title', () => {
		const html = renderMarkdown('[a](https://x.y/"onmouseover="alert(1)) [b](https://a.b "t\\" onclick=\\"y")');
		expect(html).not.toMatch(/"\s*on(mouseover|click)=/);
		expect(html).toContain('href="https://x.y/%22onmouseover=%22alert(1)"');
	});

	it('keeps indentation and "---" lines as ordinary text rather than code or headings', () => {
		expect(renderMarkdown('    four spaces')).toBe('<p>four spaces</p>');
		expect(renderMarkdown('title\n---')).not.toContain('<h2>');
	});
});
