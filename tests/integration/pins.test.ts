// Pins: a channel's short list of messages worth finding again. Pinning is a channel event: live to
// everyone in the channel, replayed on resume, shown as a notice between messages, and listed by
// GET /api/channels/:id/pins. The server stores only which message, who pinned it and when.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, type TestSocket } from '../helpers/clients.ts';
import { createCommunity, expectError, joinCommunity, sendMessage, type Community } from '../helpers/fixtures.ts';
import type { ChannelView } from '#lib/shared/protocol/frames.ts';
import type { HistoryPage, PinnedList } from '#lib/shared/api-types.ts';
import { PINS_PER_CHANNEL_MAX } from '#lib/shared/limits.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('pins', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let member: TestClient;
	let community: Community;
	let watcher: TestSocket;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		owner = await TestClient.signUp(server);
		member = await TestClient.signUp(server);
		community = await createCommunity(owner);
		await joinCommunity(owner, member, community.id);
		watcher = await member.socket();
	});
	afterAll(async () => {
		watcher?.close();
		await server?.stop();
		await db?.drop();
	});

	const pins = (client: TestClient, channelId: string) => client.api.get<PinnedList>(`/api/channels/${channelId}/pins`);

	it('pinning tells the channel live, lists the message with who pinned it, and leaves a notice in history', async () => {
		const message = await sendMessage(member, community.generalId, 'the meeting is at 10');
		const socket = await owner.socket();
		const answer = await socket.request({ t: 'message.pin', messageId: message.id });
		expect(answer).toEqual({ t: 'ack', id: expect.any(String), result: { seq: expect.any(Number) } });
		const seq = (answer as unknown as { result: { seq: number } }).result.seq;

		const live = await watcher.waitFor((f) => f.t === 'event' && f.event.seq === seq);
		expect(live).toEqual({
			t: 'event',
			channelId: community.generalId,
			event: { seq, at: expect.any(String), actorId: owner.user.id, type: 'message.pinned', messageId: message.id, user: { id: owner.user.id, username: owner.user.username, displayName: owner.user.displayName } }
		});
		const at = (live as { event: { at: string } }).event.at;

		const list = await pins(member, community.generalId);
		expect(list.max).toBe(PINS_PER_CHANNEL_MAX);
		expect(list.pins).toEqual([
			{ message: { ...message, pinnedAt: at }, pinnedAt: at, pinnedBy: { id: owner.user.id, username: owner.user.username, displayName: owner.user.displayName } }
		]);

		const page = await member.api.get<HistoryPage>(`/api/channels/${community.generalId}/messages`);
		expect(page.messages.find((m) => m.id === message.id)?.pinnedAt).toBe(at);
		expect(page.notices.filter((n) => n.type === 'message.pinned')).toEqual([
			{ seq, type: 'message.pinned', user: { id: owner.user.id, username: owner.user.username, displayName: owner.user.displayName }, at, messageId: message.id }
		]);

		// Pinning it again changes nothing and makes no event.
		expect(await socket.request({ t: 'message.pin', messageId: message.id })).toEqual({ t: 'ack', id: expect.any(String), result: { seq: null } });
		socket.close();
	});

	it('unpinning tells the channel and empties the list; unpinning again is a no-op', async () => {
		const message = await sendMessage(owner, community.generalId, 'temporary');
		await owner.api.put(`/api/messages/${message.id}/pin`);
		const { seq } = await owner.api.delete<{ seq: number }>(`/api/messages/${message.id}/pin`);
		const live = await watcher.waitFor((f) => f.t === 'event' && f.event.seq === seq);
		expect(live).toMatchObject({ t: 'event', event: { type: 'message.unpinned', messageId: message.id, user: { id: owner.user.id } } });
		expect((await pins(member, community.generalId)).pins.map((p) => p.message.id)).not.toContain(message.id);
		expect(await owner.api.delete(`/api/messages/${message.id}/pin`)).toEqual({ seq: null });
		const page = await member.api.get<HistoryPage>(`/api/channels/${community.generalId}/messages`);
		expect(page.messages.find((m) => m.id === message.id)).not.toHaveProperty('pinnedAt');
	});

	it('lists the newest pin first', async () => {
		const channel = (await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'ordered' })).channel;
		const first = await sendMessage(owner, channel.id, 'one');
		const second = await sendMessage(owner, channel.id, 'two');
		await owner.api.put(`/api/messages/${second.id}/pin`);
		await owner.api.put(`/api/messages/${first.id}/pin`);
		expect((await pins(owner, channel.id)).pins.map((p) => p.message.id)).toEqual([first.id, second.id]);
	});

	it('a deleted message leaves the pinned list, and cannot be pinned', async () => {
		const message = await sendMessage(member, community.generalId, 'pinned then deleted');
		await owner.api.put(`/api/messages/${message.id}/pin`);
		await member.api.delete(`/api/messages/${message.id}`);
		expect((await pins(owner, community.generalId)).pins.map((p) => p.message.id)).not.toContain(message.id);
		await expectError(owner.send('PUT', `/api/messages/${message.id}/pin`), 404, 'not_found', 'Message was not found.');
	});

	it('either person of a direct message may pin in it; nobody else sees its pins', async () => {
		const { channel } = await member.api.post<{ channel: ChannelView }>('/api/dms', { userId: owner.user.id });
		const message = await sendMessage(owner, channel.id, 'our address');
		expect(await member.api.put(`/api/messages/${message.id}/pin`)).toEqual({ seq: expect.any(Number) });
		expect((await pins(owner, channel.id)).pins.map((p) => p.message.id)).toEqual([message.id]);
		const stranger = await TestClient.signUp(server);
		await expectError(stranger.fetch(`/api/channels/${channel.id}/pins`), 404, 'not_found', 'Channel was not found.');
		await expectError(stranger.send('PUT', `/api/messages/${message.id}/pin`), 404, 'not_found', 'Message was not found.');
	});

	it('an archived channel refuses pin changes with a clear error', async () => {
		const channel = (await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'old' })).channel;
		const message = await sendMessage(owner, channel.id, 'history');
		await owner.api.patch(`/api/channels/${channel.id}`, { archived: true });
		await expectError(owner.send('PUT', `/api/messages/${message.id}/pin`), 403, 'forbidden', 'This channel is archived: its pins cannot change.');
	});

	it(`refuses a pin beyond the ${PINS_PER_CHANNEL_MAX} a channel may have, with a clear error`, async () => {
		const channel = (await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'full' })).channel;
		for (let i = 0; i < PINS_PER_CHANNEL_MAX; i += 1) {
			const message = await sendMessage(owner, channel.id, `pin ${i}`);
			await owner.api.put(`/api/messages/${message.id}/pin`);
		}
		const extra = await sendMessage(owner, channel.id, 'one too many');
		await expectError(
			owner.send('PUT', `/api/messages/${extra.id}/pin`),
			409,
			'conflict',
			`A channel can have at most ${PINS_PER_CHANNEL_MAX} pinned messages: unpin one first.`
		);
		expect((await pins(owner, channel.id)).pins).toHaveLength(PINS_PER_CHANNEL_MAX);
	});
});
