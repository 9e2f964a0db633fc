// The hot path's statements built once (src/lib/server/db/built-once.ts), against the real engines:
// a select built once answers what the same builder answers when drizzle builds it every time, for
// any number of values and inside transactions; rows inserted from one JSON parameter read back
// exactly as drizzle's own insert stores them, whatever the strings hold; and the statement text
// does not change with the number of rows (what lets PGlite and PostgreSQL run it prepared).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, asc, eq, inArray, type SQL } from 'drizzle-orm';
import { openDatabase, type DatabaseConfig, type DatabaseHandle, type Executor } from '#lib/server/db/open.ts';
import { anyOf, insertFromJson, selectBuiltOnce, selectsBuiltOnce } from '#lib/server/db/built-once.ts';
import { channels, communities, communityMembers, communityRoles, messages, users } from '#lib/server/db/schema.ts';
import { createTestDatabase, postgresUnavailableReason, type TestDatabase } from '../helpers/test-server.ts';

const skip = postgresUnavailableReason();
const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

describe.skipIf(skip)('statements built once', () => {
	let testDb: TestDatabase;
	let handle: DatabaseHandle;
	const userIds = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
	const communityId = crypto.randomUUID();
	const channelIds = [crypto.randomUUID(), crypto.randomUUID()];
	const roleId = crypto.randomUUID();
	const texts: string[] = [];

	beforeAll(async () => {
		testDb = await createTestDatabase();
		const config: DatabaseConfig = testDb.env.DATABASE_URL
			? { kind: 'postgres', url: testDb.env.DATABASE_URL, poolSize: 2 }
			: { kind: 'pglite', dataDir: testDb.env.DATA_DIR! };
		handle = await openDatabase(config, migrationsFolder, { onQuery: (text) => texts.push(text) });
		const db = handle.db;
		await db.insert(users).values(userIds.map((id, index) => ({ id, username: `built${index}`, displayName: `Built ${index}`, passwordHash: 'not used' })));
		await db.insert(communities).values({ id: communityId, name: 'built', ownerId: userIds[0]!, systemChannelId: channelIds[0]! });
		await db.insert(channels).values(channelIds.map((id, index) => ({ id, communityId, kind: 'text' as const, name: `c${index}` })));
		await db.insert(communityRoles).values({ id: roleId, communityId, name: 'helpers', permissions: ['send_messages'] } as never);
		await db.insert(communityMembers).values([
			{ communityId, userId: userIds[0]!, role: 'owner' },
			{ communityId, userId: userIds[1]!, role: 'member', customRoleId: roleId, timedOutUntil: new Date('2030-01-02T03:04:05.678Z') }
		] as never);
	});
	afterAll(async () => {
		await handle?.close();
		await testDb?.drop();
	});

	// A select with a left join (its columns may be null), a timestamp, a JSON array and an enum.
	const membersWhere = (db: Executor, where: SQL | undefined) =>
		db
			.select({
				userId: communityMembers.userId,
				role: communityMembers.role,
				customPermissions: communityRoles.permissions,
				timedOutUntil: communityMembers.timedOutUntil
			})
			.from(communityMembers)
			.leftJoin(communityRoles, eq(communityRoles.id, communityMembers.customRoleId))
			.where(where)
			.orderBy(asc(communityMembers.userId));
	const byPlaceholders = () => and(anyOf(communityMembers.communityId, 'communityIds'), anyOf(communityMembers.userId, 'userIds'));
	const membersQuery = selectBuiltOnce((db) => membersWhere(db, byPlaceholders()));
	const builtEachTime = (db: Executor, ids: string[]) =>
		membersWhere(db, and(inArray(communityMembers.communityId, [communityId]), inArray(communityMembers.userId, ids)));

	it('a select built once answers what drizzle answers, for one value or many, in and out of transactions, with one statement text', async () => {
		const db = handle.db;
		for (const ids of [[userIds[1]!], userIds, [crypto.randomUUID()]]) {
			const expected = await builtEachTime(db, ids);
			expect(await membersQuery(db, { communityIds: [communityId], userIds: ids })).toEqual(expected);
			expect(await db.transaction((tx) => membersQuery(tx, { communityIds: [communityId], userIds: ids }))).toEqual(expected);
		}
		const both = await membersQuery(db, { communityIds: [communityId], userIds });
		expect(both.map((m) => m.role).sort()).toEqual(['member', 'owner']);
		const helper = both.find((m) => m.userId === userIds[1]);
		expect(helper?.customPermissions).toEqual(['send_messages']);
		expect(helper?.timedOutUntil).toEqual(new Date('2030-01-02T03:04:05.678Z'));
		expect(both.find((m) => m.userId === userIds[0])?.customPermissions).toBeNull();

		texts.length = 0;
		await membersQuery(db, { communityIds: [communityId], userIds: [userIds[0]!] });
		await membersQuery(db, { communityIds: [communityId], userIds });
		expect(new Set(texts).size).toBe(1);
	});

	it('rows inserted from one JSON parameter read back as drizzle stores them, whatever their strings hold', async () => {
		const db = handle.db;
		const payloads = [
			'plain',
			`quotes ' " and backslashes \\ \\\\ and {braces}, [brackets], commas`,
			'line\nbreaks\tand\rreturns',
			'emoji 🔥 and 中文 and combining é',
			'{"looks":"like json"}',
			'null',
			'x'.repeat(20_000)
		];
		const now = new Date('2026-12-07T12:34:56.789Z');
		const row = (payload: string, index: number, seq: number): typeof messages.$inferSelect => ({
			id: crypto.randomUUID(),
			channelId: channelIds[index % 2]!,
			seq,
			authorId: userIds[index % 3]!,
			clientId: `json-${index}-${crypto.randomUUID()}`,
			payload,
			replyToId: null,
			mentions: index % 2 ? { users: [userIds[2]!], everyone: true as const } : null,
			createdAt: now,
			editedAt: null,
			deletedAt: null,
			pinnedAt: null,
			pinnedBy: null,
			expiresAt: index === 3 ? new Date(now.getTime() + 86_400_000) : null,
			threadRootId: null,
			threadReplyCount: 0,
			threadLastReplyAt: null,
			threadLastReplySeq: null
		});
		const viaJson = payloads.map((payload, index) => row(payload, index, 1_000 + index));
		const viaDrizzle = payloads.map((payload, index) => row(payload, index, 2_000 + index));
		texts.length = 0;
		await db.execute(insertFromJson(messages, viaJson.slice(0, 1)));
		await db.execute(insertFromJson(messages, viaJson.slice(1)));
		expect(new Set(texts).size).toBe(1);
		await db.insert(messages).values(viaDrizzle);

		const stored = await db.select().from(messages).where(inArray(messages.id, [...viaJson, ...viaDrizzle].map((m) => m.id)));
		const byId = new Map(stored.map((m) => [m.id, m]));
		for (const [index, sent] of viaJson.entries()) {
			expect(byId.get(sent.id)).toEqual(sent);
			// The same content through drizzle's insert reads back the same (ids, seqs and clientIds aside).
			const twin = byId.get(viaDrizzle[index]!.id)!;
			expect({ ...byId.get(sent.id), id: '', seq: 0, clientId: '' }).toEqual({ ...twin, id: '', seq: 0, clientId: '' });
		}
	});

	it('selects run as one statement answer what each answers alone, rows mapped as drizzle maps them', async () => {
		const db = handle.db;
		const combined = selectsBuiltOnce((db) => ({
			members: membersWhere(db, byPlaceholders()),
			messages: db.select().from(messages).where(anyOf(messages.authorId, 'userIds')).orderBy(asc(messages.seq))
		}));
		const stored = await db.select().from(messages).where(inArray(messages.authorId, userIds)).orderBy(asc(messages.seq));
		// Messages of every shape the previous tests stored: JSON mentions, dates, nulls, long and odd strings.
		expect(stored.length).toBeGreaterThan(5);
		texts.length = 0;
		for (const ids of [userIds, [userIds[1]!], []] as string[][]) {
			const both = await db.transaction((tx) => combined(tx, { communityIds: [communityId], userIds: ids }));
			expect(both.members).toEqual(await builtEachTime(db, ids.length ? ids : [crypto.randomUUID()]));
			expect(both.messages).toEqual(stored.filter((m) => ids.includes(m.authorId)));
		}
		const own = texts.filter((text) => text.includes('json_agg'));
		expect(own.length).toBe(3);
		expect(new Set(own).size).toBe(1);
	});

	it('a lone UTF-16 surrogate is stored as U+FFFD, as a string parameter would be', async () => {
		const db = handle.db;
		const id = crypto.randomUUID();
		const base = (await db.select().from(messages).limit(1))[0]!;
		await db.execute(insertFromJson(messages, [{ ...base, id, seq: 5_000, clientId: `surrogate-${id}`, payload: 'broken \ud83d pair' }]));
		const [stored] = await db.select({ payload: messages.payload }).from(messages).where(eq(messages.id, id));
		expect(stored?.payload).toBe('broken \ufffd pair');
	});
});
