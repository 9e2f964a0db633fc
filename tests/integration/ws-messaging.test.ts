// Messaging over /ws: every frame that changes a channel (send, edit, delete, reactions), read
// markers, and who receives the resulting events: every socket of every member exactly once,
// nobody else, and membership changes take effect on open connections at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, createInvite, joinCommunity, newClientId } from '../helpers/fixtures.ts';
import type { ChannelView, HistoryPage } from '#lib/shared/api-types.ts';
import type { ChannelEvent, ServerFrame } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();
// How long to wait before concluding that a frame will not arrive (fan-out is synchronous after
// commit, so anything due arrives within milliseconds).
const QUIET_MS = 300;

type EventFrame = Extract<ServerFrame, { t: 'event' }>;
type Ack = Extract<ServerFrame, { t: 'ack' }>;
const isEvent = (channelId: string, type?: ChannelEvent['type']) => (f: ServerFrame) => f.t === 'event' && f.channelId === channelId && (!type || f.event.type === type);
const eventWithSeq = (channelId: string, seq: number) => (f: ServerFrame) => f.t === 'event' && f.channelId === channelId && f.event.seq === seq;

describe.skipIf(skip)('/ws messaging', () => {
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

	/** An owner and a member (two sockets each), and an outsider with a socket. */
	async function room() {
		const owner = await TestClient.signUp(server);
		const member = await TestClient.signUp(server);
		const outsider = await TestClient.signUp(server);
		const community = await createCommunity(owner);
		await joinCommunity(owner, member, community.id);
		const sockets = {
			owner: [await owner.socket(), await owner.socket()],
			member: [await member.socket(), await member.socket()],
			outsider: [await outsider.socket()]
		};
		const all = [...sockets.owner, ...sockets.member, ...sockets.outsider];
		return { owner, member, outsider, community, channelId: community.generalId, sockets, close: () => all.forEach((s) => s.close()) };
	}

	describe('sockets that connect all at once (a reconnect storm)', () => {
		it('each get the events of their own communities and DMs, and nobody else\'s', async () => {
			// Upgrades arriving together share their session and membership lookups: the shared
			// answers must still go to the right socket.
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const members: TestClient[] = [];
			for (let i = 0; i < 8; i += 1) {
				const member = await TestClient.signUp(server);
				await joinCommunity(owner, member, community.id);
				members.push(member);
			}
			const loners = [await TestClient.signUp(server), await TestClient.signUp(server)];
			const dm = (await owner.api.post<{ channel: ChannelView }>('/api/dms', { userId: members[0]!.user.id })).channel;
			const everyone = [owner, ...members, ...loners];
			const sockets = await Promise.all(everyone.map((client) => client.socket()));
			try {
				const sent = (await sockets[1]!.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: 'to the room' })) as Ack;
				const seq = (sent.result as { seq: number }).seq;
				const direct = (await sockets[0]!.request({ t: 'message.send', channelId: dm.id, clientId: newClientId(), payload: 'just us' })) as Ack;
				const dmSeq = (direct.result as { seq: number }).seq;
				for (const socket of sockets.slice(0, 1 + members.length)) await socket.waitFor(eventWithSeq(community.generalId, seq));
				for (const socket of sockets.slice(0, 2)) await socket.waitFor(eventWithSeq(dm.id, dmSeq));
				for (const socket of sockets.slice(-2)) expect(await socket.collectFor(QUIET_MS, isEvent(community.generalId))).toEqual([]);
				for (const socket of sockets.slice(2)) expect(await socket.collectFor(QUIET_MS, isEvent(dm.id))).toEqual([]);
			} finally {
				for (const socket of sockets) socket.close();
			}
		});
	});

	describe('message.send', () => {
		it('acknowledges with the message id and seq, and every socket of every member gets the event exactly once', async () => {
			const r = await room();
			const clientId = newClientId();
			const ack = (await r.sockets.member[0]!.request({ t: 'message.send', channelId: r.channelId, clientId, payload: 'hello room' })) as Ack;
			expect(ack).toEqual({ t: 'ack', id: expect.any(String), result: { messageId: expect.any(String), seq: expect.any(Number), createdAt: expect.any(String), duplicate: false } });
			const { messageId, seq } = ack.result as { messageId: string; seq: number };
			for (const socket of [...r.sockets.owner, ...r.sockets.member]) {
				const frame = await socket.waitFor<EventFrame>(eventWithSeq(r.channelId, seq));
				expect(frame).toEqual({
					t: 'event',
					channelId: r.channelId,
					event: {
						seq,
						at: expect.any(String),
						actorId: r.member.user.id,
						type: 'message.created',
						message: {
							id: messageId,
							channelId: r.channelId,
							seq,
							authorId: r.member.user.id,
							clientId,
							payload: 'hello room',
							replyToId: null,
							createdAt: (ack.result as { createdAt: string }).createdAt,
							editedAt: null,
							deletedAt: null,
							reactions: []
						}
					}
				});
			}
			await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
			for (const socket of [...r.sockets.owner, ...r.sockets.member]) expect(socket.matching(isEvent(r.channelId, 'message.created'))).toHaveLength(1);
			expect(r.sockets.outsider[0]!.matching((f) => f.t === 'event')).toEqual([]);
			r.close();
		});

		it('a resend with the same clientId answers duplicate with the same message and publishes nothing', async () => {
			const r = await room();
			const frame = { t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'only once' };
			const first = (await r.sockets.owner[0]!.request(frame)) as Ack;
			await r.sockets.member[0]!.waitFor(isEvent(r.channelId, 'message.created'));
			// The retry comes from another socket of the same user, as after a reconnect.
			const retry = (await r.sockets.owner[1]!.request(frame)) as Ack;
			expect(retry.result).toEqual({ ...first.result, duplicate: true });
			const later = await r.sockets.member[0]!.collectFor(QUIET_MS, isEvent(r.channelId));
			expect(later).toEqual([]);
			const page = await r.member.api.get<HistoryPage>(`/api/channels/${r.channelId}/messages`);
			expect(page.messages.filter((m) => m.payload === 'only once')).toHaveLength(1);
			r.close();
		});

		it('answers concurrent duplicates of one send with one message', async () => {
			const r = await room();
			const frame = { t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'twice at once' };
			const acks = (await Promise.all([r.sockets.owner[0]!.request(frame), r.sockets.owner[1]!.request(frame), r.sockets.owner[0]!.request(frame)])) as Ack[];
			expect(new Set(acks.map((a) => a.result!.messageId)).size).toBe(1);
			expect(acks.map((a) => a.result!.duplicate).sort()).toEqual([false, true, true]);
			await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
			expect(r.sockets.member[0]!.matching(isEvent(r.channelId, 'message.created'))).toHaveLength(1);
			r.close();
		});

		it('refuses a non-member with not_found and delivers nothing', async () => {
			const r = await room();
			const answer = await r.sockets.outsider[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'let me in' });
			expect(answer).toEqual({ t: 'error', id: expect.any(String), code: 'not_found', message: 'Channel was not found.' });
			expect(await r.sockets.owner[0]!.collectFor(QUIET_MS, isEvent(r.channelId))).toEqual([]);
			r.close();
		});

		it('delivers DM messages to the two participants only', async () => {
			const r = await room();
			const { channel } = await r.owner.api.post<{ channel: ChannelView }>('/api/dms', { userId: r.member.user.id });
			const third = await TestClient.signUp(server);
			await joinCommunity(r.owner, third, r.community.id);
			const thirdSocket = await third.socket();
			const ack = (await r.sockets.owner[0]!.request({ t: 'message.send', channelId: channel.id, clientId: newClientId(), payload: 'just us' })) as Ack;
			for (const socket of [...r.sockets.owner, ...r.sockets.member]) await socket.waitFor(eventWithSeq(channel.id, ack.result!.seq as number));
			expect(await thirdSocket.collectFor(QUIET_MS, isEvent(channel.id))).toEqual([]);
			expect(thirdSocket.matching(isEvent(channel.id))).toEqual([]);
			thirdSocket.close();
			r.close();
		});
	});

	describe('message.edit, message.delete, reaction.add, reaction.remove', () => {
		it('an edit by the author reaches every member with the new payload', async () => {
			const r = await room();
			const sent = (await r.sockets.member[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'draft' })) as Ack;
			const messageId = sent.result!.messageId as string;
			const ack = (await r.sockets.member[0]!.request({ t: 'message.edit', messageId, payload: 'final' })) as Ack;
			expect(ack.result).toEqual({ seq: (sent.result!.seq as number) + 1 });
			const frame = await r.sockets.owner[1]!.waitFor<EventFrame>(isEvent(r.channelId, 'message.edited'));
			expect(frame.event).toEqual({ seq: ack.result!.seq, at: expect.any(String), actorId: r.member.user.id, type: 'message.edited', messageId, payload: 'final', editedAt: expect.any(String) });
			// Re-sending the same edit is a no-op: seq null, no event.
			expect(((await r.sockets.member[0]!.request({ t: 'message.edit', messageId, payload: 'final' })) as Ack).result).toEqual({ seq: null });
			expect(await r.sockets.owner[1]!.collectFor(QUIET_MS, isEvent(r.channelId, 'message.edited'))).toEqual([]);
			r.close();
		});

		it("refuses an edit of someone else's message with forbidden, and an outsider's with not_found", async () => {
			const r = await room();
			const sent = (await r.sockets.owner[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'mine' })) as Ack;
			const messageId = sent.result!.messageId as string;
			expect(await r.sockets.member[0]!.request({ t: 'message.edit', messageId, payload: 'yours' })).toEqual({
				t: 'error',
				id: expect.any(String),
				code: 'forbidden',
				message: 'You can only edit your own messages.'
			});
			expect(await r.sockets.outsider[0]!.request({ t: 'message.edit', messageId, payload: 'nobody' })).toEqual({
				t: 'error',
				id: expect.any(String),
				code: 'not_found',
				message: 'Message was not found.'
			});
			r.close();
		});

		it('a delete reaches every member, and the owner may delete a member\'s message', async () => {
			const r = await room();
			const own = (await r.sockets.member[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'oops' })) as Ack;
			const ownId = own.result!.messageId as string;
			const deleted = (await r.sockets.member[0]!.request({ t: 'message.delete', messageId: ownId })) as Ack;
			const frame = await r.sockets.owner[0]!.waitFor<EventFrame>(isEvent(r.channelId, 'message.deleted'));
			expect(frame.event).toEqual({ seq: deleted.result!.seq, at: expect.any(String), actorId: r.member.user.id, type: 'message.deleted', messageId: ownId });
			expect(((await r.sockets.member[0]!.request({ t: 'message.delete', messageId: ownId })) as Ack).result).toEqual({ seq: null });

			const theirs = (await r.sockets.member[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'rude' })) as Ack;
			const moderated = (await r.sockets.owner[0]!.request({ t: 'message.delete', messageId: theirs.result!.messageId })) as Ack;
			expect(moderated.t).toBe('ack');
			const seen = await r.sockets.member[1]!.waitFor<EventFrame>(eventWithSeq(r.channelId, moderated.result!.seq as number));
			expect(seen.event).toMatchObject({ type: 'message.deleted', actorId: r.owner.user.id, messageId: theirs.result!.messageId });
			// The other way round is refused.
			const ownerMessage = (await r.sockets.owner[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'rules' })) as Ack;
			expect(await r.sockets.member[0]!.request({ t: 'message.delete', messageId: ownerMessage.result!.messageId })).toEqual({
				t: 'error',
				id: expect.any(String),
				code: 'forbidden',
				message: 'You can only delete your own messages.'
			});
			r.close();
		});

		it('reactions reach every member; adding twice or removing what is not there publishes nothing', async () => {
			const r = await room();
			const sent = (await r.sockets.owner[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'react!' })) as Ack;
			const messageId = sent.result!.messageId as string;
			const added = (await r.sockets.member[0]!.request({ t: 'reaction.add', messageId, key: '🎉' })) as Ack;
			const addedFrame = await r.sockets.owner[1]!.waitFor<EventFrame>(isEvent(r.channelId, 'reaction.added'));
			expect(addedFrame.event).toEqual({ seq: added.result!.seq, at: expect.any(String), actorId: r.member.user.id, type: 'reaction.added', messageId, userId: r.member.user.id, key: '🎉' });
			expect(((await r.sockets.member[1]!.request({ t: 'reaction.add', messageId, key: '🎉' })) as Ack).result).toEqual({ seq: null });

			const removed = (await r.sockets.member[0]!.request({ t: 'reaction.remove', messageId, key: '🎉' })) as Ack;
			const removedFrame = await r.sockets.owner[1]!.waitFor<EventFrame>(isEvent(r.channelId, 'reaction.removed'));
			expect(removedFrame.event).toEqual({ seq: removed.result!.seq, at: expect.any(String), actorId: r.member.user.id, type: 'reaction.removed', messageId, userId: r.member.user.id, key: '🎉' });
			expect(((await r.sockets.member[0]!.request({ t: 'reaction.remove', messageId, key: '🎉' })) as Ack).result).toEqual({ seq: null });

			await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
			expect(r.sockets.owner[1]!.matching(isEvent(r.channelId, 'reaction.added'))).toHaveLength(1);
			expect(r.sockets.owner[1]!.matching(isEvent(r.channelId, 'reaction.removed'))).toHaveLength(1);
			expect(await r.sockets.outsider[0]!.request({ t: 'reaction.add', messageId, key: '🎉' })).toMatchObject({ t: 'error', code: 'not_found', message: 'Message was not found.' });
			r.close();
		});
	});

	describe('read', () => {
		it("acknowledges the marker and tells the user's other sockets, not other users", async () => {
			const r = await room();
			const sent = (await r.sockets.owner[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'read me' })) as Ack;
			const seq = sent.result!.seq as number;
			const ack = await r.sockets.member[0]!.request({ t: 'read', channelId: r.channelId, seq });
			expect(ack).toEqual({ t: 'ack', id: expect.any(String), result: { seq } });
			expect(await r.sockets.member[1]!.waitFor((f) => f.t === 'read')).toEqual({ t: 'read', channelId: r.channelId, seq });
			expect(await r.sockets.owner[0]!.collectFor(QUIET_MS, (f) => f.t === 'read')).toEqual([]);
			const { channel } = await r.member.api.get<{ channel: ChannelView }>(`/api/channels/${r.channelId}`);
			expect(channel).toMatchObject({ lastReadSeq: seq, unreadCount: 0 });
			r.close();
		});

		it('without an id it is not acknowledged, but the other sockets still hear of it; it never moves back', async () => {
			const r = await room();
			for (let i = 0; i < 3; i += 1) await r.sockets.owner[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: `m${i}` });
			const lastSeq = (await r.member.api.get<{ channel: ChannelView }>(`/api/channels/${r.channelId}`)).channel.lastSeq;
			r.sockets.member[0]!.sendRaw(JSON.stringify({ t: 'read', channelId: r.channelId, seq: lastSeq }));
			expect(await r.sockets.member[1]!.waitFor((f) => f.t === 'read')).toEqual({ t: 'read', channelId: r.channelId, seq: lastSeq });
			const back = await r.sockets.member[0]!.request({ t: 'read', channelId: r.channelId, seq: 1 });
			expect(back).toEqual({ t: 'ack', id: expect.any(String), result: { seq: lastSeq } });
			// Only the second read (with an id) was acknowledged.
			expect(r.sockets.member[0]!.matching((f) => f.t === 'ack')).toHaveLength(1);
			r.close();
		});

		it('refuses a non-member with not_found', async () => {
			const r = await room();
			expect(await r.sockets.outsider[0]!.request({ t: 'read', channelId: r.channelId, seq: 0 })).toEqual({
				t: 'error',
				id: expect.any(String),
				code: 'not_found',
				message: 'Channel was not found.'
			});
			r.close();
		});
	});

	describe('membership changes on open connections', () => {
		it("a user who joins receives the community's events from then on, starting with their own join", async () => {
			const r = await room();
			const invite = await createInvite(r.owner, r.community.id);
			const joinerSocket = r.sockets.outsider[0]!;
			await r.outsider.api.post(`/api/invites/${invite.code}/accept`);
			expect(await joinerSocket.waitFor((f) => f.t === 'directory.changed')).toEqual({ t: 'directory.changed', communityId: r.community.id, reason: 'community.joined' });
			const joined = await joinerSocket.waitFor<EventFrame>(isEvent(r.channelId, 'member.joined'));
			expect(joined.event).toMatchObject({ type: 'member.joined', user: { id: r.outsider.user.id } });
			const ack = (await r.sockets.owner[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'welcome' })) as Ack;
			await joinerSocket.waitFor(eventWithSeq(r.channelId, ack.result!.seq as number));
			// The join also let them in to write.
			expect(await joinerSocket.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'thanks' })).toMatchObject({ t: 'ack' });
			r.close();
		});

		it('a user who leaves stops receiving the events at once', async () => {
			const r = await room();
			await r.member.api.post(`/api/communities/${r.community.id}/leave`);
			for (const socket of r.sockets.member) await socket.waitFor((f) => f.t === 'directory.changed' && f.reason === 'community.left');
			const ack = (await r.sockets.owner[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'after you left' })) as Ack;
			await r.sockets.owner[1]!.waitFor(eventWithSeq(r.channelId, ack.result!.seq as number));
			for (const socket of r.sockets.member) expect(await socket.collectFor(QUIET_MS, eventWithSeq(r.channelId, ack.result!.seq as number))).toEqual([]);
			expect(await r.sockets.member[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'still here?' })).toMatchObject({
				t: 'error',
				code: 'not_found'
			});
			r.close();
		});

		it("a community's deletion unsubscribes its members at once", async () => {
			const r = await room();
			const other = await createCommunity(r.owner, 'Survivor');
			await joinCommunity(r.owner, r.member, other.id);
			await r.owner.api.delete(`/api/communities/${r.community.id}`);
			for (const socket of [...r.sockets.owner, ...r.sockets.member]) {
				expect(await socket.waitFor((f) => f.t === 'directory.changed' && f.communityId === r.community.id)).toEqual({
					t: 'directory.changed',
					communityId: r.community.id,
					reason: 'community.left'
				});
			}
			expect(await r.sockets.member[0]!.request({ t: 'message.send', channelId: r.channelId, clientId: newClientId(), payload: 'into the void' })).toMatchObject({
				t: 'error',
				code: 'not_found'
			});
			// Other communities are unaffected.
			const ack = (await r.sockets.owner[0]!.request({ t: 'message.send', channelId: other.generalId, clientId: newClientId(), payload: 'still here' })) as Ack;
			await r.sockets.member[1]!.waitFor(eventWithSeq(other.generalId, ack.result!.seq as number));
			r.close();
		});
	});
});
