// Code blocks are decorated inside HTML shown with {@html}: what goes in is attacker-controlled
// message text, so each case checks the exact output.
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '#lib/client/chat/markdown.ts';
import { canonicalLanguage, decorateCodeBlocks, loadLanguages, missingLanguages } from '#lib/client/chat/code-highlight.ts';

const COPY = '<button type="button" class="copy-code">Copy code</button>';

describe('code blocks', () => {
	it('maps what people type after the fence to a shipped grammar, and nothing else', () => {
		expect(canonicalLanguage('TS')).toBe('typescript');
		expect(canonicalLanguage('py')).toBe('python');
		expect(canonicalLanguage('rust')).toBe('rust');
		expect(canonicalLanguage('../../evil')).toBeNull();
		expect(canonicalLanguage('constructor')).toBeNull();
		expect(canonicalLanguage('__proto__')).toBeNull();
	});

	it('frames a block without a language with a copy button and leaves it plain', () => {
		expect(decorateCodeBlocks(renderMarkdown('```\n<b>hi</b>\n```'))).toBe(
			`<div class="code-block">${COPY}<pre><code>&lt;b&gt;hi&lt;/b&gt;\n</code></pre></div>`
		);
	});

	it('leaves a block plain until its grammar is loaded, then highlights it', async () => {
		const html = renderMarkdown('```python\ndef f(x):\n    return "<x>"\n```');
		expect(missingLanguages(html)).toEqual(['python']);
		expect(decorateCodeBlocks(html)).not.toContain('hljs-');
		await loadLanguages(['python']);
		expect(missingLanguages(html)).toEqual([]);
		const decorated = decorateCodeBlocks(html);
		expect(decorated).toContain('<span class="code-language">Python</span>');
		expect(decorated).toContain('<span class="hljs-keyword">def</span>');
		expect(decorated).toContain('<span class="hljs-string">&quot;&lt;x&gt;&quot;</span>');
	});

	it('keeps markup in highlighted code escaped', async () => {
		await loadLanguages(['xml', 'javascript']);
		for (const source of [
			'```html\n<script>alert(1)</script><img src=x onerror=alert(1)>\n```',
			'```js\nel.innerHTML = "</code></pre><img src=x onerror=alert(1)>"\n```',
			'```js\nconst s = "&lt;script&gt;"\n```'
		]) {
			const html = decorateCodeBlocks(renderMarkdown(source));
			expect(html, source).not.toMatch(/<script|<img|<\/code><\/pre><img/i);
			expect(html, source).toContain('hljs');
		}
		// A typed entity stays the characters that were typed.
		expect(decorateCodeBlocks(renderMarkdown('```js\nconst s = "&lt;"\n```'))).toContain('&amp;lt;');
	});

	it('ignores a language name that tries to break out of its attribute', () => {
		const html = decorateCodeBlocks(renderMarkdown('```x"><img src=x onerror=alert(1)>\ncode\n```'));
		expect(html).toBe(`<div class="code-block">${COPY}<pre><code>code\n</code></pre></div>`);
	});

	it('leaves inline code and text without blocks untouched', () => {
		const html = renderMarkdown('use `npm ci` here');
		expect(decorateCodeBlocks(html)).toBe('<p>use <code>npm ci</code> here</p>');
	});
});
