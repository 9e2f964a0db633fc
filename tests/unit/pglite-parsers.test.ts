// openDatabase shares drizzle's raw-text parsers on the PGlite client instead of passing them with
// every query (a measured CPU cost). Dates must still come back exactly as stored, inside and
// outside transactions.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '#lib/server/db/open.ts';
import { sessions, users } from '#lib/server/db/schema.ts';

const migrations = new URL('../../drizzle', import.meta.url).pathname;

describe('PGlite with shared parsers', () => {
	let handle: DatabaseHandle;
	beforeAll(async () => {
		handle = await openDatabase({ kind: 'pglite', dataDir: 'memory://' }, migrations);
	}, 60_000);
	afterAll(async () => handle?.close());

	it('returns timestamps as the exact dates stored, in and out of transactions', async () => {
		const userId = crypto.randomUUID();
		const createdAt = new Date('2026-03-04T05:06:07.891Z');
		const expiresAt = new Date('2027-01-02T03:04:05.678Z');
		await handle.db.transaction(async (tx) => {
			await tx.insert(users).values({ id: userId, username: 'parsers', displayName: 'P', passwordHash: 'x', createdAt });
			await tx.insert(sessions).values({ id: 'a'.repeat(64), userId, expiresAt });
			const [inside] = await tx.select().from(sessions).where(eq(sessions.userId, userId));
			expect(inside!.expiresAt).toEqual(expiresAt);
		});
		const [user] = await handle.db.select().from(users).where(eq(users.id, userId));
		expect(user!.createdAt).toBeInstanceOf(Date);
		expect(user!.createdAt.toISOString()).toBe('2026-03-04T05:06:07.891Z');
		const [joined] = await handle.db
			.select({ expiresAt: sessions.expiresAt, createdAt: users.createdAt })
			.from(sessions)
			.innerJoin(users, eq(users.id, sessions.userId));
		expect(joined).toEqual({ expiresAt, createdAt });
	});
});
