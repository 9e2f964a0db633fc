// Statements that recur run as named prepared statements on PGlite (a measured CPU cost, see
// src/lib/server/db/pglite-statements.ts). They must give exactly what PGlite's own query() gives,
// in and out of transactions, keep working after errors and rollbacks, and stay bounded.
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteStatements } from '#lib/server/db/pglite-statements.ts';

describe('PGlite named prepared statements', () => {
	let client: PGlite;
	let statements: PgliteStatements;
	const run = <T>(text: string, params?: unknown[], options?: Parameters<PGlite['query']>[2]) =>
		statements.query<T>(text, params, options, false, client.query.bind(client) as never);

	beforeAll(async () => {
		client = await PGlite.create();
		await client.exec(`create table things (id int primary key, name text not null, at timestamptz, tags jsonb, ids uuid[])`);
		statements = new PgliteStatements(client, { maxPrepared: 3 });
	}, 60_000);
	afterAll(async () => client?.close());

	it('gives the same rows, types and counts as an unprepared query, from the second run on', async () => {
		const at = new Date('2026-05-06T07:08:09.123Z');
		const ids = [crypto.randomUUID(), crypto.randomUUID()];
		const insert = 'insert into things (id, name, at, tags, ids) values ($1, $2, $3, $4, $5) returning *';
		const first = await run(insert, [1, 'one', at, { a: [1, 'x'] }, ids]);
		const second = await run(insert, [2, 'two', at, { a: [2, 'y'] }, ids]);
		expect(statements.stats).toMatchObject({ prepared: 1, hits: 0 });
		const third = await run(insert, [3, 'three', null, null, null]);
		expect(statements.stats).toMatchObject({ prepared: 1, hits: 1 });
		expect(second.rows).toEqual([{ id: 2, name: 'two', at, tags: { a: [2, 'y'] }, ids }]);
		expect(third.rows).toEqual([{ id: 3, name: 'three', at: null, tags: null, ids: null }]);
		expect(second.affectedRows).toBe(first.affectedRows);
		expect(second.fields).toEqual(first.fields);

		const select = 'select id, name, tags from things where id = any($1) order by id';
		for (let i = 0; i < 3; i++) {
			const mine = await run(select, [[1, 2]], { rowMode: 'array' });
			const theirs = await client.query(select, [[1, 2]], { rowMode: 'array' });
			expect(mine.rows).toEqual(theirs.rows);
			expect(mine.rows).toEqual([
				[1, 'one', { a: [1, 'x'] }],
				[2, 'two', { a: [2, 'y'] }]
			]);
		}
	});

	it('reports database errors with their code and stays usable, prepared or not', async () => {
		const insert = 'insert into things (id, name) values ($1, $2)';
		await run(insert, [10, 'ten']);
		await expect(run(insert, [10, 'again'])).rejects.toMatchObject({ code: '23505' });
		await expect(run(insert, [10, 'again'])).rejects.toMatchObject({ code: '23505' });
		await expect(run('select * from nothing_here where id = $1', [1])).rejects.toMatchObject({ code: '42P01' });
		await expect(run('select * from nothing_here where id = $1', [1])).rejects.toMatchObject({ code: '42P01' });
		expect((await run('select name from things where id = $1', [10])).rows).toEqual([{ name: 'ten' }]);
		expect((await run('select name from things where id = $1', [10])).rows).toEqual([{ name: 'ten' }]);
	});

	it('runs inside transactions, and a rollback undoes what prepared statements wrote', async () => {
		const insert = 'insert into things (id, name) values ($1, $2)';
		const count = 'select count(*)::int as n from things where id >= $1';
		await expect(
			client.transaction(async (tx) => {
				const inTx = <T>(text: string, params: unknown[]) => statements.query<T>(text, params, undefined, true, tx.query.bind(tx) as never);
				for (let id = 100; id < 104; id++) await inTx(insert, [id, `n${id}`]);
				expect((await inTx<{ n: number }>(count, [100])).rows[0]!.n).toBe(4);
				throw new Error('roll back');
			})
		).rejects.toThrow('roll back');
		expect((await run<{ n: number }>(count, [100])).rows[0]!.n).toBe(0);
		await client.transaction(async (tx) => {
			const inTx = <T>(text: string, params: unknown[]) => statements.query<T>(text, params, undefined, true, tx.query.bind(tx) as never);
			for (let id = 100; id < 103; id++) await inTx(insert, [id, `n${id}`]);
		});
		expect((await run<{ n: number }>(count, [100])).rows[0]!.n).toBe(3);
	});

	it('keeps at most maxPrepared statements, closing the least recently used on the server', async () => {
		const texts = [0, 1, 2, 3, 4, 5].map((n) => `select $1::int + ${n} as v`);
		for (const text of texts) {
			await run(text, [1]);
			await run(text, [1]);
		}
		// Evicted ones are closed with the next statement; the server then holds exactly the bound.
		expect((await run<{ v: number }>(texts[5]!, [1])).rows).toEqual([{ v: 6 }]);
		const held = await client.query<{ n: number }>(`select count(*)::int as n from pg_prepared_statements where name like 'hearth_%'`);
		expect(held.rows[0]!.n).toBe(3);
		// An evicted text is prepared again when it recurs, and answers correctly.
		expect((await run<{ v: number }>(texts[0]!, [1])).rows).toEqual([{ v: 1 }]);
	});
});
