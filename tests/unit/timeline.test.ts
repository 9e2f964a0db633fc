import { describe, expect, it } from 'vitest';
import { ChannelTimeline } from '#lib/client/chat/timeline.ts';
import type { ChannelEvent, MessageView } from '#lib/shared/protocol/frames.ts';

const channelId = '11111111-1111-4111-8111-111111111111';
const alice = '22222222-2222-4222-8222-222222222222';
const bob = '33333333-3333-4333-8333-333333333333';

function message(seq: number, text = `m${seq}`): MessageView {
	return {
		id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
		channelId,
		seq,
		authorId: alice,
		clientId: `client-${seq}`,
		payload: text,
		replyToId: null,
		createdAt: new Date(seq * 1000).toISOString(),
		editedAt: null,
		deletedAt: null,
		reactions: []
	};
}

const created = (seq: number): ChannelEvent => ({ seq, at: 'now', actorId: alice, type: 'message.created', message: message(seq) });

function loaded(lastSeq: number, messages: MessageView[] = []) {
	const timeline = new ChannelTimeline(channelId);
	timeline.loadLatest({ messages, lastSeq, hasMoreBefore: false, hasMoreAfter: false, notices: [] });
	return timeline;
}

describe('ChannelTimeline', () => {
	it('ignores events until a page is loaded', () => {
		expect(new ChannelTimeline(channelId).apply(created(1))).toBe('not-loaded');
	});

	it('applies events in sequence and ignores ones already applied', () => {
		const timeline = loaded(0);
		expect(timeline.apply(created(1))).toBe('applied');
		expect(timeline.apply(created(1))).toBe('stale');
		expect(timeline.messages.map((m) => m.seq)).toEqual([1]);
		expect(timeline.cursor).toBe(1);
	});

	it('holds back an early event until the gap before it is filled, then applies both in order', () => {
		const timeline = loaded(0);
		expect(timeline.apply(created(3))).toBe('gap');
		expect(timeline.apply(created(2))).toBe('gap');
		expect(timeline.messages).toEqual([]);
		expect(timeline.apply(created(1))).toBe('applied');
		expect(timeline.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
		expect(timeline.cursor).toBe(3);
		expect(timeline.bufferedCount).toBe(0);
	});

	it('marks a message pinned and unpinned, with a notice for each; a deleted message is no longer pinned', () => {
		const timeline = loaded(1, [message(1)]);
		const id = message(1).id;
		const user = { id: bob, username: 'bob', displayName: 'Bob' };
		timeline.apply({ seq: 2, at: 't2', actorId: bob, type: 'message.pinned', messageId: id, user });
		expect(timeline.get(id)?.pinnedAt).toBe('t2');
		timeline.apply({ seq: 3, at: 't3', actorId: bob, type: 'message.unpinned', messageId: id, user });
		expect(timeline.get(id)).not.toHaveProperty('pinnedAt');
		timeline.apply({ seq: 4, at: 't4', actorId: bob, type: 'message.pinned', messageId: id, user });
		timeline.apply({ seq: 5, at: 't5', actorId: null, type: 'message.deleted', messageId: id });
		expect(timeline.get(id)).not.toHaveProperty('pinnedAt');
		expect(timeline.notices.map((n) => [n.seq, n.type])).toEqual([
			[2, 'message.pinned'],
			[3, 'message.unpinned'],
			[4, 'message.pinned']
		]);
	});

	it('keeps a disappearing-messages timer change as a notice', () => {
		const timeline = loaded(1, [message(1)]);
		const user = { id: alice, username: 'alice', displayName: 'Alice' };
		timeline.apply({ seq: 2, at: 't2', actorId: alice, type: 'disappearing.set', seconds: 86_400, user });
		expect(timeline.notices).toEqual([{ seq: 2, type: 'disappearing.set', user, at: 't2', seconds: 86_400 }]);
	});

	it('applies edits, deletes and reactions idempotently', () => {
		const timeline = loaded(1, [message(1)]);
		const id = message(1).id;
		timeline.apply({ seq: 2, at: 't2', actorId: bob, type: 'reaction.added', messageId: id, userId: bob, key: '👍' });
		timeline.apply({ seq: 3, at: 't3', actorId: alice, type: 'reaction.added', messageId: id, userId: alice, key: '👍' });
		expect(timeline.get(id)!.reactions).toEqual([{ key: '👍', userIds: [bob, alice] }]);
		timeline.apply({ seq: 4, at: 't4', actorId: bob, type: 'reaction.removed', messageId: id, userId: bob, key: '👍' });
		timeline.apply({ seq: 5, at: 't5', actorId: alice, type: 'message.edited', messageId: id, payload: 'edited', editedAt: 't5' });
		expect(timeline.get(id)).toMatchObject({ payload: 'edited', editedAt: 't5', reactions: [{ key: '👍', userIds: [alice] }] });
		timeline.apply({ seq: 6, at: 't6', actorId: alice, type: 'message.deleted', messageId: id });
		expect(timeline.get(id)).toMatchObject({ payload: '', deletedAt: 't6', reactions: [] });
		// An edit replayed after the delete must not bring the text back.
		expect(timeline.apply({ seq: 5, at: 't5', actorId: alice, type: 'message.edited', messageId: id, payload: 'edited', editedAt: 't5' })).toBe('stale');
		timeline.apply({ seq: 7, at: 't7', actorId: alice, type: 'message.edited', messageId: id, payload: 'zombie', editedAt: 't7' });
		expect(timeline.get(id)!.payload).toBe('');
	});

	it('keeps messages in sequence order when older pages arrive', () => {
		const timeline = loaded(5, [message(4), message(5)]);
		timeline.prependOlder({ messages: [message(2), message(3)], lastSeq: 5, hasMoreBefore: false, hasMoreAfter: false, notices: [] });
		timeline.apply(created(6));
		expect(timeline.messages.map((m) => m.seq)).toEqual([2, 3, 4, 5, 6]);
		expect(timeline.oldestSeq).toBe(2);
	});

	it('drops buffered events that a reload already covers', () => {
		const timeline = loaded(0);
		timeline.apply(created(5));
		timeline.loadLatest({ messages: [message(5)], lastSeq: 5, hasMoreBefore: true, hasMoreAfter: false, notices: [] });
		expect(timeline.bufferedCount).toBe(0);
		expect(timeline.messages.map((m) => m.seq)).toEqual([5]);
	});

	it('merges notices from pages and live events in sequence order, each once', () => {
		const bobView = { id: bob, username: 'bob', displayName: 'Bob' };
		const aliceView = { id: alice, username: 'alice', displayName: 'Alice' };
		const timeline = new ChannelTimeline(channelId);
		timeline.loadLatest({
			messages: [message(5)],
			notices: [{ seq: 6, type: 'member.joined', user: bobView, at: 't6' }],
			lastSeq: 6,
			hasMoreBefore: true,
			hasMoreAfter: false
		});
		timeline.prependOlder({
			messages: [message(2)],
			notices: [{ seq: 3, type: 'member.left', user: aliceView, at: 't3' }],
			lastSeq: 6,
			hasMoreBefore: false,
			hasMoreAfter: false
		});
		timeline.apply({ seq: 7, at: 't7', actorId: alice, type: 'member.joined', user: aliceView });
		// A replay of an event the page already had changes nothing.
		timeline.apply({ seq: 6, at: 't6', actorId: bob, type: 'member.joined', user: bobView });
		expect(timeline.notices.map((n) => [n.seq, n.type])).toEqual([
			[3, 'member.left'],
			[6, 'member.joined'],
			[7, 'member.joined']
		]);
	});

	it('records member notices', () => {
		const timeline = loaded(0);
		timeline.apply({ seq: 1, at: 't', actorId: bob, type: 'member.joined', user: { id: bob, username: 'bob', displayName: 'Bob' } });
		expect(timeline.notices).toEqual([{ seq: 1, type: 'member.joined', user: { id: bob, username: 'bob', displayName: 'Bob' }, at: 't' }]);
	});
});
