// The embedded database folder belongs to one process at a time (src/lib/server/db/data-dir-lock.ts):
// PGlite takes no lock itself, and two processes writing one folder corrupt it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/clients.ts';
import { createTestDatabase, startServer, testEngine, type TestDatabase, type TestServer } from '../helpers/test-server.ts';

describe.skipIf(testEngine() !== 'pglite')('embedded database folder lock', () => {
	let database: TestDatabase;
	let first: TestServer;
	beforeAll(async () => {
		database = await createTestDatabase();
		first = await startServer({ database });
	});
	afterAll(async () => {
		await first?.stop();
		await database?.drop();
	});

	it('a second server on the same folder refuses to start and names the reason', async () => {
		await expect(startServer({ database })).rejects.toThrow(/Hearth failed to start: The embedded database in .* is in use by another process/);
		// The first server is unharmed.
		expect((await fetch(`${first.url}/ready`)).status).toBe(200);
	});

	it('a server that was killed leaves no lock behind: the next one starts and has the data', async () => {
		const alice = await TestClient.signUp(first);
		await first.kill();
		first = await startServer({ database });
		const again = new TestClient(first);
		await again.signIn(alice.user.username);
		expect(again.user.id).toBe(alice.user.id);
	});
});
