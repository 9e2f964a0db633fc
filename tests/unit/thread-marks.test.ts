import { describe, expect, it } from 'vitest';
import { isThreadUnread, markAfterEvent, replyCountLabel } from '#lib/client/chat/thread-marks.ts';
import type { ChannelEvent, MessageView } from '#lib/shared/protocol/frames.ts';

const me = '22222222-2222-4222-8222-222222222222';
const other = '33333333-3333-4333-8333-333333333333';
const rootId = '00000000-0000-4000-8000-000000000001';

function reply(seq: number, authorId: string): ChannelEvent {
	const message: MessageView = {
		id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
		channelId: '11111111-1111-4111-8111-111111111111',
		seq,
		authorId,
		clientId: `c${seq}`,
		payload: 'x',
		replyToId: null,
		createdAt: 'now',
		editedAt: null,
		deletedAt: null,
		reactions: [],
		threadRootId: rootId
	};
	return { seq, at: 'now', actorId: authorId, type: 'message.created', message, thread: { rootId, replyCount: 1, lastReplyAt: 'now', lastReplySeq: seq } };
}

describe('thread marks', () => {
	it('a followed thread is unread while its newest reply is beyond the read marker', () => {
		expect(isThreadUnread({ following: true, lastReadSeq: 4 }, { replyCount: 2, lastReplyAt: 'x', lastReplySeq: 5 })).toBe(true);
		expect(isThreadUnread({ following: true, lastReadSeq: 5 }, { replyCount: 2, lastReplyAt: 'x', lastReplySeq: 5 })).toBe(false);
	});

	it('an unfollowed or unknown thread, or one whose replies were all deleted, is never unread', () => {
		expect(isThreadUnread({ following: false, lastReadSeq: 0 }, { replyCount: 2, lastReplyAt: 'x', lastReplySeq: 5 })).toBe(false);
		expect(isThreadUnread(undefined, { replyCount: 2, lastReplyAt: 'x', lastReplySeq: 5 })).toBe(false);
		expect(isThreadUnread({ following: true, lastReadSeq: 0 }, { replyCount: 0, lastReplyAt: 'x', lastReplySeq: 5 })).toBe(false);
	});

	it('replying follows the thread and reads it up to the reply', () => {
		expect(markAfterEvent(undefined, reply(7, me), me, other)).toEqual({ following: true, lastReadSeq: 7 });
		expect(markAfterEvent({ following: false, lastReadSeq: 9 }, reply(7, me), me, other)).toEqual({ following: true, lastReadSeq: 9 });
	});

	it("a reply under one's own message follows its thread, unless it was unfollowed", () => {
		expect(markAfterEvent(undefined, reply(7, other), me, me)).toEqual({ following: true, lastReadSeq: 0 });
		const unfollowed = { following: false, lastReadSeq: 3 };
		expect(markAfterEvent(unfollowed, reply(7, other), me, me)).toBe(unfollowed);
	});

	it("someone else's reply in someone else's thread changes nothing", () => {
		expect(markAfterEvent(undefined, reply(7, other), me, other)).toBeUndefined();
	});

	it('labels the count', () => {
		expect([replyCountLabel(1), replyCountLabel(3)]).toEqual(['1 reply', '3 replies']);
	});
});
