// The client's thread state (threads.svelte.ts) over a recording fake of the REST client: the
// followed list and marks it loads, how live replies move them (unread for followers, read for the
// replier), and what it tells the server.
import { describe, expect, it } from 'vitest';
import { Threads } from '#lib/client/chat/threads.svelte.ts';
import type { ApiClient } from '#lib/client/api.ts';
import type { FollowedThreads } from '#lib/shared/api-types.ts';
import type { ChannelEvent, MessageView } from '#lib/shared/protocol/frames.ts';

const channelId = '11111111-1111-4111-8111-111111111111';
const me = '22222222-2222-4222-8222-222222222222';
const other = '33333333-3333-4333-8333-333333333333';
const idOf = (seq: number) => `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`;

function message(seq: number, authorId: string, extra: Partial<MessageView> = {}): MessageView {
	return { id: idOf(seq), channelId, seq, authorId, clientId: `c${seq}`, payload: 'x', replyToId: null, createdAt: 'now', editedAt: null, deletedAt: null, reactions: [], ...extra };
}

function reply(seq: number, rootSeq: number, authorId: string, count: number): ChannelEvent {
	return {
		seq,
		at: 'now',
		actorId: authorId,
		type: 'message.created',
		message: message(seq, authorId, { threadRootId: idOf(rootSeq) }),
		thread: { rootId: idOf(rootSeq), replyCount: count, lastReplyAt: 'now', lastReplySeq: seq }
	};
}

function fakeApi(list: FollowedThreads) {
	const calls: string[] = [];
	const api = {
		get: async (path: string) => {
			calls.push(`GET ${path}`);
			return list;
		},
		post: async (path: string, body: unknown) => {
			calls.push(`POST ${path} ${JSON.stringify(body)}`);
			return {};
		},
		put: async (path: string) => {
			calls.push(`PUT ${path}`);
			return {};
		},
		delete: async (path: string) => {
			calls.push(`DELETE ${path}`);
			return {};
		}
	} as unknown as ApiClient;
	return { api, calls };
}

describe('Threads (client state)', () => {
	it("someone else's reply in a followed thread makes it unread until read; reading tells the server once", async () => {
		const root = message(1, me, { thread: { replyCount: 1, lastReplyAt: 'now', lastReplySeq: 2 } });
		const { api, calls } = fakeApi({ threads: [{ root, lastReadSeq: 2, unread: false }] });
		const threads = new Threads(api, () => me);
		await threads.load(channelId);
		expect(threads.unreadCount(channelId)).toBe(0);

		threads.applyEvent(channelId, reply(3, 1, other, 2), root);
		expect(threads.unreadCount(channelId)).toBe(1);
		expect(threads.isUnread({ ...root, thread: { replyCount: 2, lastReplyAt: 'now', lastReplySeq: 3 } })).toBe(true);

		threads.markRead(channelId, root.id, 3);
		threads.markRead(channelId, root.id, 3);
		expect(threads.unreadCount(channelId)).toBe(0);
		expect(calls.filter((c) => c.startsWith('POST'))).toEqual([`POST /api/threads/${root.id}/read {"seq":3}`]);
	});

	it('my own reply follows the thread, reads it, and puts it on the list', async () => {
		const { api } = fakeApi({ threads: [] });
		const threads = new Threads(api, () => me);
		await threads.load(channelId);
		const root = message(1, other);
		threads.applyEvent(channelId, reply(2, 1, me, 1), root);
		expect(threads.isFollowing(channelId, root.id)).toBe(true);
		expect(threads.lists[channelId]!.map((entry) => entry.root.id)).toEqual([root.id]);
		expect(threads.unreadCount(channelId)).toBe(0);
		// Someone answers: unread for me now.
		threads.applyEvent(channelId, reply(3, 1, other, 2), root);
		expect(threads.unreadCount(channelId)).toBe(1);
	});

	it('an unfollowed thread leaves the list, and new replies there are not unread', async () => {
		const root = message(1, me, { thread: { replyCount: 1, lastReplyAt: 'now', lastReplySeq: 2 } });
		const { api, calls } = fakeApi({ threads: [{ root, lastReadSeq: 2, unread: false }] });
		const threads = new Threads(api, () => me);
		await threads.load(channelId);
		await threads.setFollowing(channelId, root, false);
		expect(calls).toContain(`DELETE /api/threads/${root.id}/follow`);
		threads.applyEvent(channelId, reply(3, 1, other, 2), root);
		expect(threads.lists[channelId]).toEqual([]);
		expect(threads.isUnread({ ...root, thread: { replyCount: 2, lastReplyAt: 'now', lastReplySeq: 3 } })).toBe(false);
	});

	it('a mark from another tab (thread.mark) reads or unfollows here too', async () => {
		const root = message(1, me, { thread: { replyCount: 2, lastReplyAt: 'now', lastReplySeq: 3 } });
		const { api, calls } = fakeApi({ threads: [{ root, lastReadSeq: 2, unread: true }] });
		const threads = new Threads(api, () => me);
		await threads.load(channelId);
		expect(threads.unreadCount(channelId)).toBe(1);
		threads.applyMark({ channelId, rootId: root.id, following: true, lastReadSeq: 3 });
		expect(threads.unreadCount(channelId)).toBe(0);
		threads.applyMark({ channelId, rootId: root.id, following: false, lastReadSeq: 3 });
		expect(threads.lists[channelId]).toEqual([]);
		// Nothing is sent back: the other tab already told the server.
		expect(calls.filter((c) => !c.startsWith('GET'))).toEqual([]);
	});
});
