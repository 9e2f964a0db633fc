// Threads: replies to a channel message kept beside the channel. A reply is an ordinary channel
// message with a routing field (threadRootId): it takes the channel's next seq, goes out live to the
// channel with its root's new summary (reply count, last reply), is replayed by resume like any
// event, and stays out of the channel's history pages (the root carries the summary instead).
// Following and read markers are per person; bad roots are refused with clear errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, type TestSocket } from '../helpers/clients.ts';
import { createCommunity, expectError, joinCommunity, MISSING_ID, newClientId, sendMessage, type Community } from '../helpers/fixtures.ts';
import type { ChannelView } from '#lib/shared/protocol/frames.ts';
import type { FollowedThreads, HistoryPage, ThreadPage } from '#lib/shared/api-types.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import type { ChannelEvent, MessageView, ServerFrame } from '#lib/shared/protocol/frames.ts';
import { ChannelTimeline } from '#lib/client/chat/timeline.ts';

const skip = postgresUnavailableReason();

type Ack = Extract<ServerFrame, { t: 'ack' }>;

describe.skipIf(skip)('threads', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let member: TestClient;
	let outsider: TestClient;
	let community: Community;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		owner = await TestClient.signUp(server);
		member = await TestClient.signUp(server);
		outsider = await TestClient.signUp(server);
		community = await createCommunity(owner);
		await joinCommunity(owner, member, community.id);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	const reply = (client: TestClient, channelId: string, threadRootId: string, text = 'in the thread', extra: Record<string, unknown> = {}) =>
		client.api
			.post<{ message: MessageView }>(`/api/channels/${channelId}/messages`, { clientId: newClientId(), payload: encodeMessageBody(text), threadRootId, ...extra })
			.then((r) => r.message);
	const thread = (client: TestClient, rootId: string, query = '') => client.api.get<ThreadPage>(`/api/threads/${rootId}${query}`);
	const followed = (client: TestClient, channelId: string) => client.api.get<FollowedThreads>(`/api/channels/${channelId}/threads`);
	const newChannel = async (name: string) => (await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name })).channel;

	describe('over /ws', () => {
		let watcher: TestSocket;
		beforeAll(async () => {
			watcher = await owner.socket();
		});
		afterAll(() => watcher?.close());

		it('a reply sent with message.send is acked, takes the next seq, and reaches the channel live with the root summary', async () => {
			const root = await sendMessage(owner, community.generalId, 'lunch?');
			const socket = await member.socket();
			const answer = (await socket.request({
				t: 'message.send',
				channelId: community.generalId,
				clientId: newClientId(),
				payload: encodeMessageBody('yes'),
				threadRootId: root.id
			})) as Ack;
			expect(answer.t).toBe('ack');
			const { messageId, seq } = answer.result as { messageId: string; seq: number };
			expect(seq).toBe(root.seq + 1);
			const live = await watcher.waitFor<Extract<ServerFrame, { t: 'event' }>>((f) => f.t === 'event' && f.event.seq === seq);
			const event = live.event as Extract<ChannelEvent, { type: 'message.created' }>;
			expect(event.message).toMatchObject({ id: messageId, threadRootId: root.id, authorId: member.user.id });
			expect(event.thread).toEqual({ rootId: root.id, replyCount: 1, lastReplyAt: event.message.createdAt, lastReplySeq: seq });
			socket.close();
		});

		it('the same clientId sent again answers with the stored reply (no second reply, count unchanged)', async () => {
			const root = await sendMessage(owner, community.generalId, 'idempotent');
			const socket = await member.socket();
			const frame = { t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: encodeMessageBody('once'), threadRootId: root.id };
			const first = (await socket.request(frame)) as Ack;
			const second = (await socket.request(frame)) as Ack;
			expect(second.result).toMatchObject({ messageId: (first.result as { messageId: string }).messageId, duplicate: true });
			expect((await thread(owner, root.id)).root.thread?.replyCount).toBe(1);
			socket.close();
		});

		it('a reply to a root in another channel is refused over /ws with a clear error', async () => {
			const other = await newChannel('elsewhere-ws');
			const root = await sendMessage(owner, other.id, 'over there');
			const socket = await member.socket();
			expect(
				await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: encodeMessageBody('x'), threadRootId: root.id })
			).toEqual({ t: 'error', id: expect.any(String), code: 'invalid', message: 'The thread you reply in belongs to another channel.' });
			socket.close();
		});
	});

	it('history leaves replies out and shows the root with its reply count and last reply', async () => {
		const channel = await newChannel('history');
		const root = await sendMessage(owner, channel.id, 'root');
		const first = await reply(member, channel.id, root.id, 'one');
		const second = await reply(owner, channel.id, root.id, 'two');
		const after = await sendMessage(member, channel.id, 'channel goes on');
		const page = await owner.api.get<HistoryPage>(`/api/channels/${channel.id}/messages`);
		expect(page.messages.map((m) => m.id)).toEqual([root.id, after.id]);
		expect(page.messages[0]!.thread).toEqual({ replyCount: 2, lastReplyAt: second.createdAt, lastReplySeq: second.seq });
		expect(page.lastSeq).toBe(after.seq);
		// Paging forward from a read marker also leaves them out.
		const forward = await owner.api.get<HistoryPage>(`/api/channels/${channel.id}/messages?after=${root.seq}`);
		expect(forward.messages.map((m) => m.id)).toEqual([after.id]);

		const page2 = await thread(member, root.id);
		expect(page2.root.id).toBe(root.id);
		expect(page2.replies.map((m) => [m.id, m.threadRootId])).toEqual([
			[first.id, root.id],
			[second.id, root.id]
		]);
		expect(page2).toMatchObject({ hasMoreBefore: false, lastSeq: after.seq, following: true, lastReadSeq: first.seq });
	});

	it('pages a long thread back with before=', async () => {
		const channel = await newChannel('long');
		const root = await sendMessage(owner, channel.id, 'root');
		const replies = [];
		for (let i = 0; i < 5; i += 1) replies.push(await reply(owner, channel.id, root.id, `r${i}`));
		const newest = await thread(owner, root.id, '?limit=2');
		expect(newest.replies.map((r) => r.id)).toEqual([replies[3]!.id, replies[4]!.id]);
		expect(newest.hasMoreBefore).toBe(true);
		const older = await thread(owner, root.id, `?limit=2&before=${replies[3]!.seq}`);
		expect(older.replies.map((r) => r.id)).toEqual([replies[1]!.id, replies[2]!.id]);
	});

	describe('refuses bad roots with a clear error', () => {
		it('a root in another channel', async () => {
			const other = await newChannel('other');
			const root = await sendMessage(owner, other.id, 'elsewhere');
			await expectError(
				member.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x'), threadRootId: root.id }),
				400,
				'invalid',
				'The thread you reply in belongs to another channel.'
			);
		});

		it('a root that is itself a thread reply (no nested threads)', async () => {
			const root = await sendMessage(owner, community.generalId, 'root');
			const inner = await reply(member, community.generalId, root.id);
			await expectError(
				member.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x'), threadRootId: inner.id }),
				400,
				'invalid',
				'Threads cannot be nested: reply in the thread of the first message instead.'
			);
			await expectError(member.fetch(`/api/threads/${inner.id}`), 400, 'invalid', 'That message is a reply in a thread: open the thread of its first message.');
		});

		it('a root that does not exist', async () => {
			await expectError(
				member.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x'), threadRootId: MISSING_ID }),
				400,
				'invalid',
				'The thread you reply in does not exist: its first message was not found.'
			);
		});

		it('a root that was deleted', async () => {
			const root = await sendMessage(member, community.generalId, 'soon gone');
			await member.api.delete(`/api/messages/${root.id}`);
			await expectError(
				owner.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x'), threadRootId: root.id }),
				400,
				'invalid',
				'The message this thread started from was deleted: its thread takes no new replies.'
			);
		});

		it('a threadRootId that is not a message id', async () => {
			await expectError(
				member.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x'), threadRootId: 'nope' }),
				400,
				'invalid',
				'threadRootId must be a message id.'
			);
		});
	});

	it('someone outside the channel can neither reply in its threads nor read, follow or mark them', async () => {
		const root = await sendMessage(owner, community.generalId, 'members only');
		await expectError(
			outsider.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x'), threadRootId: root.id }),
			404,
			'not_found',
			'Channel was not found.'
		);
		await expectError(outsider.fetch(`/api/threads/${root.id}`), 404, 'not_found', 'Message was not found.');
		await expectError(outsider.send('PUT', `/api/threads/${root.id}/follow`), 404, 'not_found', 'Message was not found.');
		await expectError(outsider.send('POST', `/api/threads/${root.id}/read`, { seq: 1 }), 404, 'not_found', 'Message was not found.');
		await expectError(outsider.fetch(`/api/channels/${community.generalId}/threads`), 404, 'not_found', 'Channel was not found.');
	});

	it('a role that cannot post in the channel cannot reply in its threads either', async () => {
		const channel = await newChannel('announcements');
		const root = await sendMessage(owner, channel.id, 'news');
		await owner.api.patch(`/api/channels/${channel.id}`, { permissionOverrides: { member: { allow: [], deny: ['send_messages'] } } });
		await expectError(
			member.send('POST', `/api/channels/${channel.id}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x'), threadRootId: root.id }),
			403,
			'forbidden',
			'Your role cannot post in this channel.'
		);
	});

	it('deleting a reply lowers the count live; the delete event carries the new summary', async () => {
		const channel = await newChannel('deletions');
		const root = await sendMessage(owner, channel.id, 'root');
		const first = await reply(member, channel.id, root.id, 'one');
		const second = await reply(member, channel.id, root.id, 'two');
		const socket = await owner.socket();
		const { seq } = await member.api.delete<{ seq: number }>(`/api/messages/${first.id}`);
		const live = await socket.waitFor<Extract<ServerFrame, { t: 'event' }>>((f) => f.t === 'event' && f.event.seq === seq);
		expect(live.event).toMatchObject({ type: 'message.deleted', messageId: first.id, thread: { rootId: root.id, replyCount: 1, lastReplySeq: second.seq } });
		expect((await thread(owner, root.id)).root.thread?.replyCount).toBe(1);
		// Deleting the other one leaves none: no last reply, and history shows no summary.
		const { seq: seq2 } = await member.api.delete<{ seq: number }>(`/api/messages/${second.id}`);
		const again = await socket.waitFor<Extract<ServerFrame, { t: 'event' }>>((f) => f.t === 'event' && f.event.seq === seq2);
		expect(again.event).toMatchObject({ type: 'message.deleted', thread: { rootId: root.id, replyCount: 0, lastReplyAt: null, lastReplySeq: null } });
		const page = await owner.api.get<HistoryPage>(`/api/channels/${channel.id}/messages`);
		// No replies left: the root shows no summary.
		expect(page.messages.find((m) => m.id === root.id)).not.toHaveProperty('thread');
		socket.close();
	});

	describe('following and unread', () => {
		it('the root author and each replier follow; a reply marks it unread for the others; reading clears it', async () => {
			const channel = await newChannel('follow');
			const root = await sendMessage(owner, channel.id, 'root');
			// Nobody follows a message without a thread.
			expect((await followed(owner, channel.id)).threads).toEqual([]);
			const first = await reply(member, channel.id, root.id, 'first');
			// The replier read up to their own reply; the root's author has it unread.
			expect((await followed(member, channel.id)).threads).toEqual([{ root: expect.objectContaining({ id: root.id }), lastReadSeq: first.seq, unread: false }]);
			expect((await followed(owner, channel.id)).threads).toEqual([{ root: expect.objectContaining({ id: root.id }), lastReadSeq: 0, unread: true }]);
			expect(await owner.api.post(`/api/threads/${root.id}/read`, { seq: first.seq })).toEqual({ lastReadSeq: first.seq });
			expect((await followed(owner, channel.id)).threads[0]!.unread).toBe(false);
			// A read marker never moves back, nor past the newest reply.
			expect(await owner.api.post(`/api/threads/${root.id}/read`, { seq: 1 })).toEqual({ lastReadSeq: first.seq });
			expect(await owner.api.post(`/api/threads/${root.id}/read`, { seq: first.seq + 1000 })).toEqual({ lastReadSeq: first.seq });
			const second = await reply(member, channel.id, root.id, 'second');
			expect((await followed(owner, channel.id)).threads).toEqual([
				{ root: expect.objectContaining({ id: root.id, thread: { replyCount: 2, lastReplyAt: second.createdAt, lastReplySeq: second.seq } }), lastReadSeq: first.seq, unread: true }
			]);
		});

		it('unfollowing takes a thread off the list (new replies do not bring it back); following again puts it back', async () => {
			const channel = await newChannel('unfollow');
			const root = await sendMessage(owner, channel.id, 'root');
			await reply(member, channel.id, root.id);
			expect(await owner.api.delete(`/api/threads/${root.id}/follow`)).toEqual({ following: false });
			await reply(member, channel.id, root.id, 'another');
			expect((await followed(owner, channel.id)).threads).toEqual([]);
			expect((await thread(owner, root.id)).following).toBe(false);
			expect(await owner.api.put(`/api/threads/${root.id}/follow`)).toEqual({ following: true });
			expect((await followed(owner, channel.id)).threads.map((t) => t.root.id)).toEqual([root.id]);
		});

		it('replying in a thread one unfollowed follows it again', async () => {
			const channel = await newChannel('refollow');
			const root = await sendMessage(owner, channel.id, 'root');
			await reply(member, channel.id, root.id);
			await member.api.delete(`/api/threads/${root.id}/follow`);
			await reply(member, channel.id, root.id, 'back again');
			expect((await thread(member, root.id)).following).toBe(true);
		});

		it("reading, unfollowing and following reach the person's other tabs (thread.mark), and nobody else's", async () => {
			const channel = await newChannel('marks');
			const root = await sendMessage(owner, channel.id, 'root');
			const first = await reply(member, channel.id, root.id);
			const ownerTab = await owner.socket();
			const memberTab = await member.socket();
			await owner.api.post(`/api/threads/${root.id}/read`, { seq: first.seq });
			expect(await ownerTab.waitFor((f) => f.t === 'thread.mark' && f.rootId === root.id && f.lastReadSeq === first.seq)).toEqual({
				t: 'thread.mark',
				channelId: channel.id,
				rootId: root.id,
				following: true,
				lastReadSeq: first.seq
			});
			await owner.api.delete(`/api/threads/${root.id}/follow`);
			expect(await ownerTab.waitFor((f) => f.t === 'thread.mark' && f.rootId === root.id && !f.following)).toMatchObject({ following: false, lastReadSeq: first.seq });
			expect(await memberTab.collectFor(200, (f) => f.t === 'thread.mark')).toEqual([]);
			ownerTab.close();
			memberTab.close();
		});

		it('a thread reply counts as unread in the channel only when it mentions the reader', async () => {
			const channel = await newChannel('unread');
			const root = await sendMessage(owner, channel.id, 'root');
			const { channel: before } = await owner.api.get<{ channel: ChannelView }>(`/api/channels/${channel.id}`);
			await owner.api.post(`/api/channels/${channel.id}/read`, { seq: before.lastSeq });
			await reply(member, channel.id, root.id, 'quiet reply');
			let view = (await owner.api.get<{ channel: ChannelView }>(`/api/channels/${channel.id}`)).channel;
			expect({ unread: view.unreadCount, mentions: view.mentionCount }).toEqual({ unread: 0, mentions: 0 });
			await reply(member, channel.id, root.id, `@${owner.user.username} look`, { mentions: { users: [owner.user.id] } });
			view = (await owner.api.get<{ channel: ChannelView }>(`/api/channels/${channel.id}`)).channel;
			expect({ unread: view.unreadCount, mentions: view.mentionCount }).toEqual({ unread: 1, mentions: 1 });
		});
	});

	it('threads work in direct messages, and only its two people see them', async () => {
		const { channel } = await member.api.post<{ channel: ChannelView }>('/api/dms', { userId: owner.user.id });
		const root = await sendMessage(owner, channel.id, 'dm root');
		const answer = await reply(member, channel.id, root.id, 'dm reply');
		expect((await thread(owner, root.id)).replies.map((r) => r.id)).toEqual([answer.id]);
		await expectError(outsider.fetch(`/api/threads/${root.id}`), 404, 'not_found', 'Message was not found.');
	});

	it('a socket cut mid-thread resumes exactly the replies it missed; the stale thread then equals a fresh one', async () => {
		const channel = await newChannel('resume');
		const root = await sendMessage(owner, channel.id, 'root');
		await reply(member, channel.id, root.id, 'before the cut');

		// The owner's client has the channel and the thread open, connected.
		const stale = new ChannelTimeline(channel.id);
		stale.loadLatest(await owner.api.get<HistoryPage>(`/api/channels/${channel.id}/messages`));
		stale.mergeThread(await thread(owner, root.id));
		const socket = await owner.socket();
		const live = await reply(member, channel.id, root.id, 'live');
		const frame = await socket.waitFor<Extract<ServerFrame, { t: 'event' }>>((f) => f.t === 'event' && f.event.seq === live.seq);
		expect(stale.apply(frame.event)).toBe('applied');

		// The connection drops; the thread goes on meanwhile (a reply, an edit, a deletion, a reaction).
		socket.close();
		await socket.closed;
		const missedA = await reply(member, channel.id, root.id, 'missed a');
		const missedB = await reply(owner, channel.id, root.id, 'missed b (another device)');
		await member.api.patch(`/api/messages/${missedA.id}`, { payload: encodeMessageBody('missed a, edited') });
		await member.api.delete(`/api/messages/${live.id}`);
		await owner.api.put(`/api/messages/${missedB.id}/reactions/k1`);

		// Reconnect and resume from the cursor: exactly the missed events, in order.
		const again = await owner.socket();
		const start = again.frames.length;
		const ack = (await again.request({ t: 'resume', cursors: [{ channelId: channel.id, seq: stale.cursor! }] })) as Ack;
		expect(ack.result).toEqual({ resync: [], inaccessible: [] });
		const replayed = again.frames.slice(start).flatMap((f) => (f.t === 'events' ? f.events : []));
		const { channel: now } = await owner.api.get<{ channel: ChannelView }>(`/api/channels/${channel.id}`);
		expect(replayed.map((e) => e.seq)).toEqual(Array.from({ length: now.lastSeq - stale.cursor! }, (_, i) => stale.cursor! + 1 + i));
		for (const event of replayed) expect(stale.apply(event)).toBe('applied');
		again.close();

		const fresh = new ChannelTimeline(channel.id);
		fresh.loadLatest(await owner.api.get<HistoryPage>(`/api/channels/${channel.id}/messages`));
		fresh.mergeThread(await thread(owner, root.id));
		expect(stale.cursor).toBe(fresh.cursor);
		expect(stale.messages).toEqual(fresh.messages);
		// Deleted replies stay as tombstones in both; bodies, edits and reactions agree.
		expect(stale.threadReplies(root.id)).toEqual(fresh.threadReplies(root.id));
		expect(stale.get(root.id)?.thread).toEqual({ replyCount: 3, lastReplyAt: missedB.createdAt, lastReplySeq: missedB.seq });
	});
});
