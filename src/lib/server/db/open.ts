// Opens the database the configuration names, applies pending migrations, and returns one handle
// with the same drizzle API for both engines.
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import postgres from 'postgres';
import { lockDataDir } from './data-dir-lock.ts';
import { PgliteStatements } from './pglite-statements.ts';
import { PostgresStatements } from './postgres-statements.ts';

// drizzle is given no schema: the relational query API (db.query.*) is not used, and with a schema
// drizzle builds a query builder for every table each time a transaction starts (~25 µs of CPU per
// transaction on the build machine, paid by every batch of the send path).
export type Database = PgDatabase<PgQueryResultHKT>;
export type Transaction = PgTransaction<PgQueryResultHKT, Record<string, never>, ExtractTablesWithRelations<Record<string, never>>>;
/** Anything queries can run on: the database itself or an open transaction. */
export type Executor = Database | Transaction;

export type DatabaseConfig =
	| { kind: 'pglite'; dataDir: string }
	| { kind: 'postgres'; url: string; poolSize: number; /** Default true (postgres-statements.ts); false behind a transaction-mode pooler. */ preparedStatements?: boolean };

export type DatabaseHandle = {
	db: Database;
	kind: DatabaseConfig['kind'];
	/** Round trip to the database; false when it does not answer. */
	ping(): Promise<boolean>;
	close(): Promise<void>;
};

// Arbitrary constant: the key of the advisory lock that serialises migrations between processes.
const MIGRATION_LOCK_KEY = 7_364_201;

// drizzle-orm's PGlite driver sends a `parsers` option with every query (for dates, intervals and
// some arrays it wants PostgreSQL's raw text and maps it itself), and PGlite copies its whole parser
// table (~330 entries) into a new object for every query that carries one: ~0.13 ms per query on the
// build machine, ~0.8 ms of CPU per message sent (measured with bench/, see bench/README.md). When
// every parser in the option returns its input unchanged, the same result is had by installing
// those raw-text parsers once on the client and dropping the option. The types come from drizzle
// itself, so nothing here needs to track drizzle's internals; any other parser is passed through
// untouched.
//
// The check runs once per set of types, not per option object: drizzle makes a new option object
// (new functions) for every query it runs, from the same code for the same types, so checking each
// object again cost ~10 µs per query and only ever repeated the first answer. Only drizzle queries
// through this client.
type QueryOptions = Parameters<PGlite['query']>[2];
type Queryable = { query: PGlite['query'] };

const RAW_TEXT_PROBE = 'raw-text-probe';
const rawText = (value: string) => value;

function parsersSharedOn(client: PGlite) {
	/** Sets of types (their ids joined) whose parsers drizzle sends all return the raw text: true, or not: false. */
	const checked = new Map<string, boolean>();
	return (options: QueryOptions): QueryOptions => {
		const parsers = options?.parsers;
		if (!parsers) return options;
		const types = Object.keys(parsers);
		const key = types.join(',');
		let rawTextOnly = checked.get(key);
		if (rawTextOnly === undefined) {
			rawTextOnly = types.every((type) => (parsers[Number(type)] as (value: string, typeId: number) => unknown)(RAW_TEXT_PROBE, Number(type)) === RAW_TEXT_PROBE);
			if (rawTextOnly) for (const type of types) client.parsers[Number(type)] = rawText;
			checked.set(key, rawTextOnly);
		}
		if (!rawTextOnly) return options;
		const { parsers: _installedOnTheClient, ...rest } = options;
		return rest;
	};
}

/**
 * The client (or a transaction of it) as drizzle sees it: raw-text parser options are shared, and
 * statements that recur run as named prepared statements (pglite-statements.ts).
 */
function sharingParsers<T extends Queryable>(target: T, share: (options: QueryOptions) => QueryOptions, statements: PgliteStatements, inTransaction = false): T {
	return new Proxy(target, {
		get(object, key) {
			if (key === 'query') {
				const unprepared = object.query.bind(object);
				return (text: string, params?: unknown[], options?: QueryOptions) =>
					statements.query(text, params, share(options), inTransaction, unprepared as never);
			}
			if (key === 'transaction') {
				const transaction = (object as unknown as PGlite).transaction.bind(object);
				return <R>(callback: (tx: Parameters<Parameters<PGlite['transaction']>[0]>[0]) => Promise<R>) =>
					transaction((tx) => callback(sharingParsers(tx, share, statements, true)));
			}
			// PGlite keeps its state in private fields: its methods must run on the real object.
			const value: unknown = Reflect.get(object, key, object);
			return typeof value === 'function' ? value.bind(object) : value;
		}
	});
}

// PGlite's PostgreSQL settings beyond its own defaults (PGLITE_START_PARAMS below):
// - plan_cache_mode: the hot statements take lists as one array (`id = any($1)`, db/built-once.ts),
//   and PostgreSQL's plan cache judged a generic plan for those dearer than a custom one, so it
//   planned them anew on every run: ~70 µs of CPU per statement on the build machine (main-thread
//   CPU, bench/send-path.ts). Every statement here is a small indexed OLTP read or write, for which
//   the generic plan is the custom one.
// - wal_init_zero: PostgreSQL fills each new 16 MB WAL file with zeros (2,048 writes of 8 kB
//   through PGlite's file system layer) so its space is allocated before it is needed; PGlite runs
//   without fsync (-F, its default), so the zeros bought nothing on the main thread's time.
// - shared_buffers: PGlite runs PostgreSQL inside its WebAssembly heap, so PostgreSQL's memory
//   settings are this process's resident memory. PostgreSQL's default (128 MB) is sized for a
//   server with a machine of its own; PGlite touches most of it while starting (the wasm heap was
//   ~151 MB resident at idle, ~29 MB with 16 MB), and a page that is not in the buffer pool is one
//   read() away in the kernel's page cache, not a disk seek. 16 MB holds the hot pages of the send
//   and connect paths (the channel's seq row, the right edge of the messages indexes, sessions and
//   memberships of a 5,000-member bench) with room to spare; measured with bench/ (see
//   bench/README.md): idle RSS −140 MB, CPU per delivery and per connection unchanged. wal_buffers
//   follows (1/32 of it) by itself.
// Everything else keeps PGlite's defaults (single user, -F as before: durability is unchanged).
const PGLITE_START_PARAMS = [
	...PGlite.defaultStartParams,
	...['-c', 'shared_buffers=16MB'],
	...['-c', 'plan_cache_mode=force_generic_plan'],
	...['-c', 'wal_init_zero=off']
];

export type DatabaseOptions = {
	/** Called with the text of every statement drizzle runs (never its parameters: they hold user data). */
	onQuery?: (sql: string) => void;
};

export async function openDatabase(config: DatabaseConfig, migrationsFolder: string, options: DatabaseOptions = {}): Promise<DatabaseHandle> {
	const onQuery = options.onQuery;
	const logger = onQuery ? { logQuery: (query: string) => onQuery(query) } : undefined;
	if (config.kind === 'pglite') {
		const inMemory = config.dataDir.startsWith('memory://');
		if (!inMemory) mkdirSync(config.dataDir, { recursive: true });
		// Refuses to start while another process (a second server, a backup) has the folder open.
		const lock = inMemory ? undefined : await lockDataDir(config.dataDir);
		let client: PGlite;
		try {
			client = await PGlite.create({ ...(inMemory ? {} : { dataDir: config.dataDir }), startParams: PGLITE_START_PARAMS });
		} catch (error) {
			await lock?.release();
			throw error;
		}
		const db = drizzlePglite({ client: sharingParsers(client, parsersSharedOn(client), new PgliteStatements(client)), ...(logger ? { logger } : {}) }) as unknown as Database;
		// The folder lock above keeps other processes out, so no lock is needed around migrations.
		await migratePglite(db as never, { migrationsFolder });
		return {
			db,
			kind: 'pglite',
			async ping() {
				try {
					await client.query('select 1');
					return true;
				} catch {
					return false;
				}
			},
			async close() {
				try {
					await client.close();
				} finally {
					await lock?.release();
				}
			}
		};
	}

	const prepared = config.preparedStatements !== false;
	const client = postgres(config.url, {
		max: config.poolSize,
		onnotice: () => {},
		// Connection errors must surface quickly at start-up instead of hanging a deploy.
		connect_timeout: 10,
		// As on PGlite (PGLITE_START_PARAMS): the prepared hot statements take lists as one array, and
		// PostgreSQL's plan cache, judging a generic plan for those dearer than a custom one, planned
		// them anew on every run (~28 % of the backends' CPU in a fixed-rate bench profile). Every
		// statement the server prepares is a small indexed OLTP read or write.
		// Off behind a transaction-mode pooler: then nothing is prepared, not even postgres.js's own
		// type lookup, and no startup parameter is sent (PgBouncer refuses ones it does not know).
		...(prepared ? { connection: { plan_cache_mode: 'force_generic_plan' } } : { prepare: false })
	});
	// Statements that recur run as named prepared statements (postgres-statements.ts).
	const db = drizzlePostgres({ client: prepared ? new PostgresStatements().wrap(client) : client, ...(logger ? { logger } : {}) }) as unknown as Database;
	// The migrator runs its own transaction on the pool; a session-level advisory lock held on a
	// separate connection keeps two processes starting at once from migrating concurrently.
	const lockClient = postgres(config.url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
	try {
		await lockClient`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
		await migratePostgres(db as never, { migrationsFolder });
	} finally {
		await lockClient.end({ timeout: 5 });
	}
	return {
		db,
		kind: 'postgres',
		async ping() {
			try {
				await client`select 1`;
				return true;
			} catch {
				return false;
			}
		},
		async close() {
			await client.end({ timeout: 5 });
		}
	};
}
