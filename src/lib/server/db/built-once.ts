// Selects of the hot paths, built into SQL text by drizzle once instead of on every run.
//
// drizzle turns a query builder into SQL text each time it runs it: for the selects and the insert
// of a message send that was ~0.4 ms of CPU per send on the build machine, a fifth of the send's
// cost (bench/send-path.ts; bench/README.md, "Where the CPU goes"). drizzle's own `.prepare()` keeps the built
// text, but binds it to the session it was called on, and every batch of the send path runs in a
// new transaction, that is a new session. So this keeps what `.prepare()` keeps (the text, the
// selected fields, which joins may be null) and binds it to the caller's session on each run, with
// `session.prepareQuery`, the same call `.prepare()` makes.
//
// The text must not depend on the values: lists are one array parameter (`= any($1)`, see
// `anyOf`), not drizzle's `in ($1, $2, …)` with one placeholder per value. That also makes the
// statement the same for every batch size, so PGlite runs it prepared (pglite-statements.ts) and
// PostgreSQL plans it once.
import * as drizzle from 'drizzle-orm';
import { getTableColumns, getTableName, sql, type Column, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Executor } from './open.ts';

/** `column = any($name)`: matches any value of the array passed as `name` when the query runs. */
export function anyOf(column: Column, name: string): SQL {
	return sql`${column} = any(${sql.placeholder(name)})`;
}

// What drizzle's PgSelect keeps and its prepared queries need (drizzle-orm 0.45: the members are
// public at run time but marked internal in its typings, hence this shape).
type SelectInternals = {
	getSQL(): SQL;
	dialect: { sqlToQuery(sql: SQL): { sql: string; params: unknown[] } };
	config: { fields: Record<string, unknown> };
	joinsNotNullableMap: Record<string, boolean> | undefined;
	usedTables?: Set<string>;
};
// drizzle's own (exported, but internal in its typings): the selected fields in result-column order.
const orderSelectedFields = (drizzle as unknown as { orderSelectedFields(fields: Record<string, unknown>): unknown }).orderSelectedFields;
type PreparedRun = { execute(values: Record<string, unknown>): Promise<unknown[]>; joinsNotNullableMap?: Record<string, boolean> };
type SessionInternals = {
	prepareQuery(
		query: { sql: string; params: unknown[] },
		fields: unknown,
		name: string | undefined,
		isResponseInArrayMode: boolean,
		customResultMapper: undefined,
		queryMetadata: { type: 'select'; tables: string[] }
	): PreparedRun;
};

/**
 * A select built once: `build` makes the query on whatever executor it is given (with
 * `sql.placeholder` for every value); the returned function runs it on an executor (the database
 * or a transaction) with the values, and resolves to the rows the builder itself would return.
 */
export function selectBuiltOnce<Builder extends PromiseLike<unknown[]>, Values extends Record<string, unknown>>(
	build: (db: Executor) => Builder
): (db: Executor, values: Values) => Promise<Awaited<Builder>> {
	let built: { query: { sql: string; params: unknown[] }; fields: unknown; joins: Record<string, boolean> | undefined; tables: string[] } | undefined;
	return async (db, values): Promise<Awaited<Builder>> => {
		if (!built) {
			const builder = build(db) as unknown as SelectInternals;
			built = {
				query: builder.dialect.sqlToQuery(builder.getSQL()),
				fields: orderSelectedFields(builder.config.fields),
				joins: builder.joinsNotNullableMap,
				tables: [...(builder.usedTables ?? [])]
			};
		}
		const session = (db as unknown as { session: SessionInternals }).session;
		const prepared = session.prepareQuery(built.query, built.fields, undefined, true, undefined, { type: 'select', tables: built.tables });
		prepared.joinsNotNullableMap = built.joins;
		return (await prepared.execute(values)) as unknown as Awaited<Builder>;
	};
}

// ---------------------------------------------------------------------------------------------
// Inserts of any number of rows in one statement whose text does not change
// ---------------------------------------------------------------------------------------------

type RowOf<T extends PgTable> = T['$inferSelect'];
type RecordsetText = { open: string; close: string; columns: Array<[key: string, name: string]> };

const recordsetTexts = new WeakMap<PgTable, RecordsetText>();

function recordsetText(table: PgTable): RecordsetText {
	let text = recordsetTexts.get(table);
	if (!text) {
		const columns = Object.entries(getTableColumns(table)) as Array<[string, PgColumn]>;
		const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;
		const names = columns.map(([, column]) => quoted(column.name)).join(', ');
		const definitions = columns.map(([, column]) => `${quoted(column.name)} ${column.getSQLType()}`).join(', ');
		text = {
			open: `insert into ${quoted(getTableName(table))} (${names}) select ${names} from json_to_recordset(`,
			close: `::text::json) as r(${definitions})`,
			columns: columns.map(([key, column]) => [key, column.name])
		};
		recordsetTexts.set(table, text);
	}
	return text;
}

/**
 * `insert into table (…) select … from json_to_recordset($1)`: the rows travel as one JSON
 * parameter, so the statement's text is the same for one row or a hundred (drizzle's
 * `.values(rows)` writes one placeholder per value: a new text, built and planned anew, for every
 * batch size). Every column is written, so rows must be complete (the select type). Values are
 * sent as JSON: strings, numbers, booleans, null, JSON columns as they are, dates as ISO 8601 (what
 * JSON.stringify makes of them); lone UTF-16 surrogates in strings become U+FFFD, as they do when
 * a string parameter is encoded to UTF-8.
 */
export function insertFromJson<T extends PgTable>(table: T, rows: RowOf<T>[]): SQL {
	const text = recordsetText(table);
	const records = rows.map((row) => {
		const record: Record<string, unknown> = {};
		for (const [key, name] of text.columns) {
			const value = (row as Record<string, unknown>)[key];
			record[name] = typeof value === 'string' ? value.toWellFormed() : (value ?? null);
		}
		return record;
	});
	return sql`${sql.raw(text.open)}${JSON.stringify(records)}${sql.raw(text.close)}`;
}
