// Client-side search over decrypted history (e2ee/local-search.ts) and what feeds it
// (e2ee/search-indexer.ts), on the memory key store (same contract and value codec as IndexedDB).
// The view source stands in for the message codec: it says what each payload decrypts to, which is
// not what these tests are about.
import { describe, expect, it } from 'vitest';
import type { MessageView } from '#lib/shared/protocol/frames.ts';
import { foldForSearch, LocalSearchIndex, queryWords, recordDecryptedText, searchSnippet, type IndexedMessage } from '#lib/client/e2ee/local-search.ts';
import { MemoryE2eeStore } from '#lib/client/e2ee/memory-store.ts';
import type { DecryptedView, SealedMessage } from '#lib/client/e2ee/message-codec.svelte.ts';
import { SearchIndexer } from '#lib/client/e2ee/search-indexer.ts';

const GENERAL = '11111111-1111-4111-8111-111111111111';
const RANDOM = '22222222-2222-4222-8222-222222222222';
const ANN = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const BEN = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

function entry(text: string, at: number, channelId = GENERAL, authorId = ANN): Omit<IndexedMessage, 'folded'> {
	return { channelId, authorId, createdAt: new Date(Date.UTC(2026, 0, 1, 12, at)).toISOString(), seq: at, text };
}

async function ids(index: LocalSearchIndex, text: string, options: { channelId?: string; limit?: number } = {}) {
	return (await index.search({ text, ...options })).map((hit) => hit.messageId);
}

describe('local search index', () => {
	it('finds messages that contain every query word, ignoring case and diacritics, newest first', async () => {
		const index = new LocalSearchIndex(new MemoryE2eeStore());
		await index.put('m1', entry('The roses bloom at dawn', 1));
		await index.put('m2', entry('Rosé at the CAFÉ tonight?', 2));
		await index.put('m3', entry('Dawn patrol: roses and more ROSES', 3));
		await index.put('m4', entry('Nothing to see', 4));

		expect(await ids(index, 'roses dawn')).toEqual(['m3', 'm1']);
		expect(await ids(index, 'ROSES')).toEqual(['m3', 'm1']);
		expect(await ids(index, 'cafe')).toEqual(['m2']);
		expect(await ids(index, 'Café ROSE')).toEqual(['m2']);
		// A query word matches the start of a word ("bloo" → "bloom"), not its middle ("oom").
		expect(await ids(index, 'bloo')).toEqual(['m1']);
		expect(await ids(index, 'oom')).toEqual([]);
		// Every word must match.
		expect(await ids(index, 'roses tonight')).toEqual([]);
		// No words, no results (rather than everything).
		expect(await ids(index, '  ?! ')).toEqual([]);
	});

	it('searches one channel when asked, and returns at most the limit', async () => {
		const index = new LocalSearchIndex(new MemoryE2eeStore());
		for (let i = 1; i <= 5; i++) await index.put(`g${i}`, entry(`lunch plan ${i}`, i, GENERAL));
		await index.put('r1', entry('lunch elsewhere', 9, RANDOM, BEN));
		expect(await ids(index, 'lunch', { channelId: RANDOM })).toEqual(['r1']);
		expect(await ids(index, 'lunch', { channelId: GENERAL, limit: 2 })).toEqual(['g5', 'g4']);
		expect(await ids(index, 'lunch', { limit: 3 })).toEqual(['r1', 'g5', 'g4']);
	});

	it('replaces an entry on edit and forgets it on removal, in memory and in the store', async () => {
		const store = new MemoryE2eeStore();
		const index = new LocalSearchIndex(store);
		await index.put('m1', entry('meet at the fountain', 1));
		expect(await ids(index, 'fountain')).toEqual(['m1']);
		await index.put('m1', entry('meet at the bridge', 1));
		expect(await ids(index, 'fountain')).toEqual([]);
		expect(await ids(index, 'bridge')).toEqual(['m1']);
		await index.remove('m1');
		expect(await ids(index, 'bridge')).toEqual([]);
		// A fresh index over the same store (a reload) reads what was written.
		await index.put('m2', entry('kept across reloads', 2));
		const reloaded = new LocalSearchIndex(store);
		expect(await ids(reloaded, 'reloads')).toEqual(['m2']);
		expect(await ids(reloaded, 'bridge')).toEqual([]);
		expect((await store.get<IndexedMessage>('plaintextIndex', 'm2'))?.folded).toBe('kept across reloads');
	});

	it('reads the leaner records the engine writes as it decrypts, and replaces them with full ones', async () => {
		const store = new MemoryE2eeStore();
		await store.put('plaintextIndex', 'lean', { channelId: GENERAL, authorId: BEN, text: 'Écrit par le moteur' });
		await store.put('plaintextIndex', 'junk', { text: 42 });
		const index = new LocalSearchIndex(store);
		const [hit, ...rest] = await index.search({ text: 'ecrit moteur' });
		expect(rest).toEqual([]);
		expect(hit).toEqual({ messageId: 'lean', message: { channelId: GENERAL, authorId: BEN, createdAt: '', seq: 0, text: 'Écrit par le moteur', folded: 'ecrit par le moteur' } });
		// The engine writes again (a re-decrypt) after the indexer's full record: the indexer's next
		// put is written even though the copy in memory already has it.
		await index.put('full', entry('the full record', 5));
		await store.put('plaintextIndex', 'full', { channelId: GENERAL, authorId: ANN, text: 'the full record' });
		await index.put('full', entry('the full record', 5));
		expect((await store.get<IndexedMessage>('plaintextIndex', 'full'))?.seq).toBe(5);
	});

	it('the engine recording a decrypt keeps the time and sequence the indexer added', async () => {
		const store = new MemoryE2eeStore();
		await recordDecryptedText(store, 'fresh', { channelId: GENERAL, authorId: BEN, text: 'first seen by the engine' });
		expect(await store.get('plaintextIndex', 'fresh')).toEqual({ channelId: GENERAL, authorId: BEN, text: 'first seen by the engine' });
		const index = new LocalSearchIndex(store);
		await index.put('m1', entry('Original words', 8));
		// A later decrypt (another tab, a re-render) and an edit's decrypt: never leaner, text current.
		await recordDecryptedText(store, 'm1', { channelId: GENERAL, authorId: ANN, text: 'Edited Wörds' });
		expect(await store.get('plaintextIndex', 'm1')).toEqual({ ...entry('Edited Wörds', 8), folded: 'edited words' });
		expect(await ids(new LocalSearchIndex(store), 'words edited')).toEqual(['m1']);
	});

	it('folds text for matching and builds a highlighted snippet from the text as written', () => {
		expect(foldForSearch('Ça SUFFIT, Ångström ﬁ')).toBe('ca suffit, angstrom fi');
		expect(queryWords('  Café, café! rosé ')).toEqual(['cafe', 'rose']);
		const parts = searchSnippet('Lunch at the Café Rosé,\n  then the ROSES garden', queryWords('rose cafe'));
		expect(parts.filter((p) => p.match).map((p) => p.text)).toEqual(['Café', 'Rosé', 'ROSE']);
		expect(parts.map((p) => p.text).join('')).toBe('Lunch at the Café Rosé, then the ROSES garden');
		const long = `${'word '.repeat(60)}needle ${'tail '.repeat(60)}`;
		const cut = searchSnippet(long, ['needle']);
		expect(cut[0]).toEqual({ text: '…', match: false });
		expect(cut.at(-1)).toEqual({ text: '…', match: false });
		expect(cut.find((p) => p.match)?.text).toBe('needle');
	});
});

/** A message as the server lists it. */
function message(id: string, payload: string, seq: number, extra: Partial<MessageView> = {}): MessageView {
	return {
		id,
		channelId: GENERAL,
		seq,
		authorId: BEN,
		clientId: `client-${id}`,
		payload,
		replyToId: null,
		createdAt: new Date(Date.UTC(2026, 0, 1, 12, seq)).toISOString(),
		editedAt: null,
		deletedAt: null,
		reactions: [],
		...extra
	};
}

/** Payloads "enc:<text>" read as encrypted text, "plain:<text>" as a plaintext payload, "locked" as waiting for a key. */
class ScriptedViews {
	unlocked = new Set<string>();
	opened = 0;
	async viewAsync(m: SealedMessage): Promise<DecryptedView> {
		this.opened++;
		if (m.payload.startsWith('enc:')) return { state: 'ok', content: { text: m.payload.slice(4) }, encrypted: true };
		if (m.payload.startsWith('plain:')) return { state: 'ok', content: { text: m.payload.slice(6) }, encrypted: false };
		if (m.payload.startsWith('locked:') && this.unlocked.has(m.id)) return { state: 'ok', content: { text: m.payload.slice(7) }, encrypted: true };
		if (m.payload.startsWith('locked:')) return { state: 'undecryptable', reason: 'Waiting for the key to this message.' };
		return { state: 'forged' };
	}
}

describe('search indexer', () => {
	function setup() {
		const store = new MemoryE2eeStore();
		const index = new LocalSearchIndex(store);
		const views = new ScriptedViews();
		return { store, index, views, indexer: new SearchIndexer(index, views) };
	}

	it('indexes decrypted messages with their channel, author, time and sequence', async () => {
		const { store, index, indexer } = setup();
		await indexer.messagesChanged([message('m1', 'enc:the eagle lands at noon', 7)]);
		expect(await store.get<IndexedMessage>('plaintextIndex', 'm1')).toEqual({
			channelId: GENERAL,
			authorId: BEN,
			createdAt: new Date(Date.UTC(2026, 0, 1, 12, 7)).toISOString(),
			seq: 7,
			text: 'the eagle lands at noon',
			folded: 'the eagle lands at noon'
		});
		expect(await ids(index, 'eagle noon')).toEqual(['m1']);
	});

	it('never indexes plaintext, forged or undecryptable payloads', async () => {
		const { store, index, indexer } = setup();
		await indexer.messagesChanged([message('p', 'plain:server says transfer money', 1), message('f', 'garbage', 2), message('l', 'locked:secret plans', 3)]);
		expect(await store.list('plaintextIndex')).toEqual([]);
		expect(await ids(index, 'transfer')).toEqual([]);
	});

	it('replaces the text on edit, removes it on deletion and when an edit cannot be read', async () => {
		const { index, indexer } = setup();
		await indexer.messagesChanged([message('m1', 'enc:first draft', 1), message('m2', 'enc:second thoughts', 2)]);
		await indexer.messagesChanged([message('m1', 'enc:final version', 1, { editedAt: new Date().toISOString() })]);
		expect(await ids(index, 'draft')).toEqual([]);
		expect(await ids(index, 'final')).toEqual(['m1']);
		// Deleted as the timeline shows it (payload emptied) and by a live event of an unloaded channel.
		await indexer.messagesChanged([message('m1', '', 1, { deletedAt: new Date().toISOString() })]);
		expect(await ids(index, 'final')).toEqual([]);
		await indexer.messageDeleted('m2');
		expect(await ids(index, 'thoughts')).toEqual([]);
		// An edit this device has no key for: the old text is no longer searchable.
		await indexer.messagesChanged([message('m3', 'enc:visible words', 3)]);
		await indexer.messagesChanged([message('m3', 'locked:unknown words', 3)]);
		expect(await ids(index, 'visible')).toEqual([]);
	});

	it('does not open an unchanged message twice, and retries unreadable ones when keys arrive', async () => {
		const { index, views, indexer } = setup();
		const list = [message('m1', 'enc:hello there', 1), message('m2', 'locked:arrives later', 2)];
		await indexer.messagesChanged(list);
		await indexer.messagesChanged(list);
		expect(views.opened).toBe(2);
		expect(await ids(index, 'arrives')).toEqual([]);
		views.unlocked.add('m2');
		await indexer.keysChanged();
		expect(await ids(index, 'arrives later')).toEqual(['m2']);
		expect(views.opened).toBe(3);
	});
});
