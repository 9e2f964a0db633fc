// Messages over REST: history pages, sending (idempotent by clientId), editing, deleting,
// reactions, read markers and the unread counts of channel lists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { communityWithMembers, createCommunity, expectError, expectJson, joinCommunity, newClientId, sendMessage } from '../helpers/fixtures.ts';
import type { ChannelView, HistoryPage, MessageView } from '#lib/shared/api-types.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('messages over REST', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	const history = (client: TestClient, channelId: string, query = '') => client.api.get<HistoryPage>(`/api/channels/${channelId}/messages${query}`);

	/** A channel with no system events, so message seqs are 1..n. */
	async function quietChannel(owner: TestClient, communityId: string, name = 'quiet') {
		return (await owner.api.post<{ channel: ChannelView }>(`/api/communities/${communityId}/channels`, { name })).channel.id;
	}

	describe('join and leave notices in history pages', () => {
		// #general receives the community's join and leave events between its messages. Paging through
		// it in either direction must show every notice exactly once, between the right messages.
		let owner: TestClient;
		let generalId: string;
		let expected: { seq: number; type: string; username: string }[];
		beforeAll(async () => {
			owner = await TestClient.signUp(server);
			const community = await createCommunity(owner, 'Notices');
			generalId = community.generalId;
			const people = [await TestClient.signUp(server), await TestClient.signUp(server), await TestClient.signUp(server)];
			for (const [index, person] of people.entries()) {
				await sendMessage(owner, generalId, `before ${person.user.username}`);
				await joinCommunity(owner, person, community.id);
				await sendMessage(owner, generalId, `after ${index}`);
			}
			await people[1]!.api.post(`/api/communities/${community.id}/leave`);
			const all = await history(owner, generalId, '?limit=100');
			expected = all.notices.map((n) => ({ seq: n.seq, type: n.type, username: n.user.username }));
			expect(expected.map((n) => [n.type, n.username])).toEqual([
				['member.joined', people[0]!.user.username],
				['member.joined', people[1]!.user.username],
				['member.joined', people[2]!.user.username],
				['member.left', people[1]!.user.username]
			]);
			// The notices sit between the messages they happened between.
			const before = all.messages.map((m) => m.seq);
			for (const notice of expected.slice(0, 3)) expect(before.filter((seq) => seq < notice.seq)).not.toHaveLength(0);
			expect(expected[3]!.seq).toBeGreaterThan(Math.max(...before));
		});

		const flatten = (pages: HistoryPage[]) => pages.flatMap((p) => p.notices).map((n) => ({ seq: n.seq, type: n.type, username: n.user.username }));

		it('paging back with before= shows every notice once, each on the page of its neighbours', async () => {
			const pages = [await history(owner, generalId, '?limit=2')];
			while (pages[0]!.hasMoreBefore) pages.unshift(await history(owner, generalId, `?limit=2&before=${pages[0]!.messages[0]!.seq}`));
			expect(flatten(pages)).toEqual(expected);
			for (const page of pages) {
				const oldest = page.messages[0]!.seq;
				for (const notice of page.notices) expect(page.hasMoreBefore ? notice.seq > oldest : true).toBe(true);
			}
		});

		it('paging forward with after= shows every notice once', async () => {
			const pages = [await history(owner, generalId, '?limit=2&after=0')];
			while (pages.at(-1)!.hasMoreAfter) pages.push(await history(owner, generalId, `?limit=2&after=${pages.at(-1)!.messages.at(-1)!.seq}`));
			expect(flatten(pages)).toEqual(expected);
		});

		it('a page read forward from a cursor shows only what came after it', async () => {
			const cursor = expected[1]!.seq;
			const page = await history(owner, generalId, `?limit=100&after=${cursor}`);
			expect(page.notices.map((n) => n.seq)).toEqual(expected.filter((n) => n.seq > cursor).map((n) => n.seq));
		});
	});

	describe('GET /api/channels/:id/messages', () => {
		let owner: TestClient;
		let channelId: string;
		let sent: MessageView[];
		beforeAll(async () => {
			owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			channelId = await quietChannel(owner, community.id);
			sent = [];
			for (let i = 1; i <= 7; i += 1) sent.push(await sendMessage(owner, channelId, `message ${i}`));
		});

		it('answers an empty channel with an empty page', async () => {
			const community = await createCommunity(owner, 'Empty');
			expect(await history(owner, await quietChannel(owner, community.id))).toEqual({ messages: [], notices: [], lastSeq: 0, hasMoreBefore: false, hasMoreAfter: false });
		});

		it('without cursors returns the newest page in sequence order', async () => {
			const page = await history(owner, channelId, '?limit=3');
			expect(page.messages.map((m) => m.seq)).toEqual([5, 6, 7]);
			expect(page).toMatchObject({ lastSeq: 7, hasMoreBefore: true, hasMoreAfter: false });
			expect(page.messages[2]).toEqual(sent[6]);
		});

		it('pages back with before= until the beginning', async () => {
			const seen: number[] = [];
			let page = await history(owner, channelId, '?limit=3');
			seen.unshift(...page.messages.map((m) => m.seq));
			while (page.hasMoreBefore) {
				page = await history(owner, channelId, `?limit=3&before=${page.messages[0]!.seq}`);
				seen.unshift(...page.messages.map((m) => m.seq));
			}
			expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
			expect(page.messages.map((m) => m.seq)).toEqual([1]);
		});

		it('pages forward with after= until the end', async () => {
			const first = await history(owner, channelId, '?limit=3&after=0');
			expect(first.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
			expect(first).toMatchObject({ hasMoreBefore: false, hasMoreAfter: true });
			const second = await history(owner, channelId, '?limit=3&after=3');
			expect(second.messages.map((m) => m.seq)).toEqual([4, 5, 6]);
			expect(second).toMatchObject({ hasMoreBefore: true, hasMoreAfter: true });
			const last = await history(owner, channelId, '?limit=3&after=6');
			expect(last.messages.map((m) => m.seq)).toEqual([7]);
			expect(last).toMatchObject({ hasMoreBefore: true, hasMoreAfter: false });
		});

		it('after= says nothing is before the first message even when the channel began with other events', async () => {
			// #general starts with "joined" events (seq 1, 2), so its first message has seq 3.
			const { owner: o, community } = await communityWithMembers(server, 2);
			await sendMessage(o, community.generalId, 'first words');
			const page = await history(o, community.generalId, '?after=0');
			expect(page.messages.map((m) => m.seq)).toEqual([3]);
			expect(page).toMatchObject({ lastSeq: 3, hasMoreBefore: false, hasMoreAfter: false });
		});

		it('defaults to 50 messages and allows at most 100', async () => {
			const community = await createCommunity(owner, 'Busy');
			const busy = await quietChannel(owner, community.id);
			for (let i = 0; i < 101; i += 1) await owner.api.post(`/api/channels/${busy}/messages`, { clientId: newClientId(), payload: `m${i}` });
			expect((await history(owner, busy)).messages).toHaveLength(50);
			expect((await history(owner, busy, '?limit=100')).messages).toHaveLength(100);
		});

		it.each([
			['limit=0', 'limit must be between 1 and 100.'],
			['limit=101', 'limit must be between 1 and 100.'],
			['limit=ten', 'limit must be a whole number.'],
			['before=-1', 'before must be a whole number.'],
			['after=1.5', 'after must be a whole number.'],
			['before=5&after=1', 'Use either before or after, not both.']
		])('refuses ?%s with 400', async (query, message) => {
			await expectError(owner.fetch(`/api/channels/${channelId}/messages?${query}`), 400, 'invalid', message);
		});
	});

	describe('POST /api/channels/:id/messages', () => {
		let owner: TestClient;
		let channelId: string;
		let otherChannelId: string;
		beforeAll(async () => {
			owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			channelId = await quietChannel(owner, community.id, 'one');
			otherChannelId = await quietChannel(owner, community.id, 'two');
		});

		it('stores the message and answers 201 with it', async () => {
			const clientId = newClientId();
			const body = await expectJson<{ message: MessageView; duplicate: boolean }>(owner.send('POST', `/api/channels/${channelId}/messages`, { clientId, payload: 'opaque-payload' }), 201);
			expect(body).toEqual({
				duplicate: false,
				message: {
					id: expect.any(String),
					channelId,
					seq: 1,
					authorId: owner.user.id,
					clientId,
					payload: 'opaque-payload',
					replyToId: null,
					createdAt: expect.any(String),
					editedAt: null,
					deletedAt: null,
					reactions: []
				}
			});
			expect((await history(owner, channelId)).messages).toEqual([body.message]);
		});

		it('is idempotent by clientId: a retry answers 200 with the stored message and creates nothing', async () => {
			const clientId = newClientId();
			const first = await expectJson<{ message: MessageView }>(owner.send('POST', `/api/channels/${channelId}/messages`, { clientId, payload: 'once' }), 201);
			const retry = await expectJson<{ message: MessageView; duplicate: boolean }>(owner.send('POST', `/api/channels/${channelId}/messages`, { clientId, payload: 'once' }), 200);
			expect(retry).toEqual({ message: first.message, duplicate: true });
			const page = await history(owner, channelId);
			expect(page.lastSeq).toBe(first.message.seq);
			expect(page.messages.filter((m) => m.clientId === clientId)).toHaveLength(1);
		});

		it("refuses a clientId already used in another channel with 409", async () => {
			const clientId = newClientId();
			await sendMessage(owner, channelId, 'here', clientId);
			await expectError(
				owner.send('POST', `/api/channels/${otherChannelId}/messages`, { clientId, payload: 'there' }),
				409,
				'conflict',
				'That clientId was already used for a message in another channel.'
			);
		});

		it('lets two users use the same clientId (keys are per author)', async () => {
			const member = await TestClient.signUp(server);
			const community = await createCommunity(member);
			const clientId = newClientId();
			await sendMessage(owner, channelId, 'mine', clientId);
			const theirs = await sendMessage(member, community.generalId, 'theirs', clientId);
			expect(theirs.clientId).toBe(clientId);
		});

		it.each([
			['a short clientId', { clientId: 'short', payload: 'x' }, 400, 'invalid', 'clientId must be 8-64 url-safe characters.'],
			['a clientId with spaces', { clientId: 'has spaces here', payload: 'x' }, 400, 'invalid', 'clientId must be 8-64 url-safe characters.'],
			['an empty payload', { clientId: 'valid-client-id', payload: '' }, 400, 'invalid', 'A message cannot be empty.'],
			['a malformed replyToId', { clientId: 'valid-client-id', payload: 'x', replyToId: 'nope' }, 400, 'invalid', 'replyToId must be a message id.'],
			// 8,193 two-byte characters: under the limit in characters, over it in bytes.
			['a payload over MESSAGE_MAX_BYTES', { clientId: 'valid-client-id', payload: 'é'.repeat(8193) }, 413, 'payload_too_large', 'Messages can be at most 16384 bytes.']
		])('refuses %s', async (_case, body, status, code, message) => {
			await expectError(owner.send('POST', `/api/channels/${channelId}/messages`, body), status, code, message);
		});

		it('accepts a payload of exactly MESSAGE_MAX_BYTES', async () => {
			await expectJson(owner.send('POST', `/api/channels/${channelId}/messages`, { clientId: newClientId(), payload: 'x'.repeat(16384) }), 201);
		});

		it('stores a reply to a message of the same channel and refuses one to another channel', async () => {
			const parent = await sendMessage(owner, channelId, 'parent');
			const elsewhere = await sendMessage(owner, otherChannelId, 'elsewhere');
			const { message } = await owner.api.post<{ message: MessageView }>(`/api/channels/${channelId}/messages`, { clientId: newClientId(), payload: 'child', replyToId: parent.id });
			expect(message.replyToId).toBe(parent.id);
			await expectError(
				owner.send('POST', `/api/channels/${channelId}/messages`, { clientId: newClientId(), payload: 'lost child', replyToId: elsewhere.id }),
				400,
				'invalid',
				'The message you reply to is not in this channel.'
			);
		});
	});

	describe('PATCH and DELETE /api/messages/:id', () => {
		let owner: TestClient;
		let member: TestClient;
		let channelId: string;
		beforeAll(async () => {
			const setup = await communityWithMembers(server, 1);
			owner = setup.owner;
			member = setup.members[0]!;
			channelId = await quietChannel(owner, setup.community.id);
		});

		it('lets the author edit: the new payload and editedAt show in history, under a new seq', async () => {
			const message = await sendMessage(member, channelId, 'tpyo');
			const body = await expectJson<{ seq: number }>(member.send('PATCH', `/api/messages/${message.id}`, { payload: encodeMessageBody('typo fixed') }), 200);
			expect(body.seq).toBe(message.seq + 1);
			const stored = (await history(owner, channelId)).messages.find((m) => m.id === message.id)!;
			expect(stored).toMatchObject({ payload: encodeMessageBody('typo fixed'), editedAt: expect.any(String), seq: message.seq });
		});

		it('an identical edit (a retry) changes nothing and answers seq null', async () => {
			const message = await sendMessage(member, channelId, 'same');
			await member.api.patch(`/api/messages/${message.id}`, { payload: 'same again' });
			const lastSeq = (await history(owner, channelId)).lastSeq;
			expect(await expectJson(member.send('PATCH', `/api/messages/${message.id}`, { payload: 'same again' }), 200)).toEqual({ seq: null });
			expect((await history(owner, channelId)).lastSeq).toBe(lastSeq);
		});

		it('refuses an empty or oversized edit', async () => {
			const message = await sendMessage(member, channelId, 'fine');
			await expectError(member.send('PATCH', `/api/messages/${message.id}`, { payload: '' }), 400, 'invalid', 'A message cannot be empty.');
			await expectError(member.send('PATCH', `/api/messages/${message.id}`, { payload: 'x'.repeat(16385) }), 413, 'payload_too_large', 'Messages can be at most 16384 bytes.');
		});

		it('lets the author delete: the body is erased, reactions go, and a second delete is a no-op', async () => {
			const message = await sendMessage(member, channelId, 'regrettable');
			await owner.api.put(`/api/messages/${message.id}/reactions/${encodeURIComponent('😬')}`);
			const body = await expectJson<{ seq: number }>(member.send('DELETE', `/api/messages/${message.id}`), 200);
			expect(body.seq).toBeGreaterThan(message.seq);
			const stored = (await history(owner, channelId)).messages.find((m) => m.id === message.id)!;
			expect(stored).toMatchObject({ payload: '', deletedAt: expect.any(String), reactions: [] });
			expect(await expectJson(member.send('DELETE', `/api/messages/${message.id}`), 200)).toEqual({ seq: null });
		});

		it('refuses to edit or react to a deleted message (404)', async () => {
			const message = await sendMessage(member, channelId, 'gone soon');
			await member.api.delete(`/api/messages/${message.id}`);
			await expectError(member.send('PATCH', `/api/messages/${message.id}`, { payload: 'resurrected' }), 404, 'not_found', 'Message was not found.');
			await expectError(member.send('PUT', `/api/messages/${message.id}/reactions/x`), 404, 'not_found', 'Message was not found.');
		});

		it("lets the community owner delete a member's message, but not edit it", async () => {
			const message = await sendMessage(member, channelId, 'off-topic');
			await expectError(owner.send('PATCH', `/api/messages/${message.id}`, { payload: 'on-topic' }), 403, 'forbidden', 'You can only edit your own messages.');
			await expectJson(owner.send('DELETE', `/api/messages/${message.id}`), 200);
			expect((await history(member, channelId)).messages.find((m) => m.id === message.id)!.deletedAt).not.toBeNull();
		});

		it("refuses a member deleting the owner's message with 403", async () => {
			const message = await sendMessage(owner, channelId, 'announcement');
			await expectError(member.send('DELETE', `/api/messages/${message.id}`), 403, 'forbidden', 'You can only delete your own messages.');
		});
	});

	describe('PUT and DELETE /api/messages/:id/reactions/:key', () => {
		it('adds and removes reactions idempotently, grouping users by key', async () => {
			const { owner, community, members } = await communityWithMembers(server, 1);
			const member = members[0]!;
			const message = await sendMessage(owner, community.generalId, 'react to me');
			const key = encodeURIComponent('👍');
			const added = await expectJson<{ seq: number }>(owner.send('PUT', `/api/messages/${message.id}/reactions/${key}`), 200);
			expect(added.seq).toBeGreaterThan(message.seq);
			expect(await expectJson(owner.send('PUT', `/api/messages/${message.id}/reactions/${key}`), 200)).toEqual({ seq: null });
			await member.api.put(`/api/messages/${message.id}/reactions/${key}`);
			await member.api.put(`/api/messages/${message.id}/reactions/heart`);
			const reactionsNow = async () => (await history(owner, community.generalId)).messages.find((m) => m.id === message.id)!.reactions;
			expect(await reactionsNow()).toEqual([
				{ key: '👍', userIds: [owner.user.id, member.user.id] },
				{ key: 'heart', userIds: [member.user.id] }
			]);
			expect((await expectJson<{ seq: number }>(owner.send('DELETE', `/api/messages/${message.id}/reactions/${key}`), 200)).seq).toBeGreaterThan(added.seq);
			expect(await expectJson(owner.send('DELETE', `/api/messages/${message.id}/reactions/${key}`), 200)).toEqual({ seq: null });
			expect(await reactionsNow()).toEqual([
				{ key: '👍', userIds: [member.user.id] },
				{ key: 'heart', userIds: [member.user.id] }
			]);
		});

		it('refuses a key longer than 64 characters', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const message = await sendMessage(owner, community.generalId);
			await expectError(owner.send('PUT', `/api/messages/${message.id}/reactions/${'k'.repeat(129)}`), 400, 'invalid', 'Reaction keys are 1-128 characters.');
		});
	});

	describe('read markers and unread counts', () => {
		const channelOf = async (client: TestClient, channelId: string) => (await client.api.get<{ channel: ChannelView }>(`/api/channels/${channelId}`)).channel;

		it("counts others' messages only, and not deleted ones", async () => {
			const { owner, community, members } = await communityWithMembers(server, 1);
			const member = members[0]!;
			const channelId = await quietChannel(owner, community.id);
			const doomed = await sendMessage(owner, channelId, 'one');
			await sendMessage(owner, channelId, 'two');
			await sendMessage(owner, channelId, 'three');
			await sendMessage(member, channelId, 'my own');
			await owner.api.delete(`/api/messages/${doomed.id}`);
			expect(await channelOf(member, channelId)).toMatchObject({ lastSeq: 5, lastReadSeq: 0, unreadCount: 2 });
			expect(await channelOf(owner, channelId)).toMatchObject({ unreadCount: 1 });
			const { channels } = await member.api.get<{ channels: ChannelView[] }>(`/api/communities/${community.id}/channels`);
			expect(channels.find((c) => c.id === channelId)!.unreadCount).toBe(2);
		});

		it('POST /api/channels/:id/read moves the marker forward, never back, and not past the end', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const reader = await TestClient.signUp(server);
			await joinCommunity(owner, reader, community.id);
			const channelId = await quietChannel(owner, community.id);
			for (let i = 0; i < 4; i += 1) await sendMessage(owner, channelId, `m${i}`);
			expect(await expectJson(reader.send('POST', `/api/channels/${channelId}/read`, { seq: 3 }), 200)).toEqual({ lastReadSeq: 3 });
			expect(await channelOf(reader, channelId)).toMatchObject({ lastReadSeq: 3, unreadCount: 1 });
			expect(await expectJson(reader.send('POST', `/api/channels/${channelId}/read`, { seq: 1 }), 200)).toEqual({ lastReadSeq: 3 });
			expect(await expectJson(reader.send('POST', `/api/channels/${channelId}/read`, { seq: 999 }), 200)).toEqual({ lastReadSeq: 4 });
			await sendMessage(owner, channelId, 'fresh');
			expect(await channelOf(reader, channelId)).toMatchObject({ lastSeq: 5, lastReadSeq: 4, unreadCount: 1 });
			await expectError(reader.send('POST', `/api/channels/${channelId}/read`, { seq: -1 }), 400, 'invalid', 'seq: Invalid value: Expected >=0');
		});

		it('a new member does not see the history from before joining as unread', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const channelId = await quietChannel(owner, community.id);
			for (let i = 0; i < 3; i += 1) {
				await sendMessage(owner, channelId, `old ${i}`);
				await sendMessage(owner, community.generalId, `old ${i}`);
			}
			const newcomer = await TestClient.signUp(server);
			await joinCommunity(owner, newcomer, community.id);
			const { channels } = await newcomer.api.get<{ channels: ChannelView[] }>(`/api/communities/${community.id}/channels`);
			expect(channels.map((c) => [c.name, c.unreadCount])).toEqual([
				['general', 0],
				['quiet', 0]
			]);
			await sendMessage(owner, channelId, 'new');
			expect((await channelOf(newcomer, channelId)).unreadCount).toBe(1);
		});

		it('a member who leaves and comes back does not see what was said meanwhile as unread', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const member = await TestClient.signUp(server);
			await joinCommunity(owner, member, community.id);
			await member.api.post(`/api/communities/${community.id}/leave`);
			for (let i = 0; i < 3; i += 1) await sendMessage(owner, community.generalId, `while away ${i}`);
			await joinCommunity(owner, member, community.id);
			expect((await channelOf(member, community.generalId)).unreadCount).toBe(0);
		});
	});
});
