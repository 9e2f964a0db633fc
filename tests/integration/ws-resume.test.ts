// Catching up after a disconnect. Shaped like Zulip's verify_action: load a channel into the real
// client timeline (ChannelTimeline), run an action, bring the stale timeline up to date with the
// events the server sends (live, and replayed by `resume`), and compare it with a timeline loaded
// fresh from history. Then the edges: exactly the missed events in order, `resync` when too far
// behind or ahead, inaccessible channels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, type TestSocket } from '../helpers/clients.ts';
import { createCommunity, joinCommunity, MISSING_ID, newClientId, sendMessage } from '../helpers/fixtures.ts';
import type { ChannelView, HistoryPage } from '#lib/shared/api-types.ts';
import { RESUME_MAX_EVENTS } from '#lib/shared/limits.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import type { ChannelEvent, ServerFrame } from '#lib/shared/protocol/frames.ts';
import { ChannelTimeline } from '#lib/client/chat/timeline.ts';

const skip = postgresUnavailableReason();

type Ack = Extract<ServerFrame, { t: 'ack' }>;
type EventsFrame = Extract<ServerFrame, { t: 'events' }>;

async function loadTimeline(client: TestClient, channelId: string): Promise<ChannelTimeline> {
	const timeline = new ChannelTimeline(channelId);
	timeline.loadLatest(await client.api.get<HistoryPage>(`/api/channels/${channelId}/messages?limit=100`));
	return timeline;
}

async function lastSeqOf(client: TestClient, channelId: string): Promise<number> {
	return (await client.api.get<{ channel: ChannelView }>(`/api/channels/${channelId}`)).channel.lastSeq;
}

/** Sends resume and returns its ack and the events/resync frames that answered it (they precede the ack). */
async function resume(socket: TestSocket, cursors: { channelId: string; seq: number }[]) {
	const start = socket.frames.length;
	const ack = (await socket.request({ t: 'resume', cursors })) as Ack;
	const end = socket.frames.indexOf(ack);
	const replies = socket.frames.slice(start, end).filter((f) => f.t === 'events' || f.t === 'resync');
	return { ack, replies };
}

function comparable(timeline: ChannelTimeline) {
	return { cursor: timeline.cursor, messages: timeline.messages };
}

describe.skipIf(skip)('/ws resume', () => {
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

	describe('a stale timeline brought up to date equals a fresh fetch (verify_action)', () => {
		let owner: TestClient;
		let member: TestClient;
		let communityId: string;
		let channelId: string;
		let watcher: TestSocket;

		beforeAll(async () => {
			owner = await TestClient.signUp(server);
			member = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			communityId = community.id;
			channelId = community.generalId;
			await joinCommunity(owner, member, communityId);
			for (let i = 0; i < 3; i += 1) await sendMessage(owner, channelId, `seed ${i}`);
			watcher = await member.socket();
		});
		afterAll(() => watcher?.close());

		async function verifyAction(action: () => Promise<unknown>) {
			const viaResume = await loadTimeline(member, channelId);
			const viaLive = await loadTimeline(member, channelId);
			const liveFrom = watcher.frames.length;
			await action();
			const lastSeq = await lastSeqOf(member, channelId);
			expect(lastSeq).toBeGreaterThan(viaResume.cursor!);

			// Live: the events pushed while connected.
			await watcher.waitFor((f) => f.t === 'event' && f.channelId === channelId && f.event.seq === lastSeq);
			for (const frame of watcher.frames.slice(liveFrom)) {
				if (frame.t === 'event' && frame.channelId === channelId) expect(viaLive.apply(frame.event)).toBe('applied');
			}

			// Replayed: what resume sends for the stale cursor.
			const { ack, replies } = await resume(watcher, [{ channelId, seq: viaResume.cursor! }]);
			expect(ack.result).toEqual({ resync: [], inaccessible: [] });
			const replayed = replies.flatMap((f) => (f as EventsFrame).events);
			expect(replayed.map((e) => e.seq)).toEqual(range(viaResume.cursor! + 1, lastSeq));
			for (const event of replayed) expect(viaResume.apply(event)).toBe('applied');

			const fresh = await loadTimeline(member, channelId);
			expect(comparable(viaLive)).toEqual(comparable(fresh));
			expect(comparable(viaResume)).toEqual(comparable(fresh));
		}

		const post = (client: TestClient, text: string, replyToId?: string) =>
			client.api.post<{ message: { id: string } }>(`/api/channels/${channelId}/messages`, { clientId: newClientId(), payload: encodeMessageBody(text), ...(replyToId ? { replyToId } : {}) });

		it('after a message is sent', () => verifyAction(() => post(owner, 'new message')));

		it('after a reply is sent', async () => {
			const { message } = await post(owner, 'question');
			await verifyAction(() => post(member, 'answer', message.id));
		});

		it('after a thread reply is sent (the root shows the new count; the reply stays out of the channel)', async () => {
			const { message } = await post(owner, 'thread root');
			await verifyAction(() =>
				member.api.post(`/api/channels/${channelId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('in a thread'), threadRootId: message.id })
			);
		});

		it('after a message is edited', async () => {
			const { message } = await post(owner, 'first draft');
			await verifyAction(() => owner.api.patch(`/api/messages/${message.id}`, { payload: encodeMessageBody('second draft') }));
		});

		it('after a message is deleted', async () => {
			const { message } = await post(member, 'regret');
			await verifyAction(() => member.api.delete(`/api/messages/${message.id}`));
		});

		it('after reactions are added and removed', async () => {
			const { message } = await post(owner, 'vote');
			await verifyAction(async () => {
				await owner.api.put(`/api/messages/${message.id}/reactions/up`);
				await member.api.put(`/api/messages/${message.id}/reactions/up`);
				await member.api.put(`/api/messages/${message.id}/reactions/down`);
				await owner.api.delete(`/api/messages/${message.id}/reactions/up`);
			});
		});

		it('after a message is pinned, another pinned and the first unpinned', async () => {
			const { message: first } = await post(owner, 'pin me');
			const { message: second } = await post(member, 'pin me too');
			await verifyAction(async () => {
				await owner.api.put(`/api/messages/${first.id}/pin`);
				await owner.api.put(`/api/messages/${second.id}/pin`);
				await owner.api.delete(`/api/messages/${first.id}/pin`);
			});
		});

		it('after a pinned message is deleted', async () => {
			const { message } = await post(member, 'pinned, then gone');
			await owner.api.put(`/api/messages/${message.id}/pin`);
			await verifyAction(() => member.api.delete(`/api/messages/${message.id}`));
		});

		it('after a message with reactions is deleted', async () => {
			const { message } = await post(owner, 'controversial');
			await member.api.put(`/api/messages/${message.id}/reactions/angry`);
			await verifyAction(() => owner.api.delete(`/api/messages/${message.id}`));
		});

		it('after a message is sent, edited and deleted while away', () =>
			verifyAction(async () => {
				const { message } = await post(owner, 'ephemeral');
				await owner.api.patch(`/api/messages/${message.id}`, { payload: encodeMessageBody('ephemeral, edited') });
				await owner.api.put(`/api/messages/${message.id}/reactions/x`);
				await owner.api.delete(`/api/messages/${message.id}`);
			}));

		it('after someone joins and someone leaves', async () => {
			const newcomer = await TestClient.signUp(server);
			await verifyAction(async () => {
				await joinCommunity(owner, newcomer, communityId);
				await post(newcomer, 'hi all');
				await newcomer.api.post(`/api/communities/${communityId}/leave`);
			});
		});

		it('after a burst of everything from several sockets at once', async () => {
			const sockets = [await owner.socket(), await member.socket()];
			const { message } = await post(owner, 'target');
			await verifyAction(async () => {
				await Promise.all(
					sockets.flatMap((socket, i) => [
						socket.request({ t: 'message.send', channelId, clientId: newClientId(), payload: encodeMessageBody(`burst ${i}a`) }),
						socket.request({ t: 'reaction.add', messageId: message.id, key: `k${i}` }),
						socket.request({ t: 'message.send', channelId, clientId: newClientId(), payload: encodeMessageBody(`burst ${i}b`) })
					])
				);
				await owner.api.patch(`/api/messages/${message.id}`, { payload: encodeMessageBody('target, edited') });
			});
			for (const s of sockets) s.close();
		});
	});

	describe('edges', () => {
		let owner: TestClient;
		let channelId: string;
		let communityId: string;
		beforeAll(async () => {
			owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			communityId = community.id;
			channelId = (await owner.api.post<{ channel: ChannelView }>(`/api/communities/${communityId}/channels`, { name: 'busy' })).channel.id;
		});

		it('replays exactly the missed events, in order, then acknowledges', async () => {
			const cursor = await lastSeqOf(owner, channelId);
			const first = await sendMessage(owner, channelId, 'missed 1');
			await sendMessage(owner, channelId, 'missed 2');
			await owner.api.patch(`/api/messages/${first.id}`, { payload: 'missed 1, edited' });
			await owner.api.put(`/api/messages/${first.id}/reactions/ok`);
			const socket = await owner.socket();
			const { ack, replies } = await resume(socket, [{ channelId, seq: cursor }]);
			expect(ack.result).toEqual({ resync: [], inaccessible: [] });
			expect(replies).toHaveLength(1);
			const events = (replies[0] as EventsFrame).events;
			expect(events.map((e: ChannelEvent) => [e.seq, e.type])).toEqual([
				[cursor + 1, 'message.created'],
				[cursor + 2, 'message.created'],
				[cursor + 3, 'message.edited'],
				[cursor + 4, 'reaction.added']
			]);
			// Replays show messages as they are now.
			expect(events[0]).toMatchObject({ message: { id: first.id, payload: 'missed 1, edited', reactions: [{ key: 'ok', userIds: [owner.user.id] }] } });
			socket.close();
		});

		it('replays nothing for an up-to-date cursor', async () => {
			const socket = await owner.socket();
			const { ack, replies } = await resume(socket, [{ channelId, seq: await lastSeqOf(owner, channelId) }]);
			expect(ack.result).toEqual({ resync: [], inaccessible: [] });
			expect(replies).toEqual([]);
			socket.close();
		});

		it(`replays up to ${RESUME_MAX_EVENTS} events in frames of 200, and says resync beyond`, async () => {
			const socket = await owner.socket();
			const start = await lastSeqOf(owner, channelId);
			const sends = [];
			for (let i = 0; i <= RESUME_MAX_EVENTS; i += 1) sends.push(socket.request({ t: 'message.send', channelId, clientId: newClientId(), payload: `bulk ${i}` }));
			const acks = (await Promise.all(sends)) as Ack[];
			expect(acks.every((a) => a.t === 'ack')).toBe(true);
			const lastSeq = start + RESUME_MAX_EVENTS + 1;
			expect(await lastSeqOf(owner, channelId)).toBe(lastSeq);

			const exactly = await resume(socket, [{ channelId, seq: lastSeq - RESUME_MAX_EVENTS }]);
			expect(exactly.ack.result).toEqual({ resync: [], inaccessible: [] });
			expect(exactly.replies.map((f) => (f as EventsFrame).events.length)).toEqual([200, 200, 200, 200, 200]);
			expect(exactly.replies.flatMap((f) => (f as EventsFrame).events.map((e) => e.seq))).toEqual(range(lastSeq - RESUME_MAX_EVENTS + 1, lastSeq));

			const tooFar = await resume(socket, [{ channelId, seq: lastSeq - RESUME_MAX_EVENTS - 1 }]);
			expect(tooFar.ack.result).toEqual({ resync: [channelId], inaccessible: [] });
			expect(tooFar.replies).toEqual([{ t: 'resync', channelId, lastSeq }]);
			socket.close();
		});

		it('says resync when the cursor is ahead of the channel (e.g. after a restore)', async () => {
			const socket = await owner.socket();
			const lastSeq = await lastSeqOf(owner, channelId);
			const { ack, replies } = await resume(socket, [{ channelId, seq: lastSeq + 5 }]);
			expect(ack.result).toEqual({ resync: [channelId], inaccessible: [] });
			expect(replies).toEqual([{ t: 'resync', channelId, lastSeq }]);
			socket.close();
		});

		it('handles several channels in one resume and lists those the user can no longer see', async () => {
			const member = await TestClient.signUp(server);
			await joinCommunity(owner, member, communityId);
			const other = await createCommunity(owner, 'Left behind');
			await joinCommunity(owner, member, other.id);
			const cursors = [
				{ channelId, seq: await lastSeqOf(member, channelId) },
				{ channelId: other.generalId, seq: await lastSeqOf(member, other.generalId) },
				{ channelId: MISSING_ID, seq: 0 }
			];
			await sendMessage(owner, channelId, 'while away');
			await sendMessage(owner, other.generalId, 'you will not see this');
			await member.api.post(`/api/communities/${other.id}/leave`);
			const socket = await member.socket();
			const { ack, replies } = await resume(socket, cursors);
			expect(ack.result).toEqual({ resync: [], inaccessible: [other.generalId, MISSING_ID] });
			expect(replies.map((f) => [f.t, (f as EventsFrame).channelId, (f as EventsFrame).events.length])).toEqual([['events', channelId, 1]]);
			socket.close();
		});

		it('refuses more than 1000 cursors as a bad frame', async () => {
			const socket = await owner.socket();
			const cursors = Array.from({ length: 1001 }, () => ({ channelId: MISSING_ID, seq: 0 }));
			socket.sendRaw(JSON.stringify({ t: 'resume', id: 'too-many', cursors }));
			expect(await socket.waitFor((f) => f.t === 'error')).toEqual({ t: 'error', id: 'too-many', code: 'bad_frame', message: 'cursors: Invalid length: Expected <=1000' });
			socket.close();
		});
	});
});

function range(from: number, to: number): number[] {
	return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
