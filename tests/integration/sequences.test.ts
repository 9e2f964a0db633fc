// Per-channel sequence numbers under concurrency: many sockets writing into one channel at once
// (sends mixed with edits and reactions, which take numbers too) produce a gap-free, duplicate-free
// run of seqs; every socket sees the events in that same order; and the stored event log agrees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, type TestSocket } from '../helpers/clients.ts';
import { withSql } from '../helpers/database.ts';
import { createCommunity, joinCommunity, newClientId } from '../helpers/fixtures.ts';
import type { ChannelView } from '#lib/shared/api-types.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();

const USERS = 4;
const SOCKETS_PER_USER = 2;
const SENDS_PER_SOCKET = 25;
const REST_SENDS = 10;

type Ack = Extract<ServerFrame, { t: 'ack' }>;

describe.skipIf(skip)('sequence numbers', () => {
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

	it('concurrent writes from many sockets get seqs start+1..start+N with no gaps or duplicates, seen in the same order everywhere', async () => {
		const users: TestClient[] = [await TestClient.signUp(server)];
		const community = await createCommunity(users[0]!);
		for (let i = 1; i < USERS; i += 1) {
			const user = await TestClient.signUp(server);
			await joinCommunity(users[0]!, user, community.id);
			users.push(user);
		}
		const { channel } = await users[0]!.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'race' });
		const otherChannel = community.generalId;
		const sockets: TestSocket[] = [];
		for (const user of users) for (let i = 0; i < SOCKETS_PER_USER; i += 1) sockets.push(await user.socket());
		const target = (await sockets[0]!.request({ t: 'message.send', channelId: channel.id, clientId: newClientId(), payload: 'target' })) as Ack;
		const start = target.result!.seq as number;
		const otherStart = (await users[0]!.api.get<{ channel: ChannelView }>(`/api/channels/${otherChannel}`)).channel.lastSeq;

		// Everyone at once: sends into the channel, plus from each socket one reaction on a shared
		// message (a single-op transaction in the same batches), plus sends into another channel.
		const requests: { channelId: string; answer: Promise<Ack> }[] = [];
		const request = (socket: TestSocket, channelId: string, frame: Record<string, unknown>) => requests.push({ channelId, answer: socket.request(frame) as Promise<Ack> });
		sockets.forEach((socket, s) => {
			for (let i = 0; i < SENDS_PER_SOCKET; i += 1) {
				request(socket, channel.id, { t: 'message.send', channelId: channel.id, clientId: newClientId(), payload: `s${s}-${i}` });
				if (i === 10) request(socket, channel.id, { t: 'reaction.add', messageId: target.result!.messageId, key: `r${s}` });
				if (i % 5 === 0) request(socket, otherChannel, { t: 'message.send', channelId: otherChannel, clientId: newClientId(), payload: `o${s}-${i}` });
			}
		});
		// And the REST send path, which shares the same writer.
		for (let i = 0; i < REST_SENDS; i += 1) {
			const author = users[i % USERS]!;
			requests.push({
				channelId: channel.id,
				answer: author.api
					.post<{ message: { id: string; seq: number } }>(`/api/channels/${channel.id}/messages`, { clientId: newClientId(), payload: `rest-${i}` })
					.then(({ message }) => ({ t: 'ack', id: 'rest', result: { messageId: message.id, seq: message.seq } }) as Ack)
			});
		}
		const acks = await Promise.all(requests.map(async (r) => ({ channelId: r.channelId, ack: await r.answer })));
		expect(acks.filter((a) => a.ack.t !== 'ack')).toEqual([]);

		// The acks alone already show it: per channel, the seqs handed out are exactly the next ones.
		const total = sockets.length * (SENDS_PER_SOCKET + 1) + REST_SENDS;
		const otherTotal = sockets.length * (SENDS_PER_SOCKET / 5);
		const ackedSeqs = (channelId: string) => acks.filter((a) => a.channelId === channelId).map((a) => a.ack.result!.seq as number).sort((x, y) => x - y);
		expect(ackedSeqs(channel.id)).toEqual(range(start + 1, start + total));
		expect(ackedSeqs(otherChannel)).toEqual(range(otherStart + 1, otherStart + otherTotal));
		const lastSeq = start + total;

		// Every socket saw the channel's events in the same order, each seq once, gap-free.
		for (const socket of sockets) {
			await socket.waitFor((f) => f.t === 'event' && f.channelId === channel.id && f.event.seq === lastSeq);
			const seen = socket.frames.filter((f) => f.t === 'event' && f.channelId === channel.id && f.event.seq > start).map((f) => (f as Extract<ServerFrame, { t: 'event' }>).event.seq);
			expect(seen).toEqual(range(start + 1, lastSeq));
			await socket.waitFor((f) => f.t === 'event' && f.channelId === otherChannel && f.event.seq === otherStart + otherTotal);
			const seenOther = socket.frames.filter((f) => f.t === 'event' && f.channelId === otherChannel && f.event.seq > otherStart).map((f) => (f as Extract<ServerFrame, { t: 'event' }>).event.seq);
			expect(seenOther).toEqual(range(otherStart + 1, otherStart + otherTotal));
		}
		// And the same event at each seq everywhere (not merely the same numbers).
		const fingerprint = (socket: TestSocket) =>
			socket.frames
				.filter((f) => f.t === 'event' && f.channelId === channel.id && f.event.seq > start)
				.map((f) => {
					const e = (f as Extract<ServerFrame, { t: 'event' }>).event;
					return e.type === 'message.created' ? e.message.id : `${e.type}:${'key' in e ? e.key : ''}`;
				});
		const reference = fingerprint(sockets[0]!);
		for (const socket of sockets.slice(1)) expect(fingerprint(socket)).toEqual(reference);

		for (const socket of sockets) socket.close();

		// The stored log: gap-free per channel, and each message's seq is its creation event's seq.
		const stored = await withSql(server, async (sql) => ({
			events: await sql('select seq::int as seq, type, message_id from channel_events where channel_id = $1 order by seq', [channel.id]),
			messages: await sql('select id, seq::int as seq from messages where channel_id = $1', [channel.id]),
			lastSeq: (await sql('select last_seq::int as last_seq from channels where id = $1', [channel.id]))[0]!.last_seq
		}));
		expect(stored.lastSeq).toBe(lastSeq);
		expect(stored.events.map((e) => e.seq)).toEqual(range(1, lastSeq));
		const created = new Map(stored.events.filter((e) => e.type === 'message.created').map((e) => [e.message_id, e.seq]));
		expect(stored.messages).toHaveLength(created.size);
		for (const m of stored.messages) expect(created.get(m.id)).toBe(m.seq);
		expect(stored.events.filter((e) => e.type === 'reaction.added')).toHaveLength(sockets.length);
	});
});

function range(from: number, to: number): number[] {
	return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
