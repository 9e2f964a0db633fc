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
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
export type Transaction = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Anything queries can run on: the database itself or an open transaction. */
export type Executor = Database | Transaction;

export type DatabaseConfig =
	| { kind: 'pglite'; dataDir: string }
	| { kind: 'postgres'; url: string; poolSize: number };

export type DatabaseHandle = {
	db: Database;
	kind: DatabaseConfig['kind'];
	/** Round trip to the database; false when it does not answer. */
	ping(): Promise<boolean>;
	close(): Promise<void>;
};

// Arbitrary constant: the key of the advisory lock that serialises migrations between processes.
const MIGRATION_LOCK_KEY = 7_364_201;

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
		const client = await PGlite.create(inMemory ? undefined : config.dataDir);
		const db = drizzlePglite({ client, schema, ...(logger ? { logger } : {}) }) as unknown as Database;
		// PGlite is single-connection and single-process, so no lock is needed around migrations.
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
				await client.close();
			}
		};
	}

	const client = postgres(config.url, {
		max: config.poolSize,
		onnotice: () => {},
		// Connection errors must surface quickly at start-up instead of hanging a deploy.
		connect_timeout: 10
	});
	const db = drizzlePostgres({ client, schema, ...(logger ? { logger } : {}) }) as unknown as Database;
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
