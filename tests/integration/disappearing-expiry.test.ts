// The expiry job of disappearing messages, under a fixed clock: nothing goes a moment early; at its
// time a message is deleted for good with everything that named it (its events turn into plain
// deletions, its reactions, edit history and pin go), connected clients are told, and expired
// attachments are deleted. The services run in-process on a real database (both engines).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asc, eq } from 'drizzle-orm';
import { openDatabase, type DatabaseConfig, type DatabaseHandle } from '#lib/server/db/open.ts';
import { attachments, channelEvents, channels, communities, communityMembers, messageRevisions, messages, reactions, users } from '#lib/server/db/schema.ts';
import { LocalEventBus, type BusNotice } from '#lib/server/events/bus.ts';
import { createLogger } from '#lib/server/logger.ts';
import { EventWriter } from '#lib/server/services/event-writer.ts';
import { Messages } from '#lib/server/services/messages.ts';
import { DisappearingMessages } from '#lib/server/services/disappearing.ts';
import { eventsAfter } from '#lib/server/services/channel-events.ts';
import { createTestDatabase, postgresUnavailableReason, type TestDatabase } from '../helpers/test-server.ts';

const skip = postgresUnavailableReason();
const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));
const HOUR = 3600;

describe.skipIf(skip)('disappearing messages: the expiry job', () => {
	let testDb: TestDatabase;
	let handle: DatabaseHandle;
	const userId = crypto.randomUUID();
	const channelId = crypto.randomUUID();
	const communityId = crypto.randomUUID();
	const published: BusNotice[] = [];
	let messagesService: Messages;
	let disappearing: DisappearingMessages;
	let counter = 0;

	beforeAll(async () => {
		testDb = await createTestDatabase();
		const config: DatabaseConfig = testDb.env.DATABASE_URL
			? { kind: 'postgres', url: testDb.env.DATABASE_URL, poolSize: 4 }
			: { kind: 'pglite', dataDir: testDb.env.DATA_DIR! };
		handle = await openDatabase(config, migrationsFolder);
		const db = handle.db;
		await db.insert(users).values({ id: userId, username: 'timer', displayName: 'Timer', passwordHash: 'not used' });
		await db.insert(communities).values({ id: communityId, name: 'c', ownerId: userId, systemChannelId: channelId });
		await db.insert(channels).values({ id: channelId, communityId, kind: 'text', name: 'general' });
		await db.insert(communityMembers).values({ communityId, userId, role: 'owner' });
		const bus = new LocalEventBus((error) => {
			throw error;
		});
		bus.subscribe((notice) => published.push(notice));
		const writer = new EventWriter(db, bus, createLogger('silent'));
		messagesService = new Messages({ db, bus, writer, maxPayloadBytes: () => 16_384 });
		disappearing = new DisappearingMessages({ db, writer });
	});
	afterAll(async () => {
		await handle?.close();
		await testDb?.drop();
	});

	const send = (text: string) => messagesService.send({ userId, channelId, clientId: `client-${++counter}`, payload: text });

	it('stamps messages sent under a timer with their expiry, and only those', async () => {
		const before = (await send('kept')).message;
		expect(before.expiresAt).toBeUndefined();
		await disappearing.setTimer(userId, channelId, HOUR);
		const after = (await send('fleeting')).message;
		expect(Date.parse(after.expiresAt!) - Date.parse(after.createdAt)).toBe(HOUR * 1000);
		// Its time comes: it goes, the message sent before the timer stays.
		expect(await disappearing.sweep(new Date(after.expiresAt!))).toEqual({ messages: 1, attachments: 0 });
		expect((await handle.db.select({ id: messages.id }).from(messages).where(eq(messages.channelId, channelId))).map((m) => m.id)).toEqual([before.id]);
	});

	it('deletes nothing before its time, then the message and everything that named it, and tells the channel', async () => {
		const { message } = await send('gone soon');
		await messagesService.react(userId, message.id, 'key', true);
		await messagesService.edit(userId, message.id, 'gone soon, edited');
		const db = handle.db;
		await db.insert(attachments).values({ id: crypto.randomUUID(), channelId, uploaderId: userId, size: 3, data: new Uint8Array([1, 2, 3]), expiresAt: new Date(Date.parse(message.expiresAt!)) });
		const expiresAt = Date.parse(message.expiresAt!);

		// A fixed clock: one millisecond before, nothing goes.
		expect(await disappearing.sweep(new Date(expiresAt - 1))).toEqual({ messages: 0, attachments: 0 });
		expect(await db.select({ id: messages.id }).from(messages).where(eq(messages.id, message.id))).toHaveLength(1);

		const [{ lastSeq }] = (await db.select({ lastSeq: channels.lastSeq }).from(channels).where(eq(channels.id, channelId))) as [{ lastSeq: number }];
		published.length = 0;
		const swept = await disappearing.sweep(new Date(expiresAt));
		expect(swept).toEqual({ messages: 1, attachments: 1 });
		expect(await db.select({ id: messages.id }).from(messages).where(eq(messages.id, message.id))).toEqual([]);
		expect(await db.select().from(reactions).where(eq(reactions.messageId, message.id))).toEqual([]);
		expect(await db.select().from(messageRevisions).where(eq(messageRevisions.messageId, message.id))).toEqual([]);
		expect(await db.select().from(attachments).where(eq(attachments.channelId, channelId))).toEqual([]);
		// Its created, reacted and edited events are now plain deletions, naming no one.
		const logged = await db.select({ type: channelEvents.type, actorId: channelEvents.actorId, data: channelEvents.data }).from(channelEvents).where(eq(channelEvents.messageId, message.id)).orderBy(asc(channelEvents.seq));
		expect(logged.length).toBeGreaterThanOrEqual(4);
		expect(new Set(logged.map((e) => JSON.stringify(e)))).toEqual(new Set([JSON.stringify({ type: 'message.deleted', actorId: null, data: {} })]));
		// Connected clients are told, after the commit.
		const told = published.filter((n) => n.type === 'channel.event' && n.event.type === 'message.deleted' && n.event.messageId === message.id);
		expect(told).toEqual([{ type: 'channel.event', channelId, scope: { kind: 'community', communityId }, event: { seq: expect.any(Number), at: new Date(expiresAt).toISOString(), actorId: null, type: 'message.deleted', messageId: message.id } }]);
		// A client resuming from before the message never sees it: the replay says only "deleted".
		const { events } = await eventsAfter(db, channelId, 0, 1000);
		expect(events.some((e) => e.type === 'message.created' && e.message.id === message.id)).toBe(false);
		expect(events.at(-1)!.seq).toBeGreaterThan(lastSeq);
		// Messages without a timer stay.
		expect((await db.select({ payload: messages.payload }).from(messages).where(eq(messages.channelId, channelId))).map((m) => m.payload)).toContain('kept');
	});

	it('two sweeps at once (two cluster nodes) delete and announce each message once', async () => {
		const { message } = await send('raced');
		published.length = 0;
		const at = new Date(message.expiresAt!);
		const [a, b] = await Promise.all([disappearing.sweep(at), new DisappearingMessages({ db: handle.db, writer: new EventWriter(handle.db, new LocalEventBus(() => {}), createLogger('silent')) }).sweep(at)]);
		expect(a.messages + b.messages).toBeGreaterThanOrEqual(1);
		const rows = await handle.db.select({ seq: channelEvents.seq }).from(channelEvents).where(eq(channelEvents.messageId, message.id));
		// created (now a deletion) and exactly one appended deletion.
		expect(rows).toHaveLength(2);
	});

	it("an expired thread reply leaves its root's reply count, and its deletion tells clients the new count", async () => {
		await disappearing.setTimer(userId, channelId, 0);
		const root = (await send('root')).message;
		const kept = (await messagesService.send({ userId, channelId, clientId: `client-${++counter}`, payload: 'kept reply', threadRootId: root.id })).message;
		await disappearing.setTimer(userId, channelId, HOUR);
		const fleeting = (await messagesService.send({ userId, channelId, clientId: `client-${++counter}`, payload: 'fleeting reply', threadRootId: root.id })).message;
		const [before] = await handle.db.select({ n: messages.threadReplyCount }).from(messages).where(eq(messages.id, root.id));
		expect(before?.n).toBe(2);
		const from = published.length;
		expect(await disappearing.sweep(new Date(fleeting.expiresAt!))).toEqual({ messages: 1, attachments: 0 });
		const [after] = await handle.db.select({ n: messages.threadReplyCount, seq: messages.threadLastReplySeq }).from(messages).where(eq(messages.id, root.id));
		// The newest remaining reply is the last one again.
		expect(after).toEqual({ n: 1, seq: kept.seq });
		const deletion = published.slice(from).find((n) => n.type === 'channel.event' && n.event.type === 'message.deleted' && n.event.messageId === fleeting.id);
		expect(deletion).toMatchObject({ event: { thread: { rootId: root.id, replyCount: 1 } } });
		await disappearing.setTimer(userId, channelId, 0);
	});

	it('a sweep with nothing due does nothing', async () => {
		expect(await disappearing.sweep(new Date())).toEqual({ messages: 0, attachments: 0 });
	});
});
