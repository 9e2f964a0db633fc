// Ephemeral /ws traffic: typing indicators (relayed to the channel's other members only, never
// stored, dropped for non-members) and presence (online, idle, offline), which the hub batches
// every 500 ms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, joinCommunity, MISSING_ID } from '../helpers/fixtures.ts';
import type { ChannelView } from '#lib/shared/api-types.ts';
import type { PresenceStatus, ServerFrame } from '#lib/shared/protocol/frames.ts';
import { presenceEntries } from '#lib/shared/protocol/presence-frame.ts';

const skip = postgresUnavailableReason();
// Presence is flushed every 500 ms; allow that plus delivery on a busy machine.
const PRESENCE_WITHIN_MS = 1_500;
const QUIET_MS = 300;

type PresenceFrame = Extract<ServerFrame, { t: 'presence' }>;
const presenceOf = (userId: string, status: PresenceStatus) => (f: ServerFrame) =>
	f.t === 'presence' && presenceEntries(f).some((u) => u.userId === userId && u.status === status);

describe.skipIf(skip)('/ws typing and presence', () => {
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

	async function trio() {
		const a = await TestClient.signUp(server);
		const b = await TestClient.signUp(server);
		const outsider = await TestClient.signUp(server);
		const community = await createCommunity(a);
		await joinCommunity(a, b, community.id);
		return { a, b, outsider, community };
	}

	describe('typing', () => {
		it("reaches the channel's other members, not the sender and not outsiders", async () => {
			const { a, b, outsider, community } = await trio();
			const [aSocket, aOther, bSocket, outsiderSocket] = [await a.socket(), await a.socket(), await b.socket(), await outsider.socket()];
			aSocket.sendRaw(JSON.stringify({ t: 'typing', channelId: community.generalId }));
			expect(await bSocket.waitFor((f) => f.t === 'typing')).toEqual({ t: 'typing', channelId: community.generalId, userId: a.user.id });
			for (const socket of [aSocket, aOther, outsiderSocket]) expect(await socket.collectFor(QUIET_MS, (f) => f.t === 'typing')).toEqual([]);
			// Typing is not a request: nothing answers it.
			expect(aSocket.matching((f) => f.t === 'ack' || f.t === 'error')).toEqual([]);
			for (const s of [aSocket, aOther, bSocket, outsiderSocket]) s.close();
		});

		it("drops a non-member's typing silently: no one hears it and no error reveals the channel", async () => {
			const { a, b, outsider, community } = await trio();
			const [aSocket, bSocket, outsiderSocket] = [await a.socket(), await b.socket(), await outsider.socket()];
			outsiderSocket.sendRaw(JSON.stringify({ t: 'typing', channelId: community.generalId }));
			outsiderSocket.sendRaw(JSON.stringify({ t: 'typing', channelId: MISSING_ID }));
			for (const socket of [aSocket, bSocket]) expect(await socket.collectFor(QUIET_MS, (f) => f.t === 'typing')).toEqual([]);
			expect(outsiderSocket.matching((f) => f.t === 'error' || f.t === 'typing')).toEqual([]);
			expect((await outsiderSocket.ping()).t).toBe('pong');
			for (const s of [aSocket, bSocket, outsiderSocket]) s.close();
		});

		it('in a DM reaches only the peer', async () => {
			const { a, b, community } = await trio();
			const c = await TestClient.signUp(server);
			await joinCommunity(a, c, community.id);
			const { channel } = await a.api.post<{ channel: ChannelView }>('/api/dms', { userId: b.user.id });
			const [aSocket, bSocket, cSocket] = [await a.socket(), await b.socket(), await c.socket()];
			aSocket.sendRaw(JSON.stringify({ t: 'typing', channelId: channel.id }));
			expect(await bSocket.waitFor((f) => f.t === 'typing')).toEqual({ t: 'typing', channelId: channel.id, userId: a.user.id });
			expect(await cSocket.collectFor(QUIET_MS, (f) => f.t === 'typing')).toEqual([]);
			for (const s of [aSocket, bSocket, cSocket]) s.close();
		});
	});

	describe('presence', () => {
		it('a member sees another go online, idle, and offline after their socket closes, each within about a second', async () => {
			const { a, b } = await trio();
			const watcher = await b.socket();
			const subject = await a.socket();
			await watcher.waitFor(presenceOf(a.user.id, 'online'), PRESENCE_WITHIN_MS);
			subject.sendRaw(JSON.stringify({ t: 'presence', status: 'idle' }));
			await watcher.waitFor(presenceOf(a.user.id, 'idle'), PRESENCE_WITHIN_MS);
			subject.sendRaw(JSON.stringify({ t: 'presence', status: 'online' }));
			await watcher.next(presenceOf(a.user.id, 'online'), PRESENCE_WITHIN_MS);
			subject.close();
			await watcher.waitFor(presenceOf(a.user.id, 'offline'), PRESENCE_WITHIN_MS);
			watcher.close();
		});

		it('a new connection gets a snapshot of who is online in its communities', async () => {
			const { a, b } = await trio();
			const aSocket = await a.socket();
			const bSocket = await b.socket();
			const snapshot = await bSocket.waitFor<PresenceFrame>((f) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === a.user.id));
			expect(presenceEntries(snapshot)).toEqual(expect.arrayContaining([{ userId: a.user.id, status: 'online' }]));
			aSocket.close();
			bSocket.close();
		});

		it('a socket that connects between a change and the next flush ends with the right picture', async () => {
			// The hub serves each community's snapshot as of its last flush (built once for every
			// socket connecting meanwhile): the flush must then bring a newcomer up to date.
			const { a, b, community } = await trio();
			const c = await TestClient.signUp(server);
			await joinCommunity(a, c, community.id);
			const aSocket = await a.socket();
			const first = await b.socket();
			await first.waitFor(presenceOf(a.user.id, 'online'), PRESENCE_WITHIN_MS);
			// Quiet: every change so far is flushed, and the snapshot with a online is cached by this one.
			await first.collectFor(QUIET_MS * 2, () => false);
			const cached = await c.socket();
			await cached.waitFor(presenceOf(a.user.id, 'online'), PRESENCE_WITHIN_MS);
			// a goes idle and c reconnects before the flush: a stale snapshot, then the correction.
			aSocket.sendRaw(JSON.stringify({ t: 'presence', status: 'idle' }));
			cached.close();
			const between = await c.socket();
			await between.collectFor(PRESENCE_WITHIN_MS, () => false);
			const heard = between.matching<PresenceFrame>((f) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === a.user.id));
			expect(presenceEntries(heard.at(-1)!).find((u) => u.userId === a.user.id)!.status).toBe('idle');
			// And once a is gone, a socket connecting afterwards is not told a is there.
			aSocket.close();
			await between.waitFor(presenceOf(a.user.id, 'offline'), PRESENCE_WITHIN_MS);
			const after = await c.socket();
			await after.collectFor(QUIET_MS, () => false);
			expect(after.matching(presenceOf(a.user.id, 'online'))).toEqual([]);
			for (const s of [first, between, after]) s.close();
		});

		it('a user is online while any of their sockets is, idle when all are, offline when none is left', async () => {
			const { a, b } = await trio();
			const watcher = await b.socket();
			const phone = await a.socket();
			const laptop = await a.socket();
			await watcher.waitFor(presenceOf(a.user.id, 'online'), PRESENCE_WITHIN_MS);
			phone.sendRaw(JSON.stringify({ t: 'presence', status: 'idle' }));
			// Still online through the laptop: no idle announcement.
			expect(await watcher.collectFor(PRESENCE_WITHIN_MS, presenceOf(a.user.id, 'idle'))).toEqual([]);
			laptop.sendRaw(JSON.stringify({ t: 'presence', status: 'idle' }));
			await watcher.next(presenceOf(a.user.id, 'idle'), PRESENCE_WITHIN_MS);
			laptop.close();
			expect(await watcher.collectFor(PRESENCE_WITHIN_MS, presenceOf(a.user.id, 'offline'))).toEqual([]);
			phone.close();
			await watcher.next(presenceOf(a.user.id, 'offline'), PRESENCE_WITHIN_MS);
			watcher.close();
		});

		it('is not shown to people who share no community or DM with the user', async () => {
			const { a, outsider } = await trio();
			const outsiderSocket = await outsider.socket();
			const aSocket = await a.socket();
			aSocket.sendRaw(JSON.stringify({ t: 'presence', status: 'idle' }));
			aSocket.close();
			expect(await outsiderSocket.collectFor(PRESENCE_WITHIN_MS, (f) => f.t === 'presence' && presenceEntries(f).some((u) => u.userId === a.user.id))).toEqual([]);
			outsiderSocket.close();
		});

		it('someone who joins a community sees its online members, and they see the newcomer', async () => {
			const { a, outsider, community } = await trio();
			const aSocket = await a.socket();
			const newcomerSocket = await outsider.socket();
			await joinCommunity(a, outsider, community.id);
			await newcomerSocket.waitFor(presenceOf(a.user.id, 'online'), PRESENCE_WITHIN_MS);
			await aSocket.waitFor(presenceOf(outsider.user.id, 'online'), PRESENCE_WITHIN_MS);
			aSocket.close();
			newcomerSocket.close();
		});
	});
});
