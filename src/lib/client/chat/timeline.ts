// One channel as this client knows it: the loaded messages in sequence order, and the cursor (the
// last event applied). Events must be applied in sequence: one that arrives early is held back
// until the gap before it is filled (the owner asks the server to resume from the cursor). Applying
// is idempotent, so an event seen twice (live and in a replay) changes nothing the second time.
//
// Thread replies are channel events too (same cursor, same resume), but they live beside the
// channel's messages: `messages` holds the channel's own, `threadReplies(rootId)` a thread's, and a
// reply's event sets its root's summary (reply count, newest reply), which the channel shows.
import type { HistoryPage, MemberNotice, ThreadPage } from '#lib/shared/api-types.ts';
import type { ChannelEvent, MessageView, ThreadUpdate } from '#lib/shared/protocol/frames.ts';

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
	/** Thread replies seen (loaded with their thread, or arrived live), per root, in seq order. */
	#replies = new Map<string, MessageView[]>();
	/** Roots' summaries from events whose root is not loaded (yet): applied when it comes. */
	#summaries = new Map<string, ThreadUpdate>();
	/** Deletions of messages not loaded when they came (a thread page on its way may still hold them). */
	#deletedUnknown = new Map<string, string>();
	/** Roots of threads opened here that are not among the loaded channel messages (further back). */
	#outsideRoots = new Map<string, MessageView>();
	/** Threads loaded with loadThread: reloading the channel (resync) loads them again. */
	readonly loadedThreads = new Set<string>();

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
		this.#replies.clear();
		this.#summaries.clear();
		this.#deletedUnknown.clear();
		this.#outsideRoots.clear();
		this.loadedThreads.clear();
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
				const existing = this.get(event.message.id);
				if (existing) Object.assign(existing, event.message);
				else this.#insert({ ...event.message, reactions: event.message.reactions.map((r) => ({ ...r, userIds: [...r.userIds] })) });
				if (event.thread) this.#setSummary(event.thread);
				return;
			}
			case 'message.edited': {
				const message = this.get(event.messageId);
				if (message && !message.deletedAt) {
					message.payload = event.payload;
					message.editedAt = event.editedAt;
				}
				return;
			}
			case 'message.deleted': {
				const message = this.get(event.messageId);
				if (message) markDeleted(message, event.at);
				else this.#deletedUnknown.set(event.messageId, event.at);
				if (event.thread) this.#setSummary(event.thread);
				return;
			}
			case 'reaction.added':
			case 'reaction.removed': {
				const message = this.get(event.messageId);
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
				const message = this.get(event.messageId);
				if (message && !message.deletedAt) {
					if (event.type === 'message.pinned') message.pinnedAt = event.at;
					else delete message.pinnedAt;
				}
				this.#addNotices([{ seq: event.seq, type: event.type, user: event.user, at: event.at, messageId: event.messageId }]);
				return;
			}
		}
	}

	#setSummary(update: ThreadUpdate) {
		const { rootId, ...summary } = update;
		const root = this.get(rootId);
		if (root) root.thread = summary;
		else this.#summaries.set(rootId, update);
	}

	/** Adds a thread page (root and replies); what events already brought is newer and kept. */
	mergeThread(page: ThreadPage): void {
		this.loadedThreads.add(page.root.id);
		const root = this.get(page.root.id);
		if (!root) {
			// A root from beyond the loaded pages: kept for its thread, not shown in the channel.
			this.#outsideRoots.set(page.root.id, { ...page.root });
		} else if (this.cursor !== null && page.lastSeq >= this.cursor) {
			if (page.root.thread) root.thread = page.root.thread;
		}
		for (const reply of page.replies) if (!this.#byId.has(reply.id)) this.#insert({ ...reply });
	}

	/** The replies of a thread seen so far, oldest first. */
	threadReplies(rootId: string): readonly MessageView[] {
		return this.#replies.get(rootId) ?? [];
	}

	#insert(message: MessageView) {
		const deletedAt = this.#deletedUnknown.get(message.id);
		if (deletedAt) {
			markDeleted(message, deletedAt);
			this.#deletedUnknown.delete(message.id);
		}
		this.#byId.set(message.id, message);
		if (message.threadRootId) {
			const replies = this.#replies.get(message.threadRootId) ?? [];
			insertInOrder(replies, message);
			this.#replies.set(message.threadRootId, replies);
			return;
		}
		// A root first loaded with its thread now comes with a channel page: one object from now on.
		const outside = this.#outsideRoots.get(message.id);
		if (outside) {
			this.#outsideRoots.delete(message.id);
			if (outside.thread) message.thread = outside.thread;
		}
		const summary = this.#summaries.get(message.id);
		if (summary) {
			const { rootId: _, ...rest } = summary;
			message.thread = rest;
			this.#summaries.delete(message.id);
		}
		insertInOrder(this.messages, message);
	}

	get(messageId: string): MessageView | undefined {
		return this.#byId.get(messageId) ?? this.#outsideRoots.get(messageId);
	}
}

/** Keeps sequence order; new messages almost always go at the end. */
function insertInOrder(list: MessageView[], message: MessageView) {
	let index = list.length;
	while (index > 0 && list[index - 1]!.seq > message.seq) index -= 1;
	list.splice(index, 0, message);
}

function markDeleted(message: MessageView, at: string) {
	message.payload = '';
	message.deletedAt ??= at;
	message.reactions = [];
	delete message.pinnedAt;
}
