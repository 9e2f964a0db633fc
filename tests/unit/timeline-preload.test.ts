// A live event that arrives while a channel's first page is still being fetched must not be lost:
// the timeline holds it and applies it after the page when the page predates it.
import { describe, expect, it } from 'vitest';
import { ChannelTimeline } from '#lib/client/chat/timeline.ts';
import type { ChannelEvent, MessageView } from '#lib/shared/protocol/frames.ts';

const channelId = '11111111-1111-4111-8111-111111111111';
const alice = '22222222-2222-4222-8222-222222222222';

function message(seq: number): MessageView {
	return {
		id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
		channelId,
		seq,
		authorId: alice,
		clientId: `client-${seq}`,
		payload: `m${seq}`,
		replyToId: null,
		createdAt: new Date(seq * 1000).toISOString(),
		editedAt: null,
		deletedAt: null,
		reactions: []
	};
}
const created = (seq: number): ChannelEvent => ({ seq, at: 'now', actorId: alice, type: 'message.created', message: message(seq) });
const page = (lastSeq: number, messages: MessageView[]) => ({ messages, lastSeq, hasMoreBefore: false, hasMoreAfter: false, notices: [] });

describe('ChannelTimeline before its first page', () => {
	it('applies an event that arrived during the fetch when the page predates it', () => {
		const timeline = new ChannelTimeline(channelId);
		expect(timeline.apply(created(3))).toBe('not-loaded');
		timeline.loadLatest(page(2, [message(1), message(2)]));
		expect(timeline.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
		expect(timeline.cursor).toBe(3);
	});

	it('drops it when the page already contains it, and keeps one beyond a gap for the resume', () => {
		const timeline = new ChannelTimeline(channelId);
		timeline.apply(created(2));
		timeline.apply(created(5));
		timeline.loadLatest(page(3, [message(1), message(2), message(3)]));
		expect(timeline.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
		expect(timeline.bufferedCount).toBe(1);
	});
});
