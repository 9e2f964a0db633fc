// Mentions' routing field: the small, readable list beside a message's ciphertext naming who it
// mentions. The server checks it (only readers can be named; @everyone and @here need the
// permission), stores it, relays it with the message, and counts unread mentions per reader.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, expectError, joinCommunity, newClientId, type Community } from '../helpers/fixtures.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import { MENTIONS_MAX_USERS, type Mentions } from '#lib/shared/mentions.ts';
import type { ChannelView, MessageView, ServerFrameOf } from '#lib/shared/protocol/frames.ts';
import type { HistoryPage } from '#lib/shared/api-types.ts';
import { mentionsUser } from '#lib/shared/mentions.ts';
import { encodeDraft } from '#lib/client/e2ee/message-codec.svelte.ts';
import { startDevice } from '../helpers/e2ee-device.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('mentions', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let ann: TestClient;
	let ben: TestClient;
	let community: Community;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		owner = await TestClient.signUp(server);
		community = await createCommunity(owner);
		ann = await TestClient.signUp(server);
		ben = await TestClient.signUp(server);
		for (const member of [ann, ben]) await joinCommunity(owner, member, community.id);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	const post = (client: TestClient, channelId: string, mentions?: unknown) =>
		client.send('POST', `/api/channels/${channelId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('hello @someone'), ...(mentions ? { mentions } : {}) });

	async function mentionCount(client: TestClient, channelId: string): Promise<number> {
		const { channels } = await client.api.get<{ channels: ChannelView[] }>(`/api/communities/${community.id}/channels`);
		return channels.find((c) => c.id === channelId)!.mentionCount;
	}

	it('stores who a message mentions and relays it live and in history; readers only', async () => {
		const stranger = await TestClient.signUp(server);
		const socket = await ben.socket();
		const answer = await socket.request({
			t: 'message.send',
			channelId: community.generalId,
			clientId: newClientId(),
			payload: encodeMessageBody('hi @ann'),
			// Upper case, a duplicate and someone who is not in the community: stored canonical and without them.
			mentions: { users: [ann.user.id.toUpperCase(), ann.user.id, stranger.user.id] }
		});
		expect(answer).toMatchObject({ t: 'ack' });
		const expected: Mentions = { users: [ann.user.id] };
		const annSocket = await ann.socket();
		const page = await ann.api.get<HistoryPage>(`/api/channels/${community.generalId}/messages?limit=5`);
		const stored = page.messages.find((m) => m.id === (answer as ServerFrameOf<'ack'>).result?.messageId)!;
		expect(stored.mentions).toEqual(expected);

		const live = annSocket.next<ServerFrameOf<'event'>>((f) => f.t === 'event' && f.event.type === 'message.created');
		const { message } = await ben.api.post<{ message: MessageView }>(`/api/channels/${community.generalId}/messages`, {
			clientId: newClientId(),
			payload: encodeMessageBody('and again @ann'),
			mentions: { users: [ann.user.id] }
		});
		expect(message.mentions).toEqual(expected);
		const frame = await live;
		expect(frame.event.type === 'message.created' && frame.event.message.mentions).toEqual(expected);
		// A message without mentions carries no field at all.
		const plain = await ben.api.post<{ message: MessageView }>(`/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('no one') });
		expect(plain.message).not.toHaveProperty('mentions');
		socket.close();
		annSocket.close();
	});

	it('counts unread mentions per reader, apart from unread messages, until read', async () => {
		const { channel } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'counting' });
		await (await post(ben, channel.id, { users: [ann.user.id] })).text();
		await (await post(ben, channel.id)).text();
		await (await post(owner, channel.id, { everyone: true })).text();
		await (await post(ann, channel.id, { users: [ann.user.id] })).text(); // her own: not unread
		expect(await mentionCount(ann, channel.id)).toBe(2);
		expect(await mentionCount(ben, channel.id)).toBe(1); // only @everyone
		expect(await mentionCount(owner, channel.id)).toBe(0);
		const { channels } = await ann.api.get<{ channels: ChannelView[] }>(`/api/communities/${community.id}/channels`);
		const view = channels.find((c) => c.id === channel.id)!;
		expect(view.unreadCount).toBe(3);
		await ann.api.post(`/api/channels/${channel.id}/read`, { seq: view.lastSeq });
		expect(await mentionCount(ann, channel.id)).toBe(0);
		// A deleted message's mention is no longer counted (nor relayed).
		const { message } = await ben.api.post<{ message: MessageView }>(`/api/channels/${channel.id}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x'), mentions: { users: [ann.user.id] } });
		expect(await mentionCount(ann, channel.id)).toBe(1);
		await ben.api.delete(`/api/messages/${message.id}`);
		expect(await mentionCount(ann, channel.id)).toBe(0);
		const page = await ann.api.get<HistoryPage>(`/api/channels/${channel.id}/messages?limit=5`);
		expect(page.messages.find((m) => m.id === message.id)).not.toHaveProperty('mentions');
	});

	it('refuses @everyone and @here from a member without the permission, over REST and /ws', async () => {
		await expectError(post(ann, community.generalId, { everyone: true }), 403, 'forbidden', 'You need the "Mention everyone" permission in this community to do that.');
		await expectError(post(ann, community.generalId, { here: true }), 403, 'forbidden', 'You need the "Mention everyone" permission in this community to do that.');
		const socket = await ann.socket();
		expect(await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: encodeMessageBody('@here'), mentions: { here: true } })).toEqual({
			t: 'error',
			id: expect.any(String),
			code: 'forbidden',
			message: 'You need the "Mention everyone" permission in this community to do that.'
		});
		socket.close();
		// The owner may; so may anyone in a direct message.
		expect((await post(owner, community.generalId, { here: true })).status).toBe(201);
		const { channel } = await ann.api.post<{ channel: ChannelView }>('/api/dms', { userId: ben.user.id });
		const response = await post(ann, channel.id, { everyone: true, users: [ben.user.id, owner.user.id] });
		expect(response.status).toBe(201);
		// In a DM only its two people can be named.
		expect(((await response.json()) as { message: MessageView }).message.mentions).toEqual({ users: [ben.user.id], everyone: true });
	});

	it('refuses malformed mentions with a clear error', async () => {
		const tooMany = Array.from({ length: MENTIONS_MAX_USERS + 1 }, () => crypto.randomUUID());
		for (const mentions of [{ users: ['not-an-id'] }, { users: tooMany }, { everyone: false }, { users: [] }, { someone: true }]) {
			const response = await post(ann, community.generalId, mentions);
			expect(response.status, JSON.stringify(mentions)).toBe(400);
			expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid');
		}
		const socket = await ann.socket();
		const answer = await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: encodeMessageBody('x'), mentions: { users: ['nope'] } });
		expect(answer).toMatchObject({ t: 'error', code: 'bad_frame' });
		socket.close();
	});

	it('the encrypted content repeats the mentions; a routing field the content does not back is not a mention', async () => {
		const [benDevice, annDevice] = await Promise.all([startDevice(ben), startDevice(ann)]);
		const mentions: Mentions = { users: [ann.user.id] };
		const payload = await benDevice.engine.seal(community.generalId, encodeDraft('over to you @ann', { mentions }), { direct: false });
		const { message } = await ben.api.post<{ message: MessageView }>(`/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload, mentions });
		await annDevice.engine.syncToDevice();
		const view = await annDevice.engine.open(message);
		expect(view.state === 'ok' && view.content.mentions).toEqual(mentions);
		expect(view.state === 'ok' && mentionsUser(message.mentions, view.content.mentions, ann.user.id)).toBe(true);
		expect(payload).not.toContain(ann.user.id); // the mention travels encrypted, apart from the routing field

		// The same content posted with a routing field naming someone else (or everyone): the reader
		// named only there is not mentioned, and the one named only inside is not either.
		const forged = await owner.api.post<{ message: MessageView }>(`/api/channels/${community.generalId}/messages`, {
			clientId: newClientId(),
			payload: await benDevice.engine.seal(community.generalId, encodeDraft('nothing for ann here'), { direct: false }),
			mentions: { users: [ann.user.id] }
		});
		await annDevice.engine.syncToDevice();
		const forgedView = await annDevice.engine.open({ ...forged.message, authorId: ben.user.id });
		expect(forgedView.state).toBe('ok');
		expect(forgedView.state === 'ok' && mentionsUser(forged.message.mentions, forgedView.content.mentions, ann.user.id)).toBe(false);
	});
});
