// This user's threads: which they follow and how far they read each (per channel), the channel's
// list of followed threads (the header's Threads button), and which thread is open beside the
// channel. Marks come from the server (the channel's followed list, each opened thread) and move
// with live events (thread-marks.ts); read markers and follow changes go back to the server.
import type { FollowedThread, FollowedThreads, ThreadPage } from '#lib/shared/api-types.ts';
import type { ChannelEvent, MessageView } from '#lib/shared/protocol/frames.ts';
import type { ApiClient } from '../api.ts';
import { isThreadUnread, markAfterEvent, type ThreadMark } from './thread-marks.ts';

export class Threads {
	/** channelId → rootId → mark. */
	#marks = $state<Record<string, Record<string, ThreadMark>>>({});
	/** channelId → the followed threads as last listed (roots with their summaries), newest activity first. */
	lists = $state<Record<string, FollowedThread[]>>({});
	/** The thread open beside the channel (one at a time). */
	open = $state<{ channelId: string; rootId: string } | null>(null);
	#api: ApiClient;
	#meId: () => string;
	#listRuns = new Map<string, number>();

	constructor(api: ApiClient, meId: () => string) {
		this.#api = api;
		this.#meId = meId;
	}

	mark(channelId: string, rootId: string): ThreadMark | undefined {
		return this.#marks[channelId]?.[rootId];
	}

	isFollowing(channelId: string, rootId: string): boolean {
		return this.mark(channelId, rootId)?.following ?? false;
	}

	/** Whether a root's thread shows as unread here (its summary is the live one on the message). */
	isUnread(root: MessageView): boolean {
		return isThreadUnread(this.mark(root.channelId, root.id), root.thread);
	}

	/** Followed threads of the channel with replies not read yet. */
	unreadCount(channelId: string): number {
		return (this.lists[channelId] ?? []).filter((entry) => isThreadUnread(this.mark(channelId, entry.root.id), entry.root.thread)).length;
	}

	#setMark(channelId: string, rootId: string, mark: ThreadMark) {
		this.#marks[channelId] ??= {};
		this.#marks[channelId][rootId] = mark;
	}

	/** Loads the channel's followed threads (entering the channel, opening the list). */
	async load(channelId: string): Promise<void> {
		const run = (this.#listRuns.get(channelId) ?? 0) + 1;
		this.#listRuns.set(channelId, run);
		const { threads } = await this.#api.get<FollowedThreads>(`/api/channels/${channelId}/threads`);
		if (this.#listRuns.get(channelId) !== run) return;
		for (const entry of threads) {
			const known = this.mark(channelId, entry.root.id);
			this.#setMark(channelId, entry.root.id, { following: true, lastReadSeq: Math.max(known?.lastReadSeq ?? 0, entry.lastReadSeq) });
		}
		this.lists[channelId] = threads;
	}

	/** A thread page arrived: the server's word on following it and the read marker. */
	loaded(channelId: string, rootId: string, page: ThreadPage): void {
		const known = this.mark(channelId, rootId);
		this.#setMark(channelId, rootId, { following: page.following, lastReadSeq: Math.max(known?.lastReadSeq ?? 0, page.lastReadSeq) });
	}

	/** A live or replayed channel event: thread replies move marks and the followed list's summaries. */
	applyEvent(channelId: string, event: ChannelEvent, root: MessageView | undefined): void {
		const thread = event.type === 'message.created' || event.type === 'message.deleted' ? event.thread : undefined;
		if (!thread) return;
		const before = this.mark(channelId, thread.rootId);
		const after = markAfterEvent(before, event, this.#meId(), root?.authorId);
		if (after && after !== before) this.#setMark(channelId, thread.rootId, after);
		const list = this.lists[channelId];
		if (!list) return;
		const { rootId, ...summary } = thread;
		const index = list.findIndex((entry) => entry.root.id === rootId);
		if (index >= 0) {
			// Most recent activity first, as the server lists them.
			const entry = { ...list[index]!, root: { ...list[index]!.root, thread: summary } };
			this.lists[channelId] = event.type === 'message.created' ? [entry, ...list.filter((_, i) => i !== index)] : list.with(index, entry);
		} else if (after?.following && root) {
			this.lists[channelId] = [{ root: { ...root, thread: summary }, lastReadSeq: after.lastReadSeq, unread: false }, ...list];
		} else if (after?.following) {
			// A followed thread whose root this device has not loaded: the server lists it.
			void this.load(channelId).catch(() => {});
		}
	}

	/** This user followed, unfollowed or read a thread in another tab or on another device. */
	applyMark(frame: { channelId: string; rootId: string; following: boolean; lastReadSeq: number }): void {
		const { channelId, rootId } = frame;
		const mark = this.mark(channelId, rootId);
		this.#setMark(channelId, rootId, { following: frame.following, lastReadSeq: Math.max(mark?.lastReadSeq ?? 0, frame.lastReadSeq) });
		const list = this.lists[channelId];
		if (!list) return;
		const listed = list.some((entry) => entry.root.id === rootId);
		if (!frame.following && listed) this.lists[channelId] = list.filter((entry) => entry.root.id !== rootId);
		else if (frame.following && !listed) void this.load(channelId).catch(() => {});
	}

	/** Read up to seq (the newest reply on screen); tells the server once per step forward. */
	markRead(channelId: string, rootId: string, seq: number): void {
		const mark = this.mark(channelId, rootId);
		if (mark && mark.lastReadSeq >= seq) return;
		this.#setMark(channelId, rootId, { following: mark?.following ?? false, lastReadSeq: seq });
		void this.#api.post(`/api/threads/${rootId}/read`, { seq }).catch(() => {});
	}

	async setFollowing(channelId: string, root: MessageView, following: boolean): Promise<void> {
		const mark = this.mark(channelId, root.id);
		if (following) await this.#api.put(`/api/threads/${root.id}/follow`);
		else await this.#api.delete(`/api/threads/${root.id}/follow`);
		this.#setMark(channelId, root.id, { following, lastReadSeq: mark?.lastReadSeq ?? 0 });
		const list = this.lists[channelId];
		if (!list) return;
		if (!following) this.lists[channelId] = list.filter((entry) => entry.root.id !== root.id);
		else if (!list.some((entry) => entry.root.id === root.id)) this.lists[channelId] = [{ root, lastReadSeq: mark?.lastReadSeq ?? 0, unread: false }, ...list];
	}
}
