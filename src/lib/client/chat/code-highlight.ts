// Fenced code blocks in rendered message HTML → highlighted, labelled blocks with a copy button.
//
// highlight.js only tokenises text (it never evaluates it) and escapes every character of the code
// it wraps in <span class="hljs-…">, so its output is as safe as micromark's. Its core is small; each
// language grammar is a separate chunk loaded the first time a message uses it, so a channel with no
// code costs nothing. Only the languages listed below are ever loaded: the info string of a fence
// (```name) is attacker-controlled text and never reaches an import path.
import hljs from 'highlight.js/lib/core';
import type { LanguageFn } from 'highlight.js';

type LanguageModule = { default: LanguageFn };

// The languages people paste into chat most (Stack Overflow survey order, roughly). Vite needs the
// import specifiers spelled out to split each one into its own chunk.
const LOADERS: Record<string, () => Promise<LanguageModule>> = {
	bash: () => import('highlight.js/lib/languages/bash'),
	c: () => import('highlight.js/lib/languages/c'),
	cpp: () => import('highlight.js/lib/languages/cpp'),
	csharp: () => import('highlight.js/lib/languages/csharp'),
	css: () => import('highlight.js/lib/languages/css'),
	diff: () => import('highlight.js/lib/languages/diff'),
	dockerfile: () => import('highlight.js/lib/languages/dockerfile'),
	go: () => import('highlight.js/lib/languages/go'),
	ini: () => import('highlight.js/lib/languages/ini'),
	java: () => import('highlight.js/lib/languages/java'),
	javascript: () => import('highlight.js/lib/languages/javascript'),
	json: () => import('highlight.js/lib/languages/json'),
	kotlin: () => import('highlight.js/lib/languages/kotlin'),
	lua: () => import('highlight.js/lib/languages/lua'),
	makefile: () => import('highlight.js/lib/languages/makefile'),
	markdown: () => import('highlight.js/lib/languages/markdown'),
	nginx: () => import('highlight.js/lib/languages/nginx'),
	php: () => import('highlight.js/lib/languages/php'),
	plaintext: () => import('highlight.js/lib/languages/plaintext'),
	python: () => import('highlight.js/lib/languages/python'),
	ruby: () => import('highlight.js/lib/languages/ruby'),
	rust: () => import('highlight.js/lib/languages/rust'),
	scss: () => import('highlight.js/lib/languages/scss'),
	shell: () => import('highlight.js/lib/languages/shell'),
	sql: () => import('highlight.js/lib/languages/sql'),
	swift: () => import('highlight.js/lib/languages/swift'),
	typescript: () => import('highlight.js/lib/languages/typescript'),
	xml: () => import('highlight.js/lib/languages/xml'),
	yaml: () => import('highlight.js/lib/languages/yaml')
};

// What people type after the fence → the grammar that reads it.
const ALIASES: Record<string, string> = {
	sh: 'bash',
	zsh: 'bash',
	'c++': 'cpp',
	cc: 'cpp',
	hpp: 'cpp',
	cs: 'csharp',
	'c#': 'csharp',
	patch: 'diff',
	docker: 'dockerfile',
	golang: 'go',
	toml: 'ini',
	js: 'javascript',
	jsx: 'javascript',
	mjs: 'javascript',
	cjs: 'javascript',
	kt: 'kotlin',
	make: 'makefile',
	md: 'markdown',
	text: 'plaintext',
	txt: 'plaintext',
	py: 'python',
	rb: 'ruby',
	rs: 'rust',
	console: 'shell',
	psql: 'sql',
	ts: 'typescript',
	tsx: 'typescript',
	html: 'xml',
	svg: 'xml',
	svelte: 'xml',
	vue: 'xml',
	yml: 'yaml'
};

// Names shown on a block's label.
const LABELS: Record<string, string> = {
	cpp: 'C++',
	csharp: 'C#',
	javascript: 'JavaScript',
	typescript: 'TypeScript',
	xml: 'HTML/XML',
	plaintext: 'Text'
};

/** The grammar that highlights a fence's info string, or null when it names none we ship. */
export function canonicalLanguage(info: string): string | null {
	const name = info.toLowerCase();
	if (Object.hasOwn(LOADERS, name)) return name;
	return Object.hasOwn(ALIASES, name) ? (ALIASES[name] ?? null) : null;
}

const loading = new Map<string, Promise<void>>();

/** Loads (once) and registers the given grammars. A grammar that fails to load leaves its blocks plain. */
export async function loadLanguages(names: readonly string[]): Promise<void> {
	await Promise.all(
		names.map((name) => {
			const load = LOADERS[name];
			if (!load) return;
			let pending = loading.get(name);
			if (!pending) {
				pending = load()
					.then((module) => hljs.registerLanguage(name, module.default))
					.catch(() => {
						loading.delete(name);
					});
				loading.set(name, pending);
			}
			return pending;
		})
	);
}

// micromark writes every fenced block as exactly this, with the info string's first word (escaped)
// as the language class. Indented code is switched off in markdown.ts, so nothing else makes a <pre>.
const CODE_BLOCK = /<pre><code(?: class="language-([^"]*)")?>([\s\S]*?)<\/code><\/pre>/g;

/** Grammars the blocks of this HTML want that are not registered yet. */
export function missingLanguages(html: string): string[] {
	if (!html.includes('<pre>')) return [];
	const missing = new Set<string>();
	for (const match of html.matchAll(CODE_BLOCK)) {
		const language = match[1] ? canonicalLanguage(unescapeHtml(match[1])) : null;
		if (language && !hljs.getLanguage(language)) missing.add(language);
	}
	return [...missing];
}

/**
 * Wraps each code block of micromark's output in a labelled frame with a copy button, and highlights
 * the ones whose grammar is registered (the others stay plain until `loadLanguages` resolves and the
 * caller decorates again). The copy button is inert markup: the component that shows the HTML handles
 * its clicks by delegation.
 */
export function decorateCodeBlocks(html: string): string {
	if (!html.includes('<pre>')) return html;
	return html.replace(CODE_BLOCK, (_block, info: string | undefined, escapedCode: string) => {
		const language = info ? canonicalLanguage(unescapeHtml(info)) : null;
		let code = escapedCode;
		if (language && hljs.getLanguage(language)) {
			// ignoreIllegals: a half-finished snippet is still highlighted as far as it goes.
			code = hljs.highlight(unescapeHtml(escapedCode), { language, ignoreIllegals: true }).value;
		}
		const label = language ? `<span class="code-language">${LABELS[language] ?? language.charAt(0).toUpperCase() + language.slice(1)}</span>` : '';
		const languageClass = language ? ` class="hljs language-${language}"` : '';
		return (
			`<div class="code-block">${label}` +
			`<button type="button" class="copy-code">Copy code</button>` +
			`<pre><code${languageClass}>${code}</code></pre></div>`
		);
	});
}

// The inverse of micromark's encode() (it escapes exactly these four); &amp; last so that "&amp;lt;"
// comes back as the "&lt;" that was typed.
function unescapeHtml(text: string): string {
	return text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&amp;', '&');
}
