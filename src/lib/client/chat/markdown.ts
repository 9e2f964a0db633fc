// Message text → safe HTML. micromark escapes every character of the input it does not turn into
// markup itself and drops link targets with unsafe protocols (javascript:, data:, vbscript:...), so
// the only tags in its output are the ones it generated. We then only touch those: external links
// open in a new tab without leaking the opener or the referrer, and links whose target was dropped
// become plain text instead of a link to nowhere.
import { micromark } from 'micromark';
import type { Extension } from 'micromark-util-types';
import { gfmAutolinkLiteral, gfmAutolinkLiteralHtml } from 'micromark-extension-gfm-autolink-literal';
import { gfmStrikethrough, gfmStrikethroughHtml } from 'micromark-extension-gfm-strikethrough';

// Chat is not a document: constructs that surprise people typing a message are switched off.
// - raw HTML is never markup (it would be escaped anyway; disabling it keeps it inline text),
// - images would load remote content (tracking pixels) the sender chooses,
// - indented code and setext headings turn ordinary indentation or a "---" line into markup.
const chatFlavour: Extension = {
	disable: { null: ['htmlFlow', 'htmlText', 'labelStartImage', 'codeIndented', 'setextUnderline'] }
};

const LINK_ATTRIBUTES = 'target="_blank" rel="noopener noreferrer nofollow" ';
const DROPPED_LINK = /<a href=""(?: title="[^"]*")?>([\s\S]*?)<\/a>/g;

// Rendering the same text again (re-renders, edits of other messages) is common; remember recent results.
const CACHE_MAX = 500;
const cache = new Map<string, string>();

export function renderMarkdown(text: string): string {
	const cached = cache.get(text);
	if (cached !== undefined) return cached;
	const html = micromark(text, {
		allowDangerousHtml: false,
		allowDangerousProtocol: false,
		extensions: [chatFlavour, gfmAutolinkLiteral(), gfmStrikethrough({ singleTilde: false })],
		htmlExtensions: [gfmAutolinkLiteralHtml(), gfmStrikethroughHtml()]
	})
		.replace(DROPPED_LINK, '$1')
		.replaceAll('<a href="', `<a ${LINK_ATTRIBUTES}href="`)
		.trim();
	if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
	cache.set(text, html);
	return html;
}
