// One channel as this client knows it: the loaded messages in sequence order, and the cursor (the
// last event applied). Events must be applied in sequence: one that arrives early is held back
// until the gap before it is filled (the owner asks the server to resume from the cursor). Applying
// is idempotent, so an event seen twice (live and in a replay) changes nothing the second time.
import type { HistoryPage, MemberNotice } from '#lib/shared/api-types.ts';
import type { ChannelEvent, MessageView } from '#lib/shared/protocol/frames.ts';

export type { MemberNotice };
export type ApplyOutcome = 'applied' | 'stale' | 'gap' | 'not-loaded';

// Events held back while a gap is filled; beyond this the timeline is simply reloaded.
const MAX_BUFFERED = 2000;

export class ChannelTimeline {
	readonly channelId: string;
	/** Highest sequence number applied; null until the first page is loaded. */
	cursor: number | null = null;
	messages: MessageView[] = [];
	notices: MemberNotice[] = [];
	hasMoreBefore = false;
	#byId = new Map<string, MessageView>();
	#buffer = new Map<number, ChannelEvent>();

	constructor(channelId: string) {
		this.channelId = channelId;
	}

	get loaded(): boolean {
		return this.cursor !== null;
	}

	/** Replaces the state with the newest page; buffered events after it are applied. */
	loadLatest(page: HistoryPage): void {
		this.messages = [];
		this.notices = [];
		this.#byId.clear();
		for (const message of page.messages) this.#insert(message);
		this.#addNotices(page.notices);
		this.cursor = page.lastSeq;
		this.hasMoreBefore = page.hasMoreBefore;
		for (const seq of [...this.#buffer.keys()]) if (seq <= this.cursor) this.#buffer.delete(seq);
		this.#drain();
	}

	/** Adds an older page (scrolling back); the cursor is unaffected. */
	prependOlder(page: HistoryPage): void {
		for (const message of page.messages) if (!this.#byId.has(message.id)) this.#insert(message);
		this.#addNotices(page.notices);
		this.hasMoreBefore = page.hasMoreBefore;
	}

	/** Adds notices not held yet, keeping sequence order. */
	#addNotices(notices: readonly MemberNotice[]) {
		const known = new Set(this.notices.map((n) => n.seq));
		const fresh = notices.filter((n) => !known.has(n.seq));
		if (fresh.length === 0) return;
		this.notices = [...this.notices, ...fresh].sort((a, b) => a.seq - b.seq);
	}

	get oldestSeq(): number | undefined {
		return this.messages[0]?.seq;
	}

	get bufferedCount(): number {
		return this.#buffer.size;
	}

	apply(event: ChannelEvent): ApplyOutcome {
		if (this.cursor === null) {
			// The first page is on its way: keep the event, loadLatest applies it if the page predates it.
			if (this.#buffer.size < MAX_BUFFERED) this.#buffer.set(event.seq, event);
			return 'not-loaded';
		}
		if (event.seq <= this.cursor) return 'stale';
		if (event.seq > this.cursor + 1) {
			if (this.#buffer.size < MAX_BUFFERED) this.#buffer.set(event.seq, event);
			return 'gap';
		}
		this.#applyInOrder(event);
		this.#drain();
		return 'applied';
	}

	#drain() {
		while (this.cursor !== null) {
			const next = this.#buffer.get(this.cursor + 1);
			if (!next) break;
			this.#buffer.delete(next.seq);
			this.#applyInOrder(next);
		}
	}

	#applyInOrder(event: ChannelEvent) {
		this.cursor = event.seq;
		switch (event.type) {
			case 'message.created': {
				const existing = this.#byId.get(event.message.id);
				if (existing) Object.assign(existing, event.message);
				else this.#insert({ ...event.message, reactions: event.message.reactions.map((r) => ({ ...r, userIds: [...r.userIds] })) });
				return;
			}
			case 'message.edited': {
				const message = this.#byId.get(event.messageId);
				if (message && !message.deletedAt) {
					message.payload = event.payload;
					message.editedAt = event.editedAt;
				}
				return;
			}
			case 'message.deleted': {
				const message = this.#byId.get(event.messageId);
				if (message) {
					message.payload = '';
					message.deletedAt ??= event.at;
					message.reactions = [];
					delete message.pinnedAt;
				}
				return;
			}
			case 'reaction.added':
			case 'reaction.removed': {
				const message = this.#byId.get(event.messageId);
				if (!message) return;
				let entry = message.reactions.find((r) => r.key === event.key);
				if (event.type === 'reaction.added') {
					if (!entry) message.reactions.push((entry = { key: event.key, userIds: [] }));
					if (!entry.userIds.includes(event.userId)) entry.userIds.push(event.userId);
				} else if (entry) {
					entry.userIds = entry.userIds.filter((id) => id !== event.userId);
					if (entry.userIds.length === 0) message.reactions = message.reactions.filter((r) => r !== entry);
				}
				return;
			}
			case 'member.joined':
			case 'member.left':
				this.#addNotices([{ seq: event.seq, type: event.type, user: event.user, at: event.at }]);
				return;
			case 'disappearing.set':
				this.#addNotices([{ seq: event.seq, type: event.type, user: event.user, at: event.at, seconds: event.seconds }]);
				return;
			case 'message.pinned':
			case 'message.unpinned': {
				const message = this.#byId.get(event.messageId);
				if (message && !message.deletedAt) {
					if (event.type === 'message.pinned') message.pinnedAt = event.at;
					else delete message.pinnedAt;
				}
				this.#addNotices([{ seq: event.seq, type: event.type, user: event.user, at: event.at, messageId: event.messageId }]);
				return;
			}
		}
	}

	#insert(message: MessageView) {
		this.#byId.set(message.id, message);
		// Keep sequence order; new messages almost always go at the end.
		let index = this.messages.length;
		while (index > 0 && this.messages[index - 1]!.seq > message.seq) index -= 1;
		this.messages.splice(index, 0, message);
	}

	get(messageId: string): MessageView | undefined {
		return this.#byId.get(messageId);
	}
}
