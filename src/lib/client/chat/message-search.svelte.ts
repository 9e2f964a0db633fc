// Message search as the header's search field sees it: the query, where to look (this conversation
// or everywhere), the results, and the jump to a result. It searches this device's decrypted
// history only (e2ee/local-search.ts): the server holds ciphertext and cannot search.
import type { E2eeStore } from '../e2ee/contracts.ts';
import { LocalSearchIndex, queryWords, searchSnippet, type IndexedMessage, type SnippetPart } from '../e2ee/local-search.ts';
import { SearchIndexer } from '../e2ee/search-indexer.ts';
import type { ChatState } from './chat-state.svelte.ts';

export type SearchScope = 'channel' | 'all';

export type SearchResult = { messageId: string; message: IndexedMessage; snippet: SnippetPart[] };

/** A result the message list should bring into view. */
export type JumpTarget = { channelId: string; messageId: string; seq: number };

/** Where a result's message was found when its channel was loaded back to it. */
export type RevealOutcome = 'shown' | 'deleted' | 'missing';

const RESULT_LIMIT = 50;
/** Typing pauses this long before a search runs. */
const SEARCH_DELAY_MS = 150;
/** Older pages loaded at most to reach a result (50 messages each): beyond that, say so. */
const MAX_PAGES_TO_REVEAL = 40;

export class MessageSearch {
	/** False when this browser cannot keep an index (no IndexedDB). */
	readonly available: boolean;
	query = $state('');
	scope = $state<SearchScope>('channel');
	results = $state.raw<SearchResult[]>([]);
	status = $state<'idle' | 'searching' | 'done' | 'error'>('idle');
	jumpTarget = $state<JumpTarget | null>(null);
	#chat: ChatState;
	#index: LocalSearchIndex | null;
	#indexer: SearchIndexer | null;
	#timer: ReturnType<typeof setTimeout> | undefined;
	#run = 0;

	constructor(chat: ChatState, store: E2eeStore | null) {
		this.#chat = chat;
		this.#index = store ? new LocalSearchIndex(store) : null;
		this.#indexer = this.#index ? new SearchIndexer(this.#index, chat.codec) : null;
		this.available = this.#index !== null;
	}

	/** Starts indexing what this page decrypts; returns what stops it. */
	attach(): () => void {
		const engine = this.#chat.e2ee;
		return this.#indexer?.attach(this.#chat.sync, engine ? (listener) => engine.onKeysChanged(listener) : null) ?? (() => {});
	}

	/** Searches after a short pause in typing; `channelId` is the conversation on screen. */
	schedule(channelId: string | null): void {
		clearTimeout(this.#timer);
		this.#timer = setTimeout(() => void this.run(channelId), SEARCH_DELAY_MS);
	}

	async run(channelId: string | null): Promise<void> {
		clearTimeout(this.#timer);
		const run = ++this.#run;
		const words = queryWords(this.query);
		if (!this.#index || words.length === 0) {
			this.results = [];
			this.status = 'idle';
			return;
		}
		this.status = 'searching';
		try {
			const hits = await this.#index.search({
				text: this.query,
				...(this.scope === 'channel' && channelId ? { channelId } : {}),
				limit: RESULT_LIMIT
			});
			if (run !== this.#run) return;
			// Conversations this account can no longer open (left, deleted) are not offered.
			this.results = hits
				.filter((hit) => this.#chat.directory.channel(hit.message.channelId))
				.map((hit) => ({ ...hit, snippet: searchSnippet(hit.message.text, words) }));
			this.status = 'done';
		} catch {
			if (run !== this.#run) return;
			this.results = [];
			this.status = 'error';
		}
	}

	clear(): void {
		clearTimeout(this.#timer);
		this.#run++;
		this.query = '';
		this.results = [];
		this.status = 'idle';
	}

	/** The page of a result's conversation. */
	href(channelId: string): string {
		const channel = this.#chat.directory.channel(channelId);
		return channel?.communityId ? `/c/${channel.communityId}/${channelId}` : `/dm/${channelId}`;
	}

	/** Asks the message list of the result's conversation to bring it into view. */
	jumpTo(result: SearchResult): void {
		// A thread reply is shown in its thread, beside the channel (it is not in the channel's list).
		if (result.message.threadRootId) this.#chat.openThread(result.message.channelId, result.message.threadRootId);
		else this.jumpTarget = { channelId: result.message.channelId, messageId: result.messageId, seq: result.message.seq };
	}

	/**
	 * Loads older pages of the result's conversation until its message is loaded (or known to be
	 * gone). A message that was deleted, or is not in the channel any more, leaves the index.
	 */
	async reveal(target: JumpTarget): Promise<RevealOutcome> {
		const sync = this.#chat.sync;
		const timeline = await sync.open(target.channelId);
		for (let page = 0; ; page++) {
			const message = timeline.messages.find((m) => m.id === target.messageId);
			if (message) {
				if (!message.deletedAt) return 'shown';
				await this.#forget(target.messageId);
				return 'deleted';
			}
			const oldest = timeline.oldestSeq;
			if ((oldest !== undefined && oldest <= target.seq) || !timeline.hasMoreBefore) {
				// Loaded back past where it was: the server no longer has it there.
				await this.#forget(target.messageId);
				return 'missing';
			}
			if (page >= MAX_PAGES_TO_REVEAL) return 'missing';
			await sync.loadOlder(target.channelId);
		}
	}

	async #forget(messageId: string): Promise<void> {
		await this.#index?.remove(messageId).catch(() => {});
		this.results = this.results.filter((r) => r.messageId !== messageId);
	}
}
