// An edited message's earlier versions, as its "edited" marker shows them: fetched as ciphertext
// (GET /api/messages/:id/revisions) and opened on this device with the message's own identity, so
// the same checks apply as to the message (author's sender key, channel, replay protection).
import type { MessageRevisions } from '#lib/shared/api-types.ts';
import type { MessageView } from '#lib/shared/protocol/frames.ts';
import type { ApiClient } from '../api.ts';
import type { DecryptedView, MessageCodec } from '../e2ee/message-codec.svelte.ts';

export type MessageVersion = { view: DecryptedView; writtenAt: string; current: boolean };

export class EditHistory {
	/** Newest first: the current text, then what it replaced, back to the original. */
	versions = $state.raw<MessageVersion[]>([]);
	status = $state<'loading' | 'ready' | 'error'>('loading');
	error = $state<string | null>(null);
	#api: ApiClient;
	#codec: MessageCodec;

	constructor(api: ApiClient, codec: MessageCodec) {
		this.#api = api;
		this.#codec = codec;
	}

	async load(message: MessageView): Promise<void> {
		this.status = 'loading';
		try {
			const { revisions, current } = await this.#api.get<MessageRevisions>(`/api/messages/${message.id}/revisions`);
			const open = (payload: string) =>
				this.#codec.cipher
					.open({ id: message.id, channelId: message.channelId, authorId: message.authorId, payload }, { revision: true })
					.catch((): DecryptedView => ({ state: 'undecryptable', reason: 'This version could not be decrypted.' }));
			const earlier = await Promise.all(revisions.map(async (revision) => ({ view: await open(revision.payload), writtenAt: revision.writtenAt, current: false })));
			this.versions = [{ view: this.#codec.view(message), writtenAt: current.writtenAt, current: true }, ...earlier.reverse()];
			this.status = 'ready';
			this.error = null;
		} catch (error) {
			this.status = 'error';
			this.error = error instanceof Error ? error.message : 'Could not load the earlier versions.';
		}
	}
}
