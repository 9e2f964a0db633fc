// Blocking: the blocker gets no direct messages, counted mentions or pushes from the blocked
// person (neither can write the other a direct message), and can list and undo their blocks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, expectError, joinCommunity, MISSING_ID, newClientId, sendMessage, type Community } from '../helpers/fixtures.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import type { ChannelView, UserView } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('blocking', () => {
	let db: TestDatabase;
	let server: TestServer;
	let ann: TestClient;
	let bob: TestClient;
	let community: Community;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		ann = await TestClient.signUp(server);
		bob = await TestClient.signUp(server);
		community = await createCommunity(ann);
		await joinCommunity(ann, bob, community.id);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	const view = (client: TestClient): UserView => ({ id: client.user.id, username: client.user.username, displayName: client.user.displayName });
	const blocks = async (client: TestClient) => (await client.api.get<{ users: UserView[] }>('/api/me/blocks')).users;
	const dmWith = async (client: TestClient, other: TestClient) => (await client.api.post<{ channel: ChannelView }>('/api/dms', { userId: other.user.id })).channel;
	const post = (client: TestClient, channelId: string, text: string, mentions?: unknown) =>
		client.send('POST', `/api/channels/${channelId}/messages`, { clientId: newClientId(), payload: encodeMessageBody(text), ...(mentions ? { mentions } : {}) });

	it('lists, blocks (idempotently) and unblocks', async () => {
		expect(await blocks(ann)).toEqual([]);
		expect(await ann.api.put(`/api/users/${bob.user.id}/block`)).toEqual({ blocked: true });
		expect(await ann.api.put(`/api/users/${bob.user.id}/block`)).toEqual({ blocked: true });
		expect(await blocks(ann)).toEqual([view(bob)]);
		// Blocking is one-way: Bob's own list stays empty.
		expect(await blocks(bob)).toEqual([]);
		expect(await ann.api.delete(`/api/users/${bob.user.id}/block`)).toEqual({ blocked: false });
		expect(await blocks(ann)).toEqual([]);
	});

	it('refuses blocking yourself or someone who does not exist', async () => {
		await expectError(ann.send('PUT', `/api/users/${ann.user.id}/block`), 400, 'invalid', 'You cannot block yourself.');
		await expectError(ann.send('PUT', `/api/users/${MISSING_ID}/block`), 404, 'not_found', 'User was not found.');
	});

	it('no direct messages either way while blocked, over REST and /ws; they flow again after unblocking', async () => {
		const dm = await dmWith(bob, ann);
		await sendMessage(bob, dm.id, 'before');
		await ann.api.put(`/api/users/${bob.user.id}/block`);
		await expectError(post(bob, dm.id, 'hello?'), 403, 'forbidden', 'This person is not accepting your messages.');
		const socket = await bob.socket();
		expect(await socket.request({ t: 'message.send', channelId: dm.id, clientId: newClientId(), payload: encodeMessageBody('over ws') })).toEqual({
			t: 'error',
			id: expect.any(String),
			code: 'forbidden',
			message: 'This person is not accepting your messages.'
		});
		socket.close();
		await expectError(post(ann, dm.id, 'and you?'), 403, 'forbidden', 'You blocked this person: unblock them to send them messages.');
		await ann.api.delete(`/api/users/${bob.user.id}/block`);
		expect((await post(bob, dm.id, 'after')).status).toBe(201);
	});

	it('channel messages still arrive, but a blocked person\'s mentions are not counted for the blocker', async () => {
		const mentionCount = async () =>
			(await ann.api.get<{ channels: ChannelView[] }>(`/api/communities/${community.id}/channels`)).channels.find((c) => c.id === community.generalId)!.mentionCount;
		await ann.api.post(`/api/channels/${community.generalId}/read`, { seq: Number.MAX_SAFE_INTEGER });
		await ann.api.put(`/api/users/${bob.user.id}/block`);
		expect((await post(bob, community.generalId, 'hey @ann', { users: [ann.user.id] })).status).toBe(201);
		expect(await mentionCount()).toBe(0);
		await ann.api.delete(`/api/users/${bob.user.id}/block`);
		// The same unread mention counts once the block is gone.
		expect(await mentionCount()).toBe(1);
	});
});
