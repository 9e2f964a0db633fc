// scripts/backup.sh and scripts/restore.sh against a real server and database (the engine of the
// test project): messages written through the API are backed up, the database is wiped, the backup
// is restored into a fresh database, and a new server on it serves the same messages.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryPage } from '#lib/shared/api-types.ts';
import { decodeMessageBody } from '#lib/shared/message-body.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, sendMessage } from '../helpers/fixtures.ts';
import { ROOT, createTestDatabase, postgresUnavailableReason, startServer, testEngine, type TestDatabase, type TestServer } from '../helpers/test-server.ts';

const skip = postgresUnavailableReason();
const engine = testEngine();

type Run = { status: number | null; stdout: string; stderr: string };

/** Runs one of the scripts as an operator would, in an empty folder (so no stray .env is read). */
function runScript(script: 'backup.sh' | 'restore.sh', args: string[], database: TestDatabase, cwd: string): Run {
	const result = spawnSync('bash', [join(ROOT, 'scripts', script), ...args], {
		cwd,
		env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...database.env },
		encoding: 'utf8',
		timeout: 120_000
	});
	return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** An empty database of the test engine: a new PostgreSQL database, or an empty PGlite folder. */
async function emptyDatabase(): Promise<TestDatabase> {
	if (engine === 'postgres') return createTestDatabase();
	const dir = mkdtempSync(join(tmpdir(), 'hearth-restore-'));
	return { engine: 'pglite', env: { DATA_DIR: dir }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

const texts = (page: HistoryPage) => page.messages.map((message) => decodeMessageBody(message.payload)?.text);

describe.skipIf(skip)(`backup and restore (${engine})`, () => {
	const work = mkdtempSync(join(tmpdir(), 'hearth-backup-test-'));
	const databases: TestDatabase[] = [];
	const servers: TestServer[] = [];
	let source: TestDatabase;
	let server: TestServer;
	let username: string;
	let channelId: string;
	let before: HistoryPage;
	let backupFile: string;

	beforeAll(async () => {
		source = await createTestDatabase();
		databases.push(source);
		server = await startServer({ database: source });
		servers.push(server);
		const alice = await TestClient.signUp(server);
		username = alice.user.username;
		const community = await createCommunity(alice, 'Kept safe');
		channelId = community.generalId;
		for (const text of ['first words', 'a reply with ünïcödé', 'the last one']) await sendMessage(alice, channelId, text);
		before = await alice.api.get<HistoryPage>(`/api/channels/${channelId}/messages`);
		expect(texts(before)).toEqual(['first words', 'a reply with ünïcödé', 'the last one']);
	});

	afterAll(async () => {
		for (const running of servers) await running.stop();
		for (const database of databases) await database.drop();
		rmSync(work, { recursive: true, force: true });
	});

	if (engine === 'pglite') {
		it('refuses to back up the embedded database while the server has it open', () => {
			const run = runScript('backup.sh', ['--output', join(work, 'live.tar.gz')], source, work);
			expect(run.status).toBe(2);
			expect(run.stderr).toContain('is in use by another process');
			expect(existsSync(join(work, 'live.tar.gz'))).toBe(false);
		});
	}

	it('writes a backup readable only by its owner', async () => {
		// PostgreSQL is dumped while Hearth runs (pg_dump reads a snapshot); PGlite after it stops.
		if (engine === 'pglite') await server.stop();
		const run = runScript('backup.sh', [], source, work);
		expect(run.stderr).toBe('');
		expect(run.status).toBe(0);
		const [file, ...others] = readdirSync(join(work, 'backups'));
		expect(others).toEqual([]);
		expect(file).toMatch(engine === 'postgres' ? /^hearth-postgres-\d{8}T\d{6}Z\.pgdump$/ : /^hearth-pglite-\d{8}T\d{6}Z\.tar\.gz$/);
		backupFile = join(work, 'backups', file!);
		expect(run.stdout).toContain(`Backup written: backups/${file}`);
		expect(statSync(backupFile).mode & 0o777).toBe(0o600);
		await server.stop();
		// The original is gone for good: only the backup remains.
		await source.drop();
	});

	it('restores into a fresh database, and a server on it serves the same messages', async () => {
		const target = await emptyDatabase();
		databases.push(target);
		const run = runScript('restore.sh', [backupFile], target, work);
		expect(run.stderr).toBe('');
		expect(run.status).toBe(0);

		const restored = await startServer({ database: target });
		servers.push(restored);
		const alice = new TestClient(restored);
		await alice.signIn(username);
		const after = await alice.api.get<HistoryPage>(`/api/channels/${channelId}/messages`);
		expect(texts(after)).toEqual(texts(before));
		expect(after.messages).toEqual(before.messages);
		expect(after.lastSeq).toBe(before.lastSeq);
		await restored.stop();

		// The restore must not replace data that exists without being told to.
		const again = runScript('restore.sh', [backupFile], target, work);
		expect(again.status).toBe(2);
		expect(again.stderr).toContain('restoring would replace its data. Re-run with --force to replace it.');
	});

	it('replaces a database that holds other data only with --force', async () => {
		const target = await createTestDatabase();
		databases.push(target);
		const other = await startServer({ database: target });
		servers.push(other);
		const bob = await TestClient.signUp(other);
		const bobsChannel = (await createCommunity(bob, 'Other')).generalId;
		await sendMessage(bob, bobsChannel, 'data that the restore replaces');

		const whileRunning = runScript('restore.sh', ['--force', backupFile], target, work);
		expect(whileRunning.status).toBe(2);
		expect(whileRunning.stderr).toMatch(engine === 'postgres' ? /other session\(s\) are connected to the database: stop Hearth before restoring/ : /is in use by another process/);
		await other.stop();

		const refused = runScript('restore.sh', [backupFile], target, work);
		expect(refused.status).toBe(2);
		const forced = runScript('restore.sh', ['--force', backupFile], target, work);
		expect(forced.stderr).toBe('');
		expect(forced.status).toBe(0);

		const restored = await startServer({ database: target });
		servers.push(restored);
		const alice = new TestClient(restored);
		await alice.signIn(username);
		expect(texts(await alice.api.get<HistoryPage>(`/api/channels/${channelId}/messages`))).toEqual(texts(before));
		// Bob's account was in the replaced data, so it no longer exists.
		const bobAgain = new TestClient(restored);
		await expect(bobAgain.signIn(bob.user.username)).rejects.toThrow();
		await restored.stop();
	});

	it('leaves the database as it was when the backup is damaged, even with --force', async () => {
		const target = databases.at(-1)!;
		const damaged = join(work, engine === 'postgres' ? 'damaged.pgdump' : 'damaged.tar.gz');
		const bytes = readFileSync(backupFile);
		writeFileSync(damaged, bytes.subarray(0, Math.floor(bytes.length / 2)));
		const run = runScript('restore.sh', ['--force', damaged], target, work);
		expect(run.status).not.toBe(0);
		const restored = await startServer({ database: target });
		servers.push(restored);
		const alice = new TestClient(restored);
		await alice.signIn(username);
		expect(texts(await alice.api.get<HistoryPage>(`/api/channels/${channelId}/messages`))).toEqual(texts(before));
		await restored.stop();
	});

	it('refuses a backup of the other engine', () => {
		const wrong = join(work, engine === 'postgres' ? 'wrong.tar.gz' : 'wrong.pgdump');
		spawnSync('bash', ['-c', engine === 'postgres' ? `tar -czf '${wrong}' -C '${work}' backups` : `printf 'PGDMP-not-a-tarball' > '${wrong}'`]);
		const run = runScript('restore.sh', ['--force', wrong], databases.at(-1)!, work);
		expect(run.status).toBe(2);
		expect(run.stderr).toMatch(/is not a (PostgreSQL backup|backup of the embedded database)/);
	});
});
