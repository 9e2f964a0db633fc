// Statements that recur run as named prepared statements on PostgreSQL (src/lib/server/db/
// postgres-statements.ts), through the database handle the server uses: read back from the
// server's own view of the connection (pg_prepared_statements, per session, so each check runs
// inside one transaction: one connection).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type SQL } from 'drizzle-orm';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { openDatabase, type DatabaseHandle, type Executor } from '#lib/server/db/open.ts';
import { PostgresStatements } from '#lib/server/db/postgres-statements.ts';
import { createTestDatabase, testEngine, type TestDatabase } from '../helpers/test-server.ts';

const skip = testEngine() !== 'postgres' || !process.env.TEST_DATABASE_URL ? 'PostgreSQL only (PGlite has its own: pglite-statements.test.ts)' : false;
const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** The rows a statement answers (postgres.js: the result is the row list). */
async function rows<T>(executor: Executor, query: SQL): Promise<T[]> {
	return [...((await executor.execute(query)) as unknown as Iterable<T>)];
}

/** The texts prepared on this transaction's connection. */
async function preparedOn(tx: Executor): Promise<string[]> {
	return (await rows<{ statement: string }>(tx, sql`select statement from pg_prepared_statements`)).map((row) => row.statement);
}

describe.skipIf(skip)('statements prepared on PostgreSQL', () => {
	let testDb: TestDatabase;
	let handle: DatabaseHandle;

	beforeAll(async () => {
		testDb = await createTestDatabase();
		handle = await openDatabase({ kind: 'postgres', url: testDb.env.DATABASE_URL!, poolSize: 1 }, migrationsFolder);
	});
	afterAll(async () => {
		await handle?.close();
		await testDb?.drop();
	});

	it('runs a statement with parameters unnamed the first time and prepared from the second on, with the same answers', async () => {
		await handle.db.transaction(async (tx) => {
			expect(await rows(tx, sql`select 40::int + ${1}::int as n`)).toEqual([{ n: 41 }]);
			expect((await preparedOn(tx)).some((s) => s.includes('40::int'))).toBe(false);
			expect(await rows(tx, sql`select 40::int + ${2}::int as n`)).toEqual([{ n: 42 }]);
			expect((await preparedOn(tx)).filter((s) => s.includes('40::int'))).toEqual(['select 40::int + $1::int as n']);
			// Run again: the same statement, not a second one.
			expect(await rows(tx, sql`select 40::int + ${3}::int as n`)).toEqual([{ n: 43 }]);
			expect((await preparedOn(tx)).filter((s) => s.includes('40::int'))).toHaveLength(1);
		});
	});

	it('never prepares a statement without parameters', async () => {
		await handle.db.transaction(async (tx) => {
			for (let i = 0; i < 3; i += 1) expect(await rows(tx, sql`select 'no parameters' as text`)).toEqual([{ text: 'no parameters' }]);
			expect((await preparedOn(tx)).some((s) => s.includes('no parameters'))).toBe(false);
		});
	});

	it('plans prepared statements generically (plan_cache_mode), on every connection of the pool', async () => {
		expect(await rows(handle.db, sql`show plan_cache_mode`)).toEqual([{ plan_cache_mode: 'force_generic_plan' }]);
	});

	it('with DATABASE_PREPARED_STATEMENTS=false (a pooler in transaction mode) prepares nothing and sends no plan_cache_mode', async () => {
		const plain = await openDatabase({ kind: 'postgres', url: testDb.env.DATABASE_URL!, poolSize: 1, preparedStatements: false }, migrationsFolder);
		try {
			await plain.db.transaction(async (tx) => {
				for (const n of [1, 2, 3]) expect(await rows(tx, sql`select 50::int + ${n}::int as n`)).toEqual([{ n: 50 + n }]);
				expect(await preparedOn(tx)).toEqual([]);
			});
			expect(await rows(plain.db, sql`show plan_cache_mode`)).toEqual([{ plan_cache_mode: 'auto' }]);
		} finally {
			await plain.close();
		}
	});

	it('prepares at most maxPrepared texts; others keep running unnamed', async () => {
		const client = postgres(testDb.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
		try {
			const db = drizzle({ client: new PostgresStatements({ maxPrepared: 2 }).wrap(client) });
			await db.transaction(async (tx) => {
				for (const n of [1, 2, 3]) {
					for (let run = 0; run < 3; run += 1) {
						expect(await rows(tx as never, sql`select ${sql.raw(String(n))}00 + ${run}::int as n`)).toEqual([{ n: n * 100 + run }]);
					}
				}
				const prepared = await preparedOn(tx as never);
				expect(prepared.filter((s) => /^select \d00 \+/.test(s)).sort()).toEqual(['select 100 + $1::int as n', 'select 200 + $1::int as n']);
			});
		} finally {
			await client.end();
		}
	});
});
