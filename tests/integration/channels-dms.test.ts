// Direct messages: who may open one with whom, one channel per pair (even when both open it at the
// same moment), what each side sees, and live delivery to a DM created while both are connected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, expectError, expectJson, joinCommunity, MISSING_ID, newClientId, sendMessage } from '../helpers/fixtures.ts';
import type { ChannelView } from '#lib/shared/api-types.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('direct messages', () => {
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

	/** Two users who share a community. */
	async function neighbours(names: { a?: string; b?: string } = {}) {
		const a = await TestClient.signUp(server, { displayName: names.a });
		const b = await TestClient.signUp(server, { displayName: names.b });
		const community = await createCommunity(a);
		await joinCommunity(a, b, community.id);
		return { a, b, community };
	}

	describe('POST /api/dms', () => {
		it('opens a DM with someone who shares a community, showing them as the peer', async () => {
			const { a, b } = await neighbours({ a: 'Ann', b: 'Ben' });
			const body = await expectJson<{ channel: ChannelView }>(a.send('POST', '/api/dms', { userId: b.user.id }), 200);
			expect(body.channel).toEqual({
				id: expect.any(String),
				communityId: null,
				kind: 'dm',
				name: '',
				topic: '',
				position: 0,
				slowModeSeconds: 0,
				disappearingSeconds: 0,
				archived: false,
				permissionOverrides: {},
				canSend: true,
				lastSeq: 0,
				lastReadSeq: 0,
				unreadCount: 0,
				mentionCount: 0,
				peer: { id: b.user.id, username: b.user.username, displayName: 'Ben' }
			});
			const fromB = await b.api.get<{ channel: ChannelView }>(`/api/channels/${body.channel.id}`);
			expect(fromB.channel.peer).toEqual({ id: a.user.id, username: a.user.username, displayName: 'Ann' });
		});

		it('returns the same channel every time, from either side, with the id in any case', async () => {
			const { a, b } = await neighbours();
			const first = await a.api.post<{ channel: ChannelView }>('/api/dms', { userId: b.user.id });
			const again = await a.api.post<{ channel: ChannelView }>('/api/dms', { userId: b.user.id.toUpperCase() });
			const fromB = await b.api.post<{ channel: ChannelView }>('/api/dms', { userId: a.user.id });
			expect(new Set([first.channel.id, again.channel.id, fromB.channel.id]).size).toBe(1);
		});

		it('creates one channel for the pair even when both open it concurrently', async () => {
			const { a, b } = await neighbours();
			const opens = await Promise.all(
				Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a.send('POST', '/api/dms', { userId: b.user.id }) : b.send('POST', '/api/dms', { userId: a.user.id })))
			);
			expect(opens.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
			const ids = await Promise.all(opens.map(async (r) => ((await r.json()) as { channel: ChannelView }).channel.id));
			expect(new Set(ids).size).toBe(1);
			for (const client of [a, b]) {
				expect((await client.api.get<{ channels: ChannelView[] }>('/api/dms')).channels.map((c) => c.id)).toEqual([ids[0]]);
			}
		});

		it('refuses a DM with yourself with 400', async () => {
			const { a } = await neighbours();
			await expectError(a.send('POST', '/api/dms', { userId: a.user.id }), 400, 'invalid', 'You cannot start a conversation with yourself.');
		});

		it('refuses a stranger exactly like an unknown user (404)', async () => {
			const { a } = await neighbours();
			const stranger = await TestClient.signUp(server);
			await expectError(a.send('POST', '/api/dms', { userId: stranger.user.id }), 404, 'not_found', 'User was not found.');
			await expectError(a.send('POST', '/api/dms', { userId: MISSING_ID }), 404, 'not_found', 'User was not found.');
			expect((await stranger.api.get<{ channels: ChannelView[] }>('/api/dms')).channels).toEqual([]);
		});

		it('refuses a malformed user id with 400', async () => {
			const { a } = await neighbours();
			await expectError(a.send('POST', '/api/dms', { userId: 'bob' }), 400, 'invalid', 'userId must be a user id.');
		});
	});

	describe('GET /api/dms', () => {
		it("lists the caller's DMs with their peers, and no one else's", async () => {
			const { a, b, community } = await neighbours({ a: 'Ann', b: 'Ben' });
			const c = await TestClient.signUp(server, { displayName: 'Cat' });
			await joinCommunity(a, c, community.id);
			await a.api.post('/api/dms', { userId: b.user.id });
			await a.api.post('/api/dms', { userId: c.user.id });
			const { channels } = await a.api.get<{ channels: ChannelView[] }>('/api/dms');
			expect(channels.map((ch) => ch.peer?.displayName)).toEqual(['Ben', 'Cat']);
			expect((await b.api.get<{ channels: ChannelView[] }>('/api/dms')).channels.map((ch) => ch.peer?.displayName)).toEqual(['Ann']);
		});
	});

	describe('unread counts of DMs', () => {
		it("count the peer's messages that are not deleted, and clear when read", async () => {
			const { a, b } = await neighbours();
			const { channel } = await a.api.post<{ channel: ChannelView }>('/api/dms', { userId: b.user.id });
			const first = await sendMessage(a, channel.id, 'one');
			await sendMessage(a, channel.id, 'two');
			await sendMessage(b, channel.id, 'mine');
			await a.api.delete(`/api/messages/${first.id}`);
			const forB = async () => (await b.api.get<{ channels: ChannelView[] }>('/api/dms')).channels[0]!;
			expect(await forB()).toMatchObject({ id: channel.id, unreadCount: 1 });
			expect((await a.api.get<{ channels: ChannelView[] }>('/api/dms')).channels[0]).toMatchObject({ unreadCount: 1 });
			await b.api.post(`/api/channels/${channel.id}/read`, { seq: (await forB()).lastSeq });
			expect(await forB()).toMatchObject({ unreadCount: 0 });
		});
	});

	describe('PATCH /api/channels/:dm', () => {
		it('refuses to rename a DM with 400', async () => {
			const { a, b } = await neighbours();
			const { channel } = await a.api.post<{ channel: ChannelView }>('/api/dms', { userId: b.user.id });
			await expectError(a.send('PATCH', `/api/channels/${channel.id}`, { name: 'ours' }), 400, 'invalid', 'Direct messages have no name or topic to change.');
		});
	});

	describe('live', () => {
		it("a DM opened while both are connected reaches the peer's sockets at once", async () => {
			const { a, b } = await neighbours();
			const aSocket = await a.socket();
			const bSocket = await b.socket();
			const { channel } = await a.api.post<{ channel: ChannelView }>('/api/dms', { userId: b.user.id });
			expect(await bSocket.waitFor((f) => f.t === 'directory.changed')).toEqual({ t: 'directory.changed', communityId: null, reason: 'dm.created' });
			const ack = await aSocket.request({ t: 'message.send', channelId: channel.id, clientId: newClientId(), payload: encodeMessageBody('psst') });
			expect(ack).toMatchObject({ t: 'ack', result: { seq: 1, duplicate: false } });
			const event = await bSocket.waitFor((f) => f.t === 'event' && f.channelId === channel.id);
			expect(event).toMatchObject({ event: { type: 'message.created', seq: 1, message: { authorId: a.user.id, payload: encodeMessageBody('psst') } } });
			aSocket.close();
			bSocket.close();
		});
	});
});
