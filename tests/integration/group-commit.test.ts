// Group commit of message sends, against the real database engines (no server): sends that arrive
// together share one transaction, and a transaction spanning several channels numbers each one
// gap-free and advances every channel's last_seq. The bench (bench/) found both broken on PGlite.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, inArray, sql } from 'drizzle-orm';
import { openDatabase, type DatabaseConfig, type DatabaseHandle } from '#lib/server/db/open.ts';
import { channels, communities, communityMembers, users } from '#lib/server/db/schema.ts';
import { LocalEventBus } from '#lib/server/events/bus.ts';
import { createLogger } from '#lib/server/logger.ts';
import { EventWriter } from '#lib/server/services/event-writer.ts';
import { lockChannels } from '#lib/server/services/channel-events.ts';
import { Messages, type SendResult } from '#lib/server/services/messages.ts';
import { createTestDatabase, postgresUnavailableReason, type TestDatabase } from '../helpers/test-server.ts';

const skip = postgresUnavailableReason();
const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

describe.skipIf(skip)('group commit of message sends', () => {
	let testDb: TestDatabase;
	let handle: DatabaseHandle;
	const userId = crypto.randomUUID();
	const channelIds = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
	let counter = 0;

	beforeAll(async () => {
		testDb = await createTestDatabase();
		const config: DatabaseConfig = testDb.env.DATABASE_URL
			? { kind: 'postgres', url: testDb.env.DATABASE_URL, poolSize: 4 }
			: { kind: 'pglite', dataDir: testDb.env.DATA_DIR! };
		handle = await openDatabase(config, migrationsFolder);
		const db = handle.db;
		await db.insert(users).values({ id: userId, username: 'writer', displayName: 'Writer', passwordHash: 'not used' });
		for (const [index, channelId] of channelIds.entries()) {
			const communityId = crypto.randomUUID();
			await db.insert(communities).values({ id: communityId, name: `c${index}`, ownerId: userId, systemChannelId: channelId });
			await db.insert(channels).values({ id: channelId, communityId, kind: 'text', name: 'general' });
			await db.insert(communityMembers).values({ communityId, userId, role: 'owner' });
		}
	});
	afterAll(async () => {
		await handle?.close();
		await testDb?.drop();
	});

	function services() {
		const bus = new LocalEventBus((error) => {
			throw error;
		});
		const writer = new EventWriter(handle.db, bus, createLogger('silent'));
		return { writer, messages: new Messages({ db: handle.db, bus, writer, maxPayloadBytes: () => 16_384 }) };
	}

	const send = (messages: Messages, channelId: string) =>
		messages.send({ userId, channelId, clientId: `client-${++counter}`, payload: 'hello' });

	it('sends arriving in separate callbacks of one event-loop turn share one transaction', async () => {
		const { writer, messages } = services();
		// Like frames read from 12 sockets in one poll phase: each in its own callback. PGlite answers
		// within the tick, so without a turn of the loop before each batch every send got its own.
		const sends = await new Promise<Array<Promise<SendResult>>>((resolve) => {
			const started: Array<Promise<SendResult>> = [];
			for (let i = 0; i < 12; i += 1) {
				setImmediate(() => {
					started.push(send(messages, channelIds[i % 3]!));
					if (started.length === 12) resolve(started);
				});
			}
		});
		await Promise.all(sends);
		expect(writer.stats).toEqual({ batches: 1, operations: 12, largestBatch: 12 });
	});

	it('a transaction over several channels numbers each gap-free and advances every last_seq', async () => {
		const { writer, messages } = services();
		const before = new Map(
			(await handle.db.select({ id: channels.id, lastSeq: channels.lastSeq }).from(channels).where(inArray(channels.id, channelIds))).map((r) => [r.id, r.lastSeq])
		);
		for (let round = 0; round < 2; round += 1) {
			const results = await Promise.all(channelIds.flatMap((channelId) => [0, 1, 2, 3].map(() => send(messages, channelId))));
			for (const [index, channelId] of channelIds.entries()) {
				const seqs = results.slice(index * 4, index * 4 + 4).map((r) => r.message.seq);
				const start = before.get(channelId)! + round * 4;
				expect(seqs).toEqual([start + 1, start + 2, start + 3, start + 4]);
				const [row] = await handle.db.select({ lastSeq: channels.lastSeq }).from(channels).where(eq(channels.id, channelId));
				expect(row!.lastSeq).toBe(start + 4);
			}
		}
		// Each round was one transaction over the three channels.
		expect(writer.stats).toEqual({ batches: 2, operations: 24, largestBatch: 12 });
	});

	it('locks the channel rows on PostgreSQL; on PGlite (one connection, one transaction at a time) only reads them', async () => {
		await handle.db.transaction(async (tx) => {
			const locked = await lockChannels(tx, [channelIds[0]!]);
			expect([...locked.keys()]).toEqual([channelIds[0]]);
			// A row lock gives the transaction an id; a plain read does not.
			const result = (await tx.execute(sql`select pg_current_xact_id_if_assigned()::text as xid`)) as unknown;
			// postgres.js answers the rows, PGlite { rows }.
			const [row] = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{ xid: string | null }>;
			if (handle.kind === 'postgres') expect(row?.xid).toMatch(/^\d+$/);
			else expect(row).toEqual({ xid: null });
		});
	});
});
