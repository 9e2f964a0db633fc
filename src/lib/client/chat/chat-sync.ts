// Keeps this client's channels in step with the server: loads history, applies live events in
// sequence, fills gaps, resumes after every reconnect from the cursors it holds, refetches a
// channel when told it is too far behind, and sends through the outbox so nothing typed is lost.
// Framework-free: the Svelte state (chat-state.svelte.ts) and the Node tests both drive it.
import type { HistoryPage } from '#lib/shared/api-types.ts';
import type { ChannelEvent, MessageView, ServerFrame } from '#lib/shared/protocol/frames.ts';
import type { Mentions } from '#lib/shared/mentions.ts';
import type { ApiClient } from '../api.ts';
import { Disconnected, type RealtimeConnection } from '../realtime/connection.ts';
import { Outbox, type OutboxStorage, type SealPayload, type SendAck } from '../realtime/outbox.ts';
import { ChannelTimeline } from './timeline.ts';

// After the server failed to answer a resume (not a disconnect), it is asked again this much later.
const RESUME_RETRY_MS = 2_000;

export type ChatSyncEvents = {
	/** A channel's timeline changed (messages, reactions, notices). */
	timeline: (channelId: string) => void;
	/** A live or replayed event was applied (unread counters, notifications listen here). */
	event: (channelId: string, event: ChannelEvent) => void;
	/** The outbox changed (pending or failed sends). */
	outbox: () => void;
	/** Any other server frame (presence, typing, read markers, directory changes). */
	frame: (frame: ServerFrame) => void;
	/** Resumed after a (re)connect: sidebars should refetch counts they hold. */
	resumed: () => void;
	/** The server acknowledged a send: it is durable from now on. */
	acked: (ack: SendAck) => void;
};

export type ChatSyncOptions = {
	connection: RealtimeConnection;
	api: ApiClient;
	outboxStorage: OutboxStorage;
	/** Encrypts a body at send time (end-to-end encryption); without it bodies go out as written. */
	seal?: SealPayload;
	/**
	 * A loaded message is about to be deleted (by its author, a moderator or its disappearing timer):
	 * its payload is still there, so the device can drop what it keeps for it (its message key).
	 */
	onDeleting?: (message: MessageView) => void;
	pageSize?: number;
};

export class ChatSync {
	readonly connection: RealtimeConnection;
	readonly outbox: Outbox;
	#api: ApiClient;
	#pageSize: number;
	#onDeleting: ((message: MessageView) => void) | undefined;
	#timelines = new Map<string, ChannelTimeline>();
	#loading = new Map<string, Promise<ChannelTimeline>>();
	#resuming = new Set<string>();
	#listeners: { [K in keyof ChatSyncEvents]: Set<ChatSyncEvents[K]> } = {
		timeline: new Set(),
		event: new Set(),
		outbox: new Set(),
		frame: new Set(),
		resumed: new Set(),
		acked: new Set()
	};

	constructor(options: ChatSyncOptions) {
		this.connection = options.connection;
		this.#api = options.api;
		this.#pageSize = options.pageSize ?? 50;
		this.#onDeleting = options.onDeleting;
		this.outbox = new Outbox({
			connection: this.connection,
			storage: options.outboxStorage,
			onChange: () => this.#emit('outbox'),
			onAck: (ack) => this.#onAck(ack),
			...(options.seal ? { seal: options.seal } : {})
		});
		this.connection.on('ready', () => void this.#resumeAll());
		this.connection.on('frame', (frame) => this.#onFrame(frame));
	}

	on<K extends keyof ChatSyncEvents>(event: K, listener: ChatSyncEvents[K]): () => void {
		this.#listeners[event].add(listener);
		return () => this.#listeners[event].delete(listener);
	}

	timeline(channelId: string): ChannelTimeline | undefined {
		return this.#timelines.get(channelId);
	}

	/** The channel's timeline, loading its newest page the first time. */
	open(channelId: string): Promise<ChannelTimeline> {
		const existing = this.#timelines.get(channelId);
		if (existing?.loaded) return Promise.resolve(existing);
		let loading = this.#loading.get(channelId);
		if (!loading) {
			loading = this.#reload(channelId).finally(() => this.#loading.delete(channelId));
			this.#loading.set(channelId, loading);
		}
		return loading;
	}

	/** Loads the page before the oldest loaded message; false when there is nothing older. */
	async loadOlder(channelId: string): Promise<boolean> {
		const timeline = await this.open(channelId);
		if (!timeline.hasMoreBefore || timeline.oldestSeq === undefined) return false;
		const page = await this.#api.get<HistoryPage>(`/api/channels/${channelId}/messages?before=${timeline.oldestSeq}&limit=${this.#pageSize}`);
		timeline.prependOlder(page);
		this.#emit('timeline', channelId);
		return page.messages.length > 0;
	}

	/** Queues a message; it is stored locally first and sent until acknowledged. */
	send(channelId: string, payload: string, replyToId?: string, mentions?: Mentions | null) {
		return this.outbox.enqueue({ channelId, payload, ...(replyToId ? { replyToId } : {}), ...(mentions ? { mentions } : {}) });
	}

	/** Forgets a channel (left the community); its events are ignored from now on. */
	forget(channelId: string): void {
		this.#timelines.delete(channelId);
	}

	// ------------------------------------------------------------------------------------------

	#emit<K extends keyof ChatSyncEvents>(event: K, ...args: Parameters<ChatSyncEvents[K]>) {
		for (const listener of this.#listeners[event]) (listener as (...a: Parameters<ChatSyncEvents[K]>) => void)(...args);
	}

	async #reload(channelId: string): Promise<ChannelTimeline> {
		// The timeline exists before the page is fetched, so live events that arrive while it is on its
		// way are held (not dropped) and applied after it when the page predates them.
		let timeline = this.#timelines.get(channelId);
		if (!timeline) {
			timeline = new ChannelTimeline(channelId);
			this.#timelines.set(channelId, timeline);
		}
		let page: HistoryPage;
		try {
			page = await this.#api.get<HistoryPage>(`/api/channels/${channelId}/messages?limit=${this.#pageSize}`);
		} catch (error) {
			if (!timeline.loaded && this.#timelines.get(channelId) === timeline) this.#timelines.delete(channelId);
			throw error;
		}
		timeline.loadLatest(page);
		this.#emit('timeline', channelId);
		// Held events beyond a gap after the page: ask the server for what lies between.
		if (timeline.bufferedCount > 0) void this.#resume([channelId]);
		return timeline;
	}

	#onAck(ack: SendAck) {
		// The message itself arrives as a channel event (possibly before this ack).
		this.#emit('acked', ack);
	}

	#onFrame(frame: ServerFrame) {
		switch (frame.t) {
			case 'event':
				this.#applyEvents(frame.channelId, [frame.event]);
				return;
			case 'events':
				this.#applyEvents(frame.channelId, frame.events);
				return;
			case 'resync':
				// Too far behind to replay: start the channel over from its newest page.
				if (this.#timelines.has(frame.channelId)) void this.#reload(frame.channelId).catch(() => {});
				return;
			default:
				this.#emit('frame', frame);
		}
	}

	#applyEvents(channelId: string, events: ChannelEvent[]) {
		const timeline = this.#timelines.get(channelId);
		let changed = false;
		let gap = false;
		for (const event of events) {
			if (event.type === 'message.deleted' && timeline && this.#onDeleting) {
				const message = timeline.get(event.messageId);
				if (message && message.payload !== '') this.#onDeleting({ ...message });
			}
			const outcome = timeline ? timeline.apply(event) : 'not-loaded';
			if (outcome === 'applied') changed = true;
			if (outcome === 'gap') gap = true;
			// Unloaded channels still report events, so sidebars can count unread messages.
			if (outcome === 'applied' || outcome === 'not-loaded') this.#emit('event', channelId, event);
		}
		if (changed) this.#emit('timeline', channelId);
		if (gap) void this.#resume([channelId]);
	}

	async #resumeAll() {
		const loaded = [...this.#timelines.values()].filter((t) => t.loaded).map((t) => t.channelId);
		await this.#resume(loaded, true);
	}

	/** Asks the server for everything after our cursors; replies arrive as `events`/`resync` frames. */
	async #resume(channelIds: string[], announce = false) {
		const wanted = channelIds.filter((id) => !this.#resuming.has(id));
		const cursors = wanted
			.map((channelId) => ({ channelId, seq: this.#timelines.get(channelId)?.cursor ?? null }))
			.filter((c): c is { channelId: string; seq: number } => c.seq !== null);
		if (cursors.length === 0 && !announce) return;
		for (const c of cursors) this.#resuming.add(c.channelId);
		let failed = false;
		try {
			if (cursors.length > 0) {
				const result = await this.connection.request({ t: 'resume', cursors });
				for (const channelId of (result.inaccessible as string[] | undefined) ?? []) this.forget(channelId);
			}
			if (announce) this.#emit('resumed');
		} catch (error) {
			// A drop during resume: the next `ready` resumes again from the same cursors. Any other
			// failure (the server's database was away): ask again shortly on this connection.
			failed = !(error instanceof Disconnected);
		} finally {
			for (const c of cursors) this.#resuming.delete(c.channelId);
		}
		if (failed) {
			setTimeout(() => {
				if (this.connection.state === 'open') void this.#resume(wanted, announce);
			}, RESUME_RETRY_MS);
			return;
		}
		// Events that arrived during the resume may have opened a new gap: resume again where the
		// cursor moved, and reload where it did not (the replay could not fill the gap).
		if (this.connection.state !== 'open') return;
		const again: string[] = [];
		for (const c of cursors) {
			const timeline = this.#timelines.get(c.channelId);
			if (!timeline || timeline.bufferedCount === 0) continue;
			if (timeline.cursor !== c.seq) again.push(c.channelId);
			else void this.#reload(c.channelId).catch(() => {});
		}
		if (again.length > 0) void this.#resume(again);
	}
}
