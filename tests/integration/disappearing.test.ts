// Disappearing messages over HTTP and /ws: who may set a conversation's timer, which values it
// takes, the notice everyone sees, the expiry stamped on messages, and that it all survives a
// restart. The expiry job itself runs under a fixed clock in disappearing-expiry.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, restartServer, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, expectError, joinCommunity, sendMessage, type Community } from '../helpers/fixtures.ts';
import type { ChannelView } from '#lib/shared/protocol/frames.ts';
import type { HistoryPage } from '#lib/shared/api-types.ts';

const skip = postgresUnavailableReason();
const DAY = 86_400;

describe.skipIf(skip)('disappearing messages', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let member: TestClient;
	let community: Community;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		owner = await TestClient.signUp(server);
		member = await TestClient.signUp(server);
		community = await createCommunity(owner);
		await joinCommunity(owner, member, community.id);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	const setTimer = (client: TestClient, channelId: string, seconds: unknown) => client.send('PUT', `/api/channels/${channelId}/disappearing`, { seconds });
	const channelView = async (client: TestClient, channelId: string) => (await client.api.get<{ channel: ChannelView }>(`/api/channels/${channelId}`)).channel;

	it('those who manage channels set the timer; everyone sees the notice live and in history; new messages carry their expiry', async () => {
		const watcher = await member.socket();
		const response = await setTimer(owner, community.generalId, DAY);
		expect(response.status).toBe(200);
		const { seq } = (await response.json()) as { seq: number };
		const live = await watcher.waitFor((f) => f.t === 'event' && f.event.seq === seq);
		expect(live).toMatchObject({ t: 'event', channelId: community.generalId, event: { type: 'disappearing.set', seconds: DAY, actorId: owner.user.id, user: { id: owner.user.id } } });
		watcher.close();
		expect((await channelView(member, community.generalId)).disappearingSeconds).toBe(DAY);

		const message = await sendMessage(member, community.generalId, 'see you tomorrow');
		expect(Date.parse(message.expiresAt!) - Date.parse(message.createdAt)).toBe(DAY * 1000);
		const page = await member.api.get<HistoryPage>(`/api/channels/${community.generalId}/messages`);
		expect(page.notices.filter((n) => n.type === 'disappearing.set')).toEqual([
			{ seq, type: 'disappearing.set', user: { id: owner.user.id, username: owner.user.username, displayName: owner.user.displayName }, at: expect.any(String), seconds: DAY }
		]);
		// Setting the same again is a no-op: no second notice.
		expect(await owner.api.put(`/api/channels/${community.generalId}/disappearing`, { seconds: DAY })).toEqual({ seq: null, seconds: DAY });
	});

	it('a member without "manage channels" is refused with a clear error', async () => {
		await expectError(setTimer(member, community.generalId, 0), 403, 'forbidden', 'You need the "Manage channels" permission in this community to do that.');
	});

	it('either person of a direct message sets its timer', async () => {
		const { channel } = await member.api.post<{ channel: ChannelView }>('/api/dms', { userId: owner.user.id });
		expect(await member.api.put(`/api/channels/${channel.id}/disappearing`, { seconds: 3600 })).toEqual({ seq: expect.any(Number), seconds: 3600 });
		expect((await channelView(owner, channel.id)).disappearingSeconds).toBe(3600);
	});

	it('refuses timers other than off, 1 hour, 1 day, 1 week and 4 weeks', async () => {
		for (const seconds of [1, 60, -3600, 3600.5, 365 * DAY]) {
			const response = await setTimer(owner, community.generalId, seconds);
			expect(response.status, String(seconds)).toBe(400);
		}
		await expectError(setTimer(owner, community.generalId, 60), 400, 'invalid', 'The timer must be one of 0, 3600, 86400, 604800, 2419200 seconds (0 turns it off).');
		await expectError(setTimer(owner, community.generalId, 'a day'), 400, 'invalid', 'seconds must be a number.');
	});

	it('turning it off stops stamping new messages; the timer survives a restart', async () => {
		const channel = (await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'ephemeral' })).channel;
		await owner.api.put(`/api/channels/${channel.id}/disappearing`, { seconds: 604_800 });
		server = await restartServer(server);
		expect((await channelView(owner, channel.id)).disappearingSeconds).toBe(604_800);
		expect((await sendMessage(owner, channel.id, 'a week')).expiresAt).toBeDefined();
		await owner.api.put(`/api/channels/${channel.id}/disappearing`, { seconds: 0 });
		expect((await sendMessage(owner, channel.id, 'for good')).expiresAt).toBeUndefined();
	});
});
