// A channel's pinned list as its dialog shows it: loaded from the server (ciphertext, decrypted by
// the message codec like any message), loaded again whenever a pin changes in the channel.
import type { PinnedList } from '#lib/shared/api-types.ts';
import type { ApiClient } from '../api.ts';

export type PinnedEntry = PinnedList['pins'][number];

export class PinnedMessages {
	readonly channelId: string;
	pins = $state.raw<PinnedEntry[]>([]);
	status = $state<'loading' | 'ready' | 'error'>('loading');
	error = $state<string | null>(null);
	#api: ApiClient;
	#run = 0;

	constructor(api: ApiClient, channelId: string) {
		this.#api = api;
		this.channelId = channelId;
	}

	async load(): Promise<void> {
		const run = ++this.#run;
		try {
			const list = await this.#api.get<PinnedList>(`/api/channels/${this.channelId}/pins`);
			// A slower earlier load must not overwrite a newer one.
			if (run !== this.#run) return;
			this.pins = list.pins;
			this.status = 'ready';
			this.error = null;
		} catch (error) {
			if (run !== this.#run) return;
			this.status = 'error';
			this.error = error instanceof Error ? error.message : 'Could not load the pinned messages.';
		}
	}
}
