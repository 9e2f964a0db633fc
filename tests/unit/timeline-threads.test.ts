// Thread replies in the client's channel timeline: kept beside the channel's messages, their events
// set the root's summary, and a thread page merges with what events already brought.
import { describe, expect, it } from 'vitest';
import { ChannelTimeline } from '#lib/client/chat/timeline.ts';
import type { ThreadPage } from '#lib/shared/api-types.ts';
import type { ChannelEvent, MessageView, ThreadSummary } from '#lib/shared/protocol/frames.ts';

const channelId = '11111111-1111-4111-8111-111111111111';
const alice = '22222222-2222-4222-8222-222222222222';

const idOf = (seq: number) => `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`;

function message(seq: number, extra: Partial<MessageView> = {}): MessageView {
	return {
		id: idOf(seq),
		channelId,
		seq,
		authorId: alice,
		clientId: `client-${seq}`,
		payload: `m${seq}`,
		replyToId: null,
		createdAt: new Date(seq * 1000).toISOString(),
		editedAt: null,
		deletedAt: null,
		reactions: [],
		...extra
	};
}

const summary = (replyCount: number, lastReplySeq: number): ThreadSummary => ({ replyCount, lastReplyAt: new Date(lastReplySeq * 1000).toISOString(), lastReplySeq });

/** The event of reply `seq` in the thread of `rootSeq`, the root then having `count` replies. */
function replyEvent(seq: number, rootSeq: number, count: number): ChannelEvent {
	return {
		seq,
		at: 'now',
		actorId: alice,
		type: 'message.created',
		message: message(seq, { threadRootId: idOf(rootSeq) }),
		thread: { rootId: idOf(rootSeq), ...summary(count, seq) }
	};
}

function loaded(lastSeq: number, messages: MessageView[]) {
	const timeline = new ChannelTimeline(channelId);
	timeline.loadLatest({ messages, lastSeq, hasMoreBefore: false, hasMoreAfter: false, notices: [] });
	return timeline;
}

function page(root: MessageView, replies: MessageView[], lastSeq: number): ThreadPage {
	return { root, replies, hasMoreBefore: false, lastSeq, following: true, lastReadSeq: 0 };
}

describe('ChannelTimeline threads', () => {
	it('keeps a live reply out of the channel, in its thread, and sets the root summary', () => {
		const timeline = loaded(1, [message(1)]);
		expect(timeline.apply(replyEvent(2, 1, 1))).toBe('applied');
		expect(timeline.messages.map((m) => m.seq)).toEqual([1]);
		expect(timeline.threadReplies(idOf(1)).map((m) => m.seq)).toEqual([2]);
		expect(timeline.get(idOf(1))?.thread).toEqual(summary(1, 2));
		expect(timeline.cursor).toBe(2);
	});

	it('a deletion lowers the summary to what its event says and leaves a tombstone in the thread', () => {
		const timeline = loaded(1, [message(1)]);
		timeline.apply(replyEvent(2, 1, 1));
		timeline.apply(replyEvent(3, 1, 2));
		timeline.apply({ seq: 4, at: 'then', actorId: alice, type: 'message.deleted', messageId: idOf(2), thread: { rootId: idOf(1), ...summary(1, 3) } });
		expect(timeline.get(idOf(1))?.thread).toEqual(summary(1, 3));
		expect(timeline.threadReplies(idOf(1)).map((m) => [m.seq, m.deletedAt, m.payload])).toEqual([
			[2, 'then', ''],
			[3, null, 'm3']
		]);
	});

	it('a thread page adds older replies and keeps what events brought (newer), without duplicates', () => {
		const timeline = loaded(3, [message(1)]);
		timeline.apply(replyEvent(4, 1, 2));
		timeline.apply({ seq: 5, at: 'now', actorId: alice, type: 'message.edited', messageId: idOf(4), payload: 'edited', editedAt: 'now' });
		// The page was read before the edit (lastSeq 4): its copy of reply 4 is older than ours.
		timeline.mergeThread(page(message(1, { thread: summary(2, 4) }), [message(2, { threadRootId: idOf(1) }), message(4, { threadRootId: idOf(1) })], 4));
		expect(timeline.threadReplies(idOf(1)).map((m) => [m.seq, m.payload])).toEqual([
			[2, 'm2'],
			[4, 'edited']
		]);
		expect(timeline.loadedThreads.has(idOf(1))).toBe(true);
	});

	it('a deletion that came before the page holding the reply still applies to it', () => {
		const timeline = loaded(3, [message(1)]);
		timeline.apply({ seq: 4, at: 'then', actorId: alice, type: 'message.deleted', messageId: idOf(2), thread: { rootId: idOf(1), ...summary(0, 2) } });
		timeline.mergeThread(page(message(1, { thread: summary(1, 2) }), [message(2, { threadRootId: idOf(1) })], 3));
		expect(timeline.threadReplies(idOf(1))[0]).toMatchObject({ deletedAt: 'then', payload: '' });
		// The summary of the page is older than the cursor: the event's stays.
		expect(timeline.get(idOf(1))?.thread).toEqual(summary(0, 2));
	});

	it('a root beyond the loaded pages is kept for its thread, and becomes the channel message when its page loads', () => {
		const timeline = loaded(10, [message(9)]);
		timeline.mergeThread(page(message(1, { thread: summary(1, 2) }), [message(2, { threadRootId: idOf(1) })], 10));
		expect(timeline.messages.map((m) => m.seq)).toEqual([9]);
		timeline.apply(replyEvent(11, 1, 2));
		expect(timeline.get(idOf(1))?.thread).toEqual(summary(2, 11));
		timeline.prependOlder({ messages: [message(1, { thread: summary(1, 2) })], lastSeq: 11, hasMoreBefore: false, hasMoreAfter: false, notices: [] });
		expect(timeline.messages.map((m) => m.seq)).toEqual([1, 9]);
		// The live summary wins over the older page's.
		expect(timeline.messages[0]!.thread).toEqual(summary(2, 11));
	});

	it('a summary for a root not loaded yet waits for it', () => {
		const timeline = loaded(10, [message(9)]);
		timeline.apply(replyEvent(11, 1, 5));
		timeline.prependOlder({ messages: [message(1)], lastSeq: 11, hasMoreBefore: false, hasMoreAfter: false, notices: [] });
		expect(timeline.messages[0]!.thread).toEqual(summary(5, 11));
	});
});
