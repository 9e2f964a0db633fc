// How many SQL statements the hot paths cost, counted from the server's own statement log
// (LOG_SQL). Each expectation says why the number is what it is; the point is that it does not
// grow with the number of recipients, messages on a page, or events replayed (no N+1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, type TestSocket } from '../helpers/clients.ts';
import { communityWithMembers, newClientId, sendMessage } from '../helpers/fixtures.ts';
import { gist, STATEMENT_LOGGING, statementsOf } from '../helpers/statement-count.ts';
import type { ChannelView, HistoryPage } from '#lib/shared/api-types.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();
type Ack = Extract<ServerFrame, { t: 'ack' }>;

describe.skipIf(skip)('statement counts', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let members: TestClient[];
	let channelId: string;
	let ownerSocket: TestSocket;
	let memberSockets: TestSocket[];

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: STATEMENT_LOGGING });
		const setup = await communityWithMembers(server, 3);
		owner = setup.owner;
		members = setup.members;
		channelId = (await owner.api.post<{ channel: ChannelView }>(`/api/communities/${setup.community.id}/channels`, { name: 'counted' })).channel.id;
		ownerSocket = await owner.socket();
		memberSockets = [];
		for (const m of members) memberSockets.push(await m.socket());
	});
	afterAll(async () => {
		for (const s of [ownerSocket, ...(memberSockets ?? [])]) s?.close();
		await server?.stop();
		await db?.drop();
	});

	const send = (socket: TestSocket, extra: Record<string, unknown> = {}) =>
		socket.request({ t: 'message.send', channelId, clientId: newClientId(), payload: 'counted', ...extra }) as Promise<Ack>;

	it('sockets connecting together share their session checks and subscription loads, one statement text each whatever their number', async () => {
		const people = [owner, ...members];
		let sockets: TestSocket[] = [];
		const statements = await statementsOf(server, async () => {
			sockets = await Promise.all(Array.from({ length: 20 }, (_, i) => people[i % people.length]!.socket()));
		});
		for (const socket of sockets) socket.close();
		expect(sockets.every((socket) => socket.frames.some((frame) => frame.t === 'ready'))).toBe(true);
		// Per batch: the sessions with their users, then the communities and DMs of those users, one
		// statement each whatever the batch's size (the ids travel as one array parameter: one text).
		// The first upgrade runs at once; the others, arriving within milliseconds, wait for the batch
		// window and share the next batches (server/realtime/batch-window.ts). One lookup per socket
		// would be 20 of each; a busy machine spreads the upgrades over a few windows.
		// (The subscription load is a union of two selects: its text starts with a parenthesis.)
		const kind = (sql: string) => (gist(sql) === 'select sessions' ? 'session check' : /^\(select .* from "community_members" .* union all .* from "dm_participants"/s.test(sql) ? 'subscription load' : sql);
		expect([...new Set(statements.map(kind))].sort()).toEqual(['session check', 'subscription load']);
		const sessionChecks = statements.filter((sql) => kind(sql) === 'session check').length;
		const subscriptionLoads = statements.filter((sql) => kind(sql) === 'subscription load').length;
		expect(sessionChecks).toBeLessThanOrEqual(sockets.length / 2);
		expect(subscriptionLoads).toBeLessThanOrEqual(sockets.length / 2);
		expect(new Set(statements).size).toBe(2);
	});

	it('message.send costs 3 statements, however many sockets receive it', async () => {
		let ack: Ack | undefined;
		const statements = await statementsOf(server, async () => {
			ack = await send(ownerSocket);
			// Fan-out happens before the marker: wait until every member has the event.
			for (const s of memberSockets) await s.waitFor((f) => f.t === 'event' && f.event.seq === ack!.result!.seq);
		});
		// Lock the channel row (FOR UPDATE, for the next seq); check membership and look up the
		// clientId (idempotency) in one statement; then one statement inserts the message, advances
		// channels.last_seq and inserts the event. Fan-out to the three member sockets and the
		// sender's is in memory: no statement.
		expect(statements.map(gist)).toEqual(['select channels', 'select community_members', 'insert messages + update channels + insert channel_events']);
		expect(statements[1]).toMatch(/from "messages"/);
	});

	it('message.send with a reply costs one more: the reply target is checked', async () => {
		const parent = (await send(ownerSocket)).result!.messageId;
		const statements = await statementsOf(server, () => send(ownerSocket, { replyToId: parent }));
		expect(statements.map(gist)).toEqual([
			'select channels',
			'select community_members',
			'select messages',
			'insert messages + update channels + insert channel_events'
		]);
	});

	it('message.send of a thread reply costs one more, like a reply: the root is checked; its summary and the follows ride in the same statement', async () => {
		const root = (await send(ownerSocket)).result!.messageId;
		const first = await statementsOf(server, () => send(memberSockets[0]!, { threadRootId: root }));
		// The root's new summary (update messages), the replier following and having read it (an
		// upsert: "do update set"), the root's author following it (insert ... on conflict do nothing):
		// all data-modifying parts of the one statement that stores the reply.
		expect(first.map(gist)).toEqual([
			'select channels',
			'select community_members',
			'select messages',
			'insert messages + update messages + insert thread_follows + update set + insert thread_follows + update channels + insert channel_events'
		]);
	});

	it('a history page costs 6 statements whether it holds 1 message or 50', async () => {
		const history = (limit: number) => statementsOf(server, () => members[0]!.api.get<HistoryPage>(`/api/channels/${channelId}/messages?limit=${limit}`));
		for (let i = 0; i < 50; i += 1) await sendMessage(owner, channelId, `filler ${i}`);
		const one = await history(1);
		const fifty = await history(50);
		// The session (1), the channel and the caller's membership (2), the page of messages (1), then
		// in parallel (so in either order): the reactions of all messages on the page at once (1) and
		// the join/leave notices between them, with their users (1).
		const expected = ['select sessions', 'select channels', 'select community_members', 'select messages'];
		const parallel = ['select channel_events', 'select reactions'];
		for (const statements of [one, fifty]) {
			expect(statements.slice(0, 4).map(gist)).toEqual(expected);
			expect(statements.slice(4).map(gist).sort()).toEqual(parallel);
		}
	});

	it('resume costs 5 statements per channel whether 1 event or 100 were missed, and 2 when up to date', async () => {
		const socket = memberSockets[1]!;
		const resumeFrom = (seq: number) => statementsOf(server, () => socket.request({ t: 'resume', cursors: [{ channelId, seq }] }));
		for (let i = 0; i < 50; i += 1) await sendMessage(owner, channelId, `more filler ${i}`);
		const lastSeq = (await members[1]!.api.get<{ channel: ChannelView }>(`/api/channels/${channelId}`)).channel.lastSeq;
		expect(lastSeq).toBeGreaterThan(100);
		// The channel and the caller's membership (2), the events after the cursor (1), then for all of
		// them at once: the messages they refer to (1) and those messages' reactions (1).
		// The last two run in parallel, so their order in the log varies: compare sorted.
		const expected = ['select channel_events', 'select channels', 'select community_members', 'select messages', 'select reactions'];
		expect((await resumeFrom(lastSeq - 1)).map(gist).sort()).toEqual(expected);
		expect((await resumeFrom(lastSeq - 100)).map(gist).sort()).toEqual(expected);
		// Up to date: only the access check, which also reads last_seq.
		expect((await resumeFrom(lastSeq)).map(gist)).toEqual(['select channels', 'select community_members']);
	});

	it('a resume of several channels costs the statements of one', async () => {
		const communityId = (await owner.api.get<{ channel: ChannelView }>(`/api/channels/${channelId}`)).channel.communityId!;
		const others: string[] = [];
		for (const name of ['counted-b', 'counted-c']) {
			const id = (await owner.api.post<{ channel: ChannelView }>(`/api/communities/${communityId}/channels`, { name })).channel.id;
			for (let i = 0; i < 3; i += 1) await sendMessage(owner, id, `filler ${name} ${i}`);
			others.push(id);
		}
		const cursors = [channelId, ...others].map((id) => ({ channelId: id, seq: 1 }));
		const expected = ['select channel_events', 'select channels', 'select community_members', 'select messages', 'select reactions'];
		const socket = memberSockets[0]!;
		const before = socket.frames.length;
		const statements = await statementsOf(server, () => socket.request({ t: 'resume', cursors }));
		const frames = socket.frames.slice(before);
		expect(statements.map(gist).sort()).toEqual(expected);
		// Each channel got its own replay, from its own cursor.
		const replayed = new Map<string, number[]>();
		for (const frame of frames) if (frame.t === 'events') replayed.set(frame.channelId, [...(replayed.get(frame.channelId) ?? []), ...frame.events.map((e) => e.seq)]);
		for (const id of others) expect(replayed.get(id)?.[0]).toBe(2);
		expect(replayed.size).toBe(3);
	});
});
