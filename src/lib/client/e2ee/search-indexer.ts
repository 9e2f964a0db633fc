// Feeds the local search index (local-search.ts) with what this device decrypts: every message of a
// loaded timeline is opened through the message codec (the same views the timeline renders, cached
// by the engine, so nothing is decrypted twice) and, when it reads as an encrypted message, its text
// goes into `plaintextIndex`. An edit (new payload) replaces the entry; a deletion removes it, and
// so does an edit this device cannot read. Messages waiting for a key are tried again when keys
// arrive.
//
// Only end-to-end encrypted messages are indexed: a plaintext payload (written before encryption,
// or put there by the server) is shown marked "Not encrypted" but never becomes a search result, so
// the server cannot plant results in a search that claims to cover decrypted messages.
import type { ChannelEvent, MessageView } from '#lib/shared/protocol/frames.ts';
import type { LocalSearchIndex } from './local-search.ts';
import type { DecryptedView, SealedMessage } from './message-codec.svelte.ts';

/** What the indexer needs of the message codec. */
export type ViewSource = { viewAsync(message: SealedMessage): Promise<DecryptedView> };

/** What the indexer needs of ChatSync: its timelines and their change events. */
export type TimelineSource = {
	on(event: 'timeline', listener: (channelId: string) => void): () => void;
	on(event: 'event', listener: (channelId: string, event: ChannelEvent) => void): () => void;
	timeline(channelId: string): { messages: readonly MessageView[] } | undefined;
};

export class SearchIndexer {
	#index: LocalSearchIndex;
	#views: ViewSource;
	/** message id → the payload last handled (so an unchanged message is not looked at again). */
	#handled = new Map<string, string>();
	/** Messages that could not be read yet: tried again when keys arrive. */
	#unreadable = new Map<string, MessageView>();
	/** One message at a time, in arrival order: an edit never overtakes the message it edits. */
	#queue: Promise<void> = Promise.resolve();

	constructor(index: LocalSearchIndex, views: ViewSource) {
		this.#index = index;
		this.#views = views;
	}

	/** Wires the indexer to the timelines and to the engine's "keys arrived" signal. */
	attach(source: TimelineSource, onKeysChanged: ((listener: () => void) => () => void) | null): () => void {
		const stops = [
			source.on('timeline', (channelId) => this.messagesChanged(source.timeline(channelId)?.messages ?? [])),
			// A deletion in a channel whose timeline is not loaded still removes its entry.
			source.on('event', (_channelId, event) => {
				if (event.type === 'message.deleted') this.messageDeleted(event.messageId);
			}),
			onKeysChanged?.(() => this.keysChanged()) ?? (() => {})
		];
		return () => {
			for (const stop of stops) stop();
		};
	}

	/** Looks at every message whose payload changed since it was last handled. */
	messagesChanged(messages: readonly MessageView[]): Promise<void> {
		for (const message of messages) {
			if (this.#handled.get(message.id) === message.payload) continue;
			this.#handled.set(message.id, message.payload);
			this.#enqueue(() => this.#handle(message));
		}
		return this.#queue;
	}

	messageDeleted(messageId: string): Promise<void> {
		this.#handled.set(messageId, '');
		this.#unreadable.delete(messageId);
		return this.#enqueue(() => this.#index.remove(messageId));
	}

	/** New keys arrived: what could not be read may read now. */
	keysChanged(): Promise<void> {
		const retry = [...this.#unreadable.values()];
		this.#unreadable.clear();
		for (const message of retry) this.#handled.delete(message.id);
		return this.messagesChanged(retry);
	}

	/** Resolves when everything handed in so far is indexed (tests). */
	settled(): Promise<void> {
		return this.#queue;
	}

	#enqueue(work: () => Promise<void>): Promise<void> {
		// A failure (store unavailable, a view that throws) skips that message; it is never logged
		// with its contents.
		this.#queue = this.#queue.then(work).catch(() => {});
		return this.#queue;
	}

	async #handle(message: MessageView): Promise<void> {
		this.#unreadable.delete(message.id);
		if (message.deletedAt || message.payload === '') {
			await this.#index.remove(message.id);
			return;
		}
		const view = await this.#views.viewAsync(message);
		// Superseded while it was opened (edited or deleted since): the newer work is queued.
		if (this.#handled.get(message.id) !== message.payload) return;
		if (view.state === 'ok' && view.encrypted) {
			await this.#index.put(message.id, {
				channelId: message.channelId,
				authorId: message.authorId,
				createdAt: message.createdAt,
				seq: message.seq,
				text: view.content.text,
				...(message.threadRootId ? { threadRootId: message.threadRootId } : {})
			});
			return;
		}
		if (view.state === 'undecryptable' || view.state === 'pending') this.#unreadable.set(message.id, message);
		// Unreadable (an edit this device has no key for), forged or plaintext: no text of it is searchable.
		await this.#index.remove(message.id);
	}
}
