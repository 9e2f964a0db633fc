// Search over this device's decrypted history. The server holds only ciphertext, so it cannot
// search message bodies; every body this device decrypts is kept in the key store's
// `plaintextIndex` table (encrypted at rest like every other table, key-store.ts) and searched here.
//
// Matching: the text and the query are folded the same way (Unicode compatibility decomposition,
// combining marks dropped, lower case), so "Café" finds "cafe" and "CAFÉ". The query is split into
// words; a message matches when every query word starts one of its words ("bloom" finds "blooms",
// "loom" does not). Results come newest first, optionally within one channel, at most `limit`.
//
// The whole table is read (and decrypted) once, on the first search, and then kept in memory and
// updated with each write, because IndexedDB cannot look inside encrypted values.
import type { E2eeStore } from './contracts.ts';

/** One decrypted message as the index keeps it ('plaintextIndex' table, keyed by message id). */
export type IndexedMessage = {
	channelId: string;
	authorId: string;
	/** ISO time the server gave the message (ordering and display). */
	createdAt: string;
	/** The channel's sequence number of the message: how far back to load to show it. */
	seq: number;
	/** The decrypted text as written (for snippets). */
	text: string;
	/** `text` folded for matching (foldForSearch). */
	folded: string;
	/** A thread reply: its thread's root (a result opens the thread instead of loading the channel back). */
	threadRootId?: string;
};

export type SearchQuery = {
	text: string;
	/** Only messages of this channel. */
	channelId?: string;
	/** At most this many results (default 50). */
	limit?: number;
};

export type SearchHit = { messageId: string; message: IndexedMessage };

/** A piece of a snippet; `match` pieces are the parts the query words matched. */
export type SnippetPart = { text: string; match: boolean };

const DEFAULT_LIMIT = 50;
/** Characters of context shown around the first match in a snippet. */
const SNIPPET_CONTEXT = 60;
const COMBINING_MARKS = /\p{M}/gu;
const WORD = /[\p{L}\p{N}]+/gu;

/** Folds one string for matching: compatibility decomposition, no combining marks, lower case. */
export function foldForSearch(text: string): string {
	return text.normalize('NFKD').replace(COMBINING_MARKS, '').toLowerCase();
}

/** The words of a query, folded; empty when it has none (only spaces or punctuation). */
export function queryWords(query: string): string[] {
	return [...new Set(foldForSearch(query).match(WORD) ?? [])];
}

/** Whether every query word starts one of the words of a folded text. */
export function matchesWords(folded: string, words: readonly string[]): boolean {
	if (words.length === 0) return false;
	const textWords = folded.match(WORD) ?? [];
	return words.every((word) => textWords.some((w) => w.startsWith(word)));
}

/**
 * The text folded character by character, with the index in the original text of every folded
 * character, so a match found in the folded text maps back to what the person wrote.
 */
function foldWithOrigins(text: string): { folded: string; origins: number[] } {
	let folded = '';
	const origins: number[] = [];
	let index = 0;
	for (const char of text) {
		const piece = foldForSearch(char);
		for (let i = 0; i < piece.length; i++) origins.push(index);
		folded += piece;
		index += char.length;
	}
	origins.push(index);
	return { folded, origins };
}

/**
 * A short excerpt of `text` around the first match, split into plain and matched parts (for a
 * highlighted result). Whitespace runs become single spaces.
 */
export function searchSnippet(text: string, words: readonly string[], context = SNIPPET_CONTEXT): SnippetPart[] {
	const flat = text.replace(/\s+/g, ' ').trim();
	const { folded, origins } = foldWithOrigins(flat);
	// Ranges (in `flat`) where a query word starts a word of the text.
	const ranges: Array<[number, number]> = [];
	for (const found of folded.matchAll(WORD)) {
		for (const word of words) {
			if (!found[0].startsWith(word)) continue;
			const start = found.index;
			ranges.push([origins[start]!, origins[start + word.length]!]);
			break;
		}
	}
	ranges.sort((a, b) => a[0] - b[0]);
	const first = ranges[0]?.[0] ?? 0;
	const from = first > context ? flat.lastIndexOf(' ', first - context) + 1 || first - context : 0;
	const to = Math.min(flat.length, Math.max(first + context * 2, from + context * 3));
	const parts: SnippetPart[] = [];
	if (from > 0) parts.push({ text: '…', match: false });
	let at = from;
	for (const [start, end] of ranges) {
		if (start < at || start >= to) continue;
		if (start > at) parts.push({ text: flat.slice(at, start), match: false });
		parts.push({ text: flat.slice(start, Math.min(end, to)), match: true });
		at = Math.min(end, to);
	}
	if (at < to) parts.push({ text: flat.slice(at, to), match: false });
	if (to < flat.length) parts.push({ text: '…', match: false });
	return parts;
}

export class LocalSearchIndex {
	#store: E2eeStore;
	/** The table in memory, once read; null until the first search. */
	#entries: Map<string, IndexedMessage> | null = null;
	#loading: Promise<Map<string, IndexedMessage>> | null = null;
	/** Writes made while the table is being read: applied over what the read returns (null = removed). */
	#writesWhileLoading = new Map<string, IndexedMessage | null>();

	constructor(store: E2eeStore) {
		this.#store = store;
	}

	/** Adds or replaces (an edit) the decrypted text of a message. */
	async put(messageId: string, entry: Omit<IndexedMessage, 'folded'>): Promise<void> {
		const value: IndexedMessage = { ...entry, folded: foldForSearch(entry.text) };
		this.#entries?.set(messageId, value);
		if (!this.#entries && this.#loading) this.#writesWhileLoading.set(messageId, value);
		// Always written, even when the copy in memory matches, and under the device lock: the engine
		// writes the same entry while it decrypts (recordDecryptedText, inside that lock), so the two
		// never interleave between its read and its write.
		await this.#store.exclusive(() => this.#store.put('plaintextIndex', messageId, value));
	}

	/** Forgets a message (deleted, or no longer readable here). */
	async remove(messageId: string): Promise<void> {
		this.#entries?.delete(messageId);
		if (!this.#entries && this.#loading) this.#writesWhileLoading.set(messageId, null);
		await this.#store.delete('plaintextIndex', messageId);
	}

	async get(messageId: string): Promise<IndexedMessage | undefined> {
		return (await this.#load()).get(messageId);
	}

	/** Messages whose text has every query word, newest first. An empty query finds nothing. */
	async search(query: SearchQuery): Promise<SearchHit[]> {
		const words = queryWords(query.text);
		if (words.length === 0) return [];
		const limit = query.limit ?? DEFAULT_LIMIT;
		const hits: SearchHit[] = [];
		for (const [messageId, message] of await this.#load()) {
			if (query.channelId !== undefined && message.channelId !== query.channelId) continue;
			if (matchesWords(message.folded, words)) hits.push({ messageId, message });
		}
		hits.sort((a, b) => compareNewestFirst(a.message, b.message));
		return hits.slice(0, limit);
	}

	/** Drops the in-memory copy (the store was cleared, or another tab may have written). */
	forgetCache(): void {
		this.#entries = null;
		this.#loading = null;
		this.#writesWhileLoading.clear();
	}

	#load(): Promise<Map<string, IndexedMessage>> {
		if (this.#entries) return Promise.resolve(this.#entries);
		this.#loading ??= this.#store.list<unknown>('plaintextIndex').then(
			(rows) => {
				const entries = new Map<string, IndexedMessage>();
				for (const { key, value } of rows) {
					const record = readIndexRecord(value);
					if (record) entries.set(key, record);
				}
				for (const [key, value] of this.#writesWhileLoading) {
					if (value) entries.set(key, value);
					else entries.delete(key);
				}
				this.#writesWhileLoading.clear();
				this.#entries = entries;
				return entries;
			},
			(error: unknown) => {
				this.#loading = null;
				throw error;
			}
		);
		return this.#loading;
	}
}

/**
 * The engine's one call into search (engine.ts, as it decrypts, inside its device lock): records the
 * decrypted text of a message. The engine does not know the message's time and sequence; a record
 * the indexer already completed keeps them (so a later decrypt never makes it leaner).
 */
export async function recordDecryptedText(store: E2eeStore, messageId: string, entry: { channelId: string; authorId: string; text: string }): Promise<void> {
	const existing = readIndexRecord(await store.get<unknown>('plaintextIndex', messageId));
	await store.put('plaintextIndex', messageId, existing ? { ...existing, ...entry, folded: foldForSearch(entry.text) } : entry);
}

/**
 * A stored record as this module uses it. The engine (engine.ts) writes `{channelId, authorId, text}`
 * when it decrypts a message, before the indexer adds the time, sequence and folded text; such a
 * record is still searchable (folded here), sorts as oldest, and is jumped to by loading back.
 */
export function readIndexRecord(value: unknown): IndexedMessage | null {
	if (typeof value !== 'object' || value === null) return null;
	const record = value as Partial<IndexedMessage>;
	if (typeof record.channelId !== 'string' || typeof record.authorId !== 'string' || typeof record.text !== 'string') return null;
	return {
		channelId: record.channelId,
		authorId: record.authorId,
		createdAt: typeof record.createdAt === 'string' ? record.createdAt : '',
		seq: typeof record.seq === 'number' ? record.seq : 0,
		text: record.text,
		folded: typeof record.folded === 'string' ? record.folded : foldForSearch(record.text),
		...(typeof record.threadRootId === 'string' ? { threadRootId: record.threadRootId } : {})
	};
}

function compareNewestFirst(a: IndexedMessage, b: IndexedMessage): number {
	if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
	return b.seq - a.seq;
}
