// The rules of thread following and unread markers, framework-free (threads.svelte.ts holds the
// state; unit tests drive these directly). A person follows a thread they started (the root's
// author) or replied in, and may switch it off and on; a followed thread is unread while its newest
// reply is beyond their read marker in it. The server keeps the same rules (services/threads.ts).
import type { ChannelEvent, ThreadSummary } from '#lib/shared/protocol/frames.ts';

export type ThreadMark = { following: boolean; lastReadSeq: number };

/** Whether a thread shows as unread: followed, and a reply newer than what was read. */
export function isThreadUnread(mark: ThreadMark | undefined, summary: ThreadSummary | undefined): boolean {
	if (!mark?.following || !summary || summary.replyCount === 0) return false;
	return (summary.lastReplySeq ?? 0) > mark.lastReadSeq;
}

/**
 * The mark after a thread event: replying follows the thread and reads it up to the reply; a reply
 * under one's own message follows the thread unless it was unfollowed before (mark present).
 * Returns the same mark when nothing changes.
 */
export function markAfterEvent(
	mark: ThreadMark | undefined,
	event: ChannelEvent,
	meId: string,
	rootAuthorId: string | undefined
): ThreadMark | undefined {
	if (event.type !== 'message.created' || !event.message.threadRootId) return mark;
	if (event.message.authorId === meId) return { following: true, lastReadSeq: Math.max(mark?.lastReadSeq ?? 0, event.seq) };
	if (!mark && rootAuthorId === meId) return { following: true, lastReadSeq: 0 };
	return mark;
}

/** "1 reply", "3 replies": the count under a thread's root. */
export function replyCountLabel(count: number): string {
	return count === 1 ? '1 reply' : `${count} replies`;
}
