// The encrypted key backup of each user (one per user): the backup key wrapped under a key derived
// from the recovery passphrase (Argon2id, in the browser), and entries each encrypted with the
// backup key. The server stores opaque strings; without the passphrase they are noise.
//
// Versions: the same version re-wraps the key (passphrase changed, entries stay); a higher version
// is a reset (a new backup key: the old entries cannot be read with it and are deleted); a lower
// one is a stale client and is refused.
import { and, asc, count, eq, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import * as v from 'valibot';
import type { KeyBackupEntry, KeyBackupView, PutKeyBackupEntriesRequest, PutKeyBackupRequest } from '#lib/shared/e2ee.ts';
import type { Database, Executor } from '../db/open.ts';
import { keyBackupEntries, keyBackups } from '../db/schema.ts';
import { conflict, invalid, notFound } from '../errors.ts';

/**
 * Entries one backup may hold. A heavy user learns a few sender keys per channel per week and one
 * key per direct message; this leaves years of room while bounding what one account can store
 * (entries are at most 64 KiB each, in practice a few hundred bytes).
 */
export const KEY_BACKUP_ENTRIES_MAX = 200_000;
export const KEY_BACKUP_PAGE_DEFAULT = 500;
export const KEY_BACKUP_PAGE_MAX = 1000;

type BackupRow = typeof keyBackups.$inferSelect;

function view(row: BackupRow, entryCount: number): KeyBackupView {
	return { version: row.version, params: row.params, wrappedKey: row.wrappedKey, updatedAt: row.updatedAt.toISOString(), entryCount };
}

export class KeyBackups {
	#db: Database;

	constructor(deps: { db: Database }) {
		this.#db = deps.db;
	}

	async #count(db: Executor, userId: string): Promise<number> {
		const [row] = await db.select({ n: count() }).from(keyBackupEntries).where(eq(keyBackupEntries.userId, userId));
		return Number(row?.n ?? 0);
	}

	async get(userId: string): Promise<KeyBackupView> {
		const [row] = await this.#db.select().from(keyBackups).where(eq(keyBackups.userId, userId));
		if (!row) throw notFound('Key backup');
		return view(row, await this.#count(this.#db, userId));
	}

	async put(userId: string, input: v.InferOutput<typeof PutKeyBackupRequest>): Promise<KeyBackupView> {
		return this.#db.transaction(async (tx) => {
			const [existing] = await tx.select().from(keyBackups).where(eq(keyBackups.userId, userId)).for('update');
			if (existing && input.version < existing.version) {
				throw conflict(`The key backup is at version ${existing.version}; this device has an older one. Reload it.`);
			}
			if (existing && input.version > existing.version) {
				// A reset: a new backup key, so the old entries are unreadable with it.
				await tx.delete(keyBackupEntries).where(eq(keyBackupEntries.userId, userId));
			}
			const values = { version: input.version, params: input.params, wrappedKey: input.wrappedKey, updatedAt: new Date() };
			const [row] = await tx
				.insert(keyBackups)
				.values({ userId, ...values })
				.onConflictDoUpdate({ target: keyBackups.userId, set: values })
				.returning();
			return view(row!, await this.#count(tx, userId));
		});
	}

	async delete(userId: string): Promise<void> {
		await this.#db.transaction(async (tx) => {
			await tx.delete(keyBackupEntries).where(eq(keyBackupEntries.userId, userId));
			const deleted = await tx.delete(keyBackups).where(eq(keyBackups.userId, userId)).returning({ userId: keyBackups.userId });
			if (deleted.length === 0) throw notFound('Key backup');
		});
	}

	/** Upserts entries of the current version; 409 when the backup was reset meanwhile (another version). */
	async putEntries(userId: string, input: v.InferOutput<typeof PutKeyBackupEntriesRequest>): Promise<{ entryCount: number }> {
		const ids = input.entries.map((e) => e.id);
		if (new Set(ids).size !== ids.length) throw invalid('Entry ids in one request must be distinct.');
		return this.#db.transaction(async (tx) => {
			const [backup] = await tx.select().from(keyBackups).where(eq(keyBackups.userId, userId)).for('update');
			if (!backup) throw notFound('Key backup');
			if (backup.version !== input.version) throw conflict(`The key backup is at version ${backup.version}, not ${input.version}.`);
			const now = new Date();
			await tx
				.insert(keyBackupEntries)
				.values(input.entries.map((e) => ({ userId, id: e.id, ciphertext: e.ciphertext, updatedAt: now })))
				.onConflictDoUpdate({
					target: [keyBackupEntries.userId, keyBackupEntries.id],
					set: { ciphertext: sqlExcluded('ciphertext'), updatedAt: now }
				});
			const entryCount = await this.#count(tx, userId);
			if (entryCount > KEY_BACKUP_ENTRIES_MAX) throw invalid(`A key backup holds at most ${KEY_BACKUP_ENTRIES_MAX} entries.`);
			return { entryCount };
		});
	}

	/** Entries with id > after, by id; `next` is the cursor of the following page (null at the end). */
	async entries(userId: string, after: string, limit: number): Promise<{ version: number; entries: KeyBackupEntry[]; next: string | null }> {
		const [backup] = await this.#db.select({ version: keyBackups.version }).from(keyBackups).where(eq(keyBackups.userId, userId));
		if (!backup) throw notFound('Key backup');
		const rows = await this.#db
			.select({ id: keyBackupEntries.id, ciphertext: keyBackupEntries.ciphertext })
			.from(keyBackupEntries)
			.where(and(eq(keyBackupEntries.userId, userId), sql`${sqlCollateC(keyBackupEntries.id)} > ${after}`))
			// Byte order, so the cursor means the same on both engines whatever the collation.
			.orderBy(asc(sqlCollateC(keyBackupEntries.id)))
			.limit(limit + 1);
		const page = rows.slice(0, limit);
		return { version: backup.version, entries: page, next: rows.length > limit ? page[page.length - 1]!.id : null };
	}
}

function sqlExcluded(column: string): SQL {
	return sql.raw(`excluded."${column}"`);
}

function sqlCollateC(column: AnyColumn): SQL {
	return sql`${column} collate "C"`;
}
