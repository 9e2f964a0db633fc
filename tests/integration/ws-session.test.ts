import { eq } from 'drizzle-orm';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessions } from '#lib/server/db/schema.ts';
import { sessionIdFromToken } from '#lib/server/auth/tokens.ts';
import { TestClient } from '../helpers/clients.ts';
import {
	createTestDatabase,
	openTestDatabase,
	postgresUnavailableReason,
	startServer,
	type TestDatabase,
	type TestServer
} from '../helpers/test-server.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('/ws and session expiry', () => {
	let database: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		database = await createTestDatabase({ persistent: true });
		server = await startServer({ database, env: { SESSION_TTL_DAYS: '2' } });
	});
	afterAll(async () => {
		await server?.stop();
		await database?.drop();
	});

	it('renews a session past half its life during the upgrade and refreshes the cookie in the 101 response', async () => {
		const alice = await TestClient.signUp(server);
		const token = alice.jar.cookies.get('hearth_session')!;
		await server.stop();
		const handle = await openTestDatabase(database);
		const nearExpiry = new Date(Date.now() + 60 * 60 * 1000);
		await handle.db.update(sessions).set({ expiresAt: nearExpiry }).where(eq(sessions.id, sessionIdFromToken(token)));
		await handle.close();
		server = await startServer({ database, env: { SESSION_TTL_DAYS: '2' } });
		const fresh = new TestClient(server);
		fresh.jar.cookies.set('hearth_session', token);

		const setCookie = await new Promise<string[]>((resolve, reject) => {
			const ws = new WebSocket(server.wsUrl, { headers: { cookie: fresh.jar.header(), origin: server.origin } });
			ws.once('upgrade', (response) => resolve([response.headers['set-cookie'] ?? []].flat()));
			ws.once('error', reject);
			ws.once('open', () => ws.close());
		});
		expect(setCookie).toHaveLength(1);
		expect(setCookie[0]).toMatch(new RegExp(`^hearth_session=${token}; Path=/; Expires=[^;]+; HttpOnly; SameSite=Lax$`));
		const expires = new Date(/Expires=([^;]+)/.exec(setCookie[0]!)![1]!);
		expect(expires.getTime()).toBeGreaterThan(Date.now() + 47 * 60 * 60 * 1000);

		await server.stop();
		const check = await openTestDatabase(database);
		const [row] = await check.db.select().from(sessions).where(eq(sessions.id, sessionIdFromToken(token)));
		await check.close();
		// The cookie carries whole seconds; the stored expiry is the same instant with milliseconds.
		expect(Math.floor(row!.expiresAt.getTime() / 1000)).toBe(expires.getTime() / 1000);
		server = await startServer({ database, env: { SESSION_TTL_DAYS: '2' } });
	});

	it('sends no cookie when the session is far from expiry', async () => {
		const bob = await TestClient.signUp(server);
		const setCookie = await new Promise<string[] | undefined>((resolve, reject) => {
			const ws = new WebSocket(server.wsUrl, { headers: { cookie: bob.jar.header(), origin: server.origin } });
			ws.once('upgrade', (response) => resolve(response.headers['set-cookie']));
			ws.once('error', reject);
			ws.once('open', () => ws.close());
		});
		expect(setCookie).toBeUndefined();
	});
});
