// Backup and restore of the embedded database (a PGlite folder), called by scripts/backup.sh and
// scripts/restore.sh. Usage:
//   node scripts/pglite-archive.ts backup  <DATA_DIR> <archive.tar.gz>
//   node scripts/pglite-archive.ts restore <archive.tar.gz> <DATA_DIR> [--force]
//
// Why a file copy is consistent here: the folder's lock (src/lib/server/db/data-dir-lock.ts) is held
// for the whole operation, so no server can run meanwhile (a running one makes this refuse), and
// the folder is opened and closed with PGlite first, which replays the log of a crashed server and
// ends with PostgreSQL's shutdown checkpoint: the files are then those of a cleanly stopped
// cluster. PGlite's own dumpDataDir() is not used because it cannot read the lock's socket file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { DataDirLockedError, LOCK_FILE_NAME, lockDataDir } from '../src/lib/server/db/data-dir-lock.ts';

class UsageError extends Error {}

function tar(args: string[]): void {
	const result = spawnSync('tar', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
	if (result.error) throw result.error;
	if (result.status !== 0) throw new Error(`tar failed: ${result.stderr.trim()}`);
}

function listArchive(archive: string): string[] {
	const result = spawnSync('tar', ['-tzf', archive], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
	if (result.status !== 0) throw new Error(`${archive} is not a readable .tar.gz archive: ${result.stderr.trim()}`);
	return result.stdout.split('\n').filter(Boolean);
}

/** Opens and closes the folder with PGlite: recovery if needed, then a shutdown checkpoint. */
async function settle(dataDir: string): Promise<void> {
	const pglite = await PGlite.create(dataDir);
	await pglite.query('select 1');
	await pglite.close();
}

/** What is in the folder besides the lock (whose socket file exists while we hold it). */
function contents(dataDir: string): string[] {
	return existsSync(dataDir) ? readdirSync(dataDir).filter((name) => name !== LOCK_FILE_NAME) : [];
}

async function backup(dataDir: string, archive: string): Promise<void> {
	if (!existsSync(join(dataDir, 'PG_VERSION'))) throw new UsageError(`${dataDir} holds no embedded database (no PG_VERSION file).`);
	const lock = await lockDataDir(dataDir);
	try {
		await settle(dataDir);
		mkdirSync(dirname(archive), { recursive: true });
		// Written under a temporary name and renamed, so a half-written archive never looks complete.
		const partial = join(dirname(archive), `.${basename(archive)}.partial`);
		tar(['-czf', partial, '-C', dataDir, `--exclude=./${LOCK_FILE_NAME}`, '.']);
		renameSync(partial, archive);
	} finally {
		await lock.release();
	}
}

async function restore(archive: string, dataDir: string, force: boolean): Promise<void> {
	if (!existsSync(archive)) throw new UsageError(`${archive} does not exist.`);
	const entries = listArchive(archive);
	if (!entries.some((entry) => entry === './PG_VERSION' || entry === 'PG_VERSION')) {
		throw new UsageError(`${archive} is not a backup of the embedded database (it has no PG_VERSION).`);
	}
	mkdirSync(dataDir, { recursive: true });
	const lock = await lockDataDir(dataDir);
	let staging: string | undefined;
	try {
		const existing = contents(dataDir);
		if (existing.length > 0 && !force) {
			throw new UsageError(`${dataDir} is not empty: restoring would replace its data. Re-run with --force to replace it.`);
		}
		// Unpacked and opened in a folder of its own first (inside DATA_DIR: the same filesystem, so
		// the swap below is a rename even when DATA_DIR is a mount point). A damaged archive or a
		// full disk fails here, before anything that was in the folder is touched.
		staging = mkdtempSync(join(dataDir, '.restoring-'));
		tar(['-xzf', archive, '-C', staging]);
		// Proves the restored database opens (and leaves it cleanly shut down).
		await settle(staging);
		const replaced = mkdtempSync(join(dataDir, '.replaced-'));
		for (const name of existing) renameSync(join(dataDir, name), join(replaced, name));
		for (const name of readdirSync(staging)) renameSync(join(staging, name), join(dataDir, name));
		// Only once the restored files are all in place does the replaced data go.
		rmSync(replaced, { recursive: true, force: true });
	} finally {
		if (staging) rmSync(staging, { recursive: true, force: true });
		await lock.release();
	}
}

async function main(argv: string[]): Promise<void> {
	const force = argv.includes('--force');
	const [command, from, to, ...rest] = argv.filter((arg) => arg !== '--force');
	if (!from || !to || rest.length > 0) throw new UsageError('usage: pglite-archive.ts backup <DATA_DIR> <archive> | restore <archive> <DATA_DIR> [--force]');
	if (command === 'backup') await backup(resolve(from), resolve(to));
	else if (command === 'restore') await restore(resolve(from), resolve(to), force);
	else throw new UsageError(`unknown command "${command}"`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
	const known = error instanceof UsageError || error instanceof DataDirLockedError;
	console.error(known ? (error as Error).message : `failed: ${error instanceof Error ? error.message : String(error)}`);
	process.exit(known ? 2 : 1);
});
