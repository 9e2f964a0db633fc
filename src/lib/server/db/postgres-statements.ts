// Runs the statements the server repeats as named prepared statements on PostgreSQL.
//
// drizzle's postgres.js driver asks for a prepared statement only for its own `.prepare(name)`;
// everything else goes out unnamed, so the server parses, analyses and plans every statement on
// every run. In a bench profile of the PostgreSQL backends at 10,000 deliveries/s, parsing and
// analysis were ~18 % of their CPU and planning ~28 %, for the same dozen statement texts over and
// over (bench/README.md, "PostgreSQL: the statements were never prepared").
//
// A statement prepared under a name is parsed and analysed once per connection, and its plan is
// cached (PostgreSQL's plan cache decides between a generic and a custom plan). postgres.js keeps
// one named statement per text per connection and reuses it; it cannot close one, so a statement
// stays prepared for the connection's life (postgres.js replaces connections after 30 to 60
// minutes). Hence, as for PGlite (pglite-statements.ts): only text seen before is prepared
// (seen-once.ts), and the number of texts prepared is bounded, so a connection holds at most that
// many statements.
// Statements without parameters go by the simple protocol, as postgres.js sends them: nothing to
// prepare there.
import type { Sql, TransactionSql } from 'postgres';
import { DEFAULT_MAX_PREPARED, SeenOnce } from './seen-once.ts';

type Queryable = Sql | TransactionSql;
type UnsafeOptions = { prepare?: boolean } & Record<string, unknown>;

export class PostgresStatements {
	#seenOnce = new SeenOnce();
	#prepared = new Set<string>();
	#max: number;

	constructor(options: { maxPrepared?: number } = {}) {
		this.#max = options.maxPrepared ?? DEFAULT_MAX_PREPARED;
	}

	/** Whether this run of `text` goes as a named prepared statement. */
	#shouldPrepare(text: string, params: readonly unknown[] | undefined): boolean {
		if (!params || params.length === 0) return false;
		if (this.#prepared.has(text)) return true;
		if (this.#prepared.size >= this.#max) return false;
		if (!this.#seenOnce.has(text)) {
			this.#seenOnce.remember(text);
			return false;
		}
		this.#seenOnce.forget(text);
		this.#prepared.add(text);
		return true;
	}

	/**
	 * The client (or a transaction or savepoint of it) as drizzle sees it: `unsafe`, which drizzle
	 * runs every statement through, prepares text that recurs; transactions and savepoints hand
	 * their callbacks a client that does the same.
	 */
	wrap<T extends Queryable>(target: T): T {
		return new Proxy(target, {
			get: (object, key) => {
				if (key === 'unsafe') {
					return (text: string, params?: unknown[], options?: UnsafeOptions) =>
						object.unsafe(text, params as never, { ...options, prepare: options?.prepare === true || this.#shouldPrepare(text, params) });
				}
				if (key === 'begin' || key === 'savepoint') {
					const method = Reflect.get(object, key, object) as (...args: unknown[]) => unknown;
					// The callback is the last argument (options or a savepoint name may come first).
					return (...args: unknown[]) => {
						const callback = args.at(-1) as (sql: TransactionSql) => unknown;
						return method.call(object, ...args.slice(0, -1), (sql: TransactionSql) => callback(this.wrap(sql)));
					};
				}
				return Reflect.get(object, key, object);
			}
		});
	}
}
