// Sessions: the cookie, what the database keeps of it, sliding expiry, listing and revoking, and
// that every way of ending a session (sign-out, revoke, password change) ends its /ws connections.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient } from '../helpers/clients.ts';
import { withSql } from '../helpers/database.ts';
import { expectError, expectJson, UNAUTHENTICATED } from '../helpers/fixtures.ts';
import type { Me, SessionView } from '#lib/shared/api-types.ts';
import { CloseCode } from '#lib/shared/protocol/codes.ts';

const skip = postgresUnavailableReason();
const DAY_MS = 24 * 60 * 60 * 1000;

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** A second device of the same account: a new client that signs in. */
async function anotherDevice(server: TestServer, of: TestClient): Promise<TestClient> {
	const device = new TestClient(server);
	await device.signIn(of.user.username);
	return device;
}

/** A client holding a copy of someone's session cookie (as a thief or a stale tab would). */
function withToken(server: TestServer, token: string): TestClient {
	const client = new TestClient(server);
	client.jar.cookies.set('hearth_session', token);
	return client;
}

function sessionCookieLine(response: Response): string | undefined {
	return response.headers.getSetCookie().find((line) => line.startsWith('hearth_session='));
}

async function sessionsOf(client: TestClient): Promise<SessionView[]> {
	return (await client.api.get<{ sessions: SessionView[] }>('/api/me/sessions')).sessions;
}

describe.skipIf(skip)('sessions', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		// One-day sessions, renewed once less than half a day is left.
		server = await startServer({ database: db, env: { SESSION_TTL_DAYS: '1' } });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	describe('the session cookie', () => {
		it('is HttpOnly, SameSite=Lax, Path=/, expires with the session, and is not Secure on plain http', async () => {
			const client = new TestClient(server);
			const response = await client.send('POST', '/api/auth/sign-up', { username: `cookie${Date.now() % 100000}`, password: PASSWORD });
			expect(response.status).toBe(201);
			const line = sessionCookieLine(response)!;
			const attributes = line.split(';').map((part) => part.trim().toLowerCase());
			expect(attributes[0]).toMatch(/^hearth_session=[a-z2-7]{32}$/);
			expect(attributes).toContain('httponly');
			expect(attributes).toContain('samesite=lax');
			expect(attributes).toContain('path=/');
			expect(attributes).not.toContain('secure');
			const expires = Date.parse(attributes.find((a) => a.startsWith('expires='))!.slice('expires='.length));
			expect(Math.abs(expires - (Date.now() + DAY_MS))).toBeLessThan(60_000);
		});

		it('treats a malformed or unknown token as signed out and clears it', async () => {
			for (const token of ['not-a-token', 'a'.repeat(32)]) {
				const client = withToken(server, token);
				const response = await client.fetch('/api/me');
				expect(sessionCookieLine(response)).toMatch(/max-age=0|expires=thu, 01 jan 1970/i);
				await expectError(response, 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			}
		});
	});

	describe('what the database keeps', () => {
		let fresh: TestClient;
		let nearExpiry: TestClient;
		let nearExpiryOnWs: TestClient;
		let expired: TestClient;
		let stored: { id: string; row: string }[];

		beforeAll(async () => {
			fresh = await TestClient.signUp(server);
			nearExpiry = await TestClient.signUp(server);
			nearExpiryOnWs = await TestClient.signUp(server);
			expired = await TestClient.signUp(server);
			stored = await withSql(server, async (sql) => {
				// Two sessions an hour from expiry (well past half their life), one already expired.
				for (const client of [nearExpiry, nearExpiryOnWs]) {
					await sql(`update sessions set expires_at = now() + interval '1 hour' where id = $1`, [sha256Hex(client.sessionToken!)]);
				}
				await sql(`update sessions set expires_at = now() - interval '1 minute' where id = $1`, [sha256Hex(expired.sessionToken!)]);
				const rows = await sql('select * from sessions');
				return rows.map((row) => ({ id: String(row.id), row: JSON.stringify(row) }));
			});
		});

		it('stores only the SHA-256 of the session token, never the token', () => {
			const token = fresh.sessionToken!;
			expect(stored.map((s) => s.id)).toContain(sha256Hex(token));
			for (const session of stored) expect(session.row).not.toContain(token);
		});

		it('renews a session used in its second half and re-sends the cookie with the new expiry', async () => {
			const response = await nearExpiry.fetch('/api/me');
			expect(response.status).toBe(200);
			const line = sessionCookieLine(response);
			expect(line).toBeDefined();
			expect(line!.split(';')[0]).toBe(`hearth_session=${nearExpiry.sessionToken}`);
			const expires = Date.parse(/expires=([^;]+)/i.exec(line!)![1]!);
			expect(Math.abs(expires - (Date.now() + DAY_MS))).toBeLessThan(60_000);
			const [session] = (await sessionsOf(nearExpiry)).filter((s) => s.current);
			expect(Math.abs(Date.parse(session!.expiresAt) - (Date.now() + DAY_MS))).toBeLessThan(60_000);
		});

		it('still renews the cookie on the next request when the first use in the second half was a /ws upgrade', async () => {
			// The upgrade cannot set a cookie; if it extended the session anyway, no later request would
			// see a session in its second half, and the browser's cookie would expire on the old date.
			const socket = await nearExpiryOnWs.socket();
			const response = await nearExpiryOnWs.fetch('/api/me');
			expect(response.status).toBe(200);
			const line = sessionCookieLine(response);
			expect(line).toBeDefined();
			expect(Math.abs(Date.parse(/expires=([^;]+)/i.exec(line!)![1]!) - (Date.now() + DAY_MS))).toBeLessThan(60_000);
			socket.close();
		});

		it('does not re-send the cookie while the session is in its first half', async () => {
			const response = await fresh.fetch('/api/me');
			expect(response.status).toBe(200);
			expect(sessionCookieLine(response)).toBeUndefined();
		});

		it('refuses an expired session and clears its cookie', async () => {
			const response = await expired.fetch('/api/me');
			expect(sessionCookieLine(response)).toMatch(/max-age=0|expires=thu, 01 jan 1970/i);
			await expectError(response, 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
		});
	});

	describe('GET /api/me/sessions', () => {
		it('refuses signed-out visitors with 401', async () => {
			await expectError(new TestClient(server).fetch('/api/me/sessions'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
		});

		it("lists the account's sessions, marks the current one, and shows each device's address and user agent", async () => {
			const laptop = await TestClient.signUp(server);
			const phone = new TestClient(server);
			await expectJson(
				phone.send('POST', '/api/auth/sign-in', { username: laptop.user.username, password: PASSWORD }, { 'user-agent': 'HearthPhone/1.0' }),
				200
			);
			const sessions = await sessionsOf(laptop);
			expect(sessions).toHaveLength(2);
			expect(sessions.filter((s) => s.current)).toEqual([expect.objectContaining({ id: sha256Hex(laptop.sessionToken!), ipAddress: laptop.ip })]);
			expect(sessions.find((s) => !s.current)).toEqual(
				expect.objectContaining({ id: sha256Hex(phone.sessionToken!), ipAddress: phone.ip, userAgent: 'HearthPhone/1.0' })
			);
			// Another account sees none of them.
			const stranger = await TestClient.signUp(server);
			expect((await sessionsOf(stranger)).map((s) => s.id)).toEqual([sha256Hex(stranger.sessionToken!)]);
		});
	});

	describe('DELETE /api/me/sessions/:id', () => {
		it('revokes one of my other sessions: its cookie stops working and its /ws connection closes with 4002', async () => {
			const laptop = await TestClient.signUp(server);
			const phone = await anotherDevice(server, laptop);
			const phoneSocket = await phone.socket();
			const laptopSocket = await laptop.socket();
			await expectJson(laptop.send('DELETE', `/api/me/sessions/${sha256Hex(phone.sessionToken!)}`), 200);
			expect(await phoneSocket.closed).toEqual({ code: CloseCode.sessionRevoked, reason: 'session revoked' });
			await expectError(withToken(server, phone.sessionToken!).fetch('/api/me'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			// The laptop is untouched.
			expect((await laptopSocket.ping()).t).toBe('pong');
			await expectJson(laptop.fetch('/api/me'), 200);
			laptopSocket.close();
		});

		it('revoking the current session signs this device out', async () => {
			const client = await TestClient.signUp(server);
			const token = client.sessionToken!;
			const response = await client.send('DELETE', `/api/me/sessions/${sha256Hex(token)}`);
			expect(sessionCookieLine(response)).toMatch(/max-age=0|expires=thu, 01 jan 1970/i);
			expect(await response.json()).toEqual({ ok: true });
			await expectError(withToken(server, token).fetch('/api/me'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
		});

		it("answers another user's session like a missing one (404), and leaves it alone", async () => {
			const me = await TestClient.signUp(server);
			const other = await TestClient.signUp(server);
			await expectError(me.send('DELETE', `/api/me/sessions/${sha256Hex(other.sessionToken!)}`), 404, 'not_found', 'Session was not found.');
			await expectError(me.send('DELETE', `/api/me/sessions/${'0'.repeat(64)}`), 404, 'not_found', 'Session was not found.');
			await expectError(me.send('DELETE', '/api/me/sessions/not-a-session-id'), 404, 'not_found', 'Session was not found.');
			await expectJson(other.fetch('/api/me'), 200);
		});

		it('refuses signed-out visitors with 401', async () => {
			await expectError(new TestClient(server).send('DELETE', `/api/me/sessions/${'0'.repeat(64)}`), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
		});
	});

	describe('POST /api/me/sessions/revoke-others', () => {
		it('signs out every other device of the account and keeps this one', async () => {
			const laptop = await TestClient.signUp(server);
			const phone = await anotherDevice(server, laptop);
			const tablet = await anotherDevice(server, laptop);
			const stranger = await TestClient.signUp(server);
			const phoneSocket = await phone.socket();
			const body = await expectJson<{ revoked: number }>(laptop.send('POST', '/api/me/sessions/revoke-others'), 200);
			expect(body).toEqual({ revoked: 2 });
			expect((await phoneSocket.closed).code).toBe(CloseCode.sessionRevoked);
			await expectError(phone.fetch('/api/me'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			await expectError(tablet.fetch('/api/me'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			expect((await sessionsOf(laptop)).map((s) => s.current)).toEqual([true]);
			await expectJson(stranger.fetch('/api/me'), 200);
		});

		it('refuses signed-out visitors with 401', async () => {
			await expectError(new TestClient(server).send('POST', '/api/me/sessions/revoke-others'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
		});
	});

	describe('POST /api/me/password', () => {
		const NEW_PASSWORD = 'a brand new passphrase';

		it('changes the password, revokes every session (closing their sockets with 4002) and gives this device a new one', async () => {
			const laptop = await TestClient.signUp(server);
			const phone = await anotherDevice(server, laptop);
			const oldLaptopToken = laptop.sessionToken!;
			const sockets = [await laptop.socket(), await phone.socket()];

			const response = await laptop.send('POST', '/api/me/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
			expect(await response.json()).toEqual({ ok: true });
			expect(response.status).toBe(200);

			for (const socket of sockets) expect((await socket.closed).code).toBe(CloseCode.sessionRevoked);
			expect(laptop.sessionToken).not.toBe(oldLaptopToken);
			await expectJson(laptop.fetch('/api/me'), 200);
			await expectError(withToken(server, oldLaptopToken).fetch('/api/me'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			await expectError(phone.fetch('/api/me'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);

			await expectError(
				new TestClient(server).send('POST', '/api/auth/sign-in', { username: laptop.user.username, password: PASSWORD }),
				401,
				'unauthenticated',
				'Incorrect username or password.'
			);
			const again = new TestClient(server);
			expect((await again.signIn(laptop.user.username, NEW_PASSWORD)).id).toBe(laptop.user.id);
		});

		it('refuses a wrong current password, an unchanged password, and a weak new one with 400', async () => {
			const client = await TestClient.signUp(server);
			await expectError(
				client.send('POST', '/api/me/password', { currentPassword: 'not my password', newPassword: NEW_PASSWORD }),
				400,
				'invalid',
				'Your current password is not correct.'
			);
			await expectError(
				client.send('POST', '/api/me/password', { currentPassword: PASSWORD, newPassword: PASSWORD }),
				400,
				'invalid',
				'Choose a new password that differs from the current one.'
			);
			await expectError(client.send('POST', '/api/me/password', { currentPassword: PASSWORD, newPassword: 'short' }), 400, 'invalid', 'Passwords need at least 10 characters.');
			// Nothing changed: the session still works.
			await expectJson(client.fetch('/api/me'), 200);
		});

		it('refuses signed-out visitors with 401', async () => {
			await expectError(
				new TestClient(server).send('POST', '/api/me/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }),
				401,
				UNAUTHENTICATED.code,
				UNAUTHENTICATED.message
			);
		});
	});

	describe('POST /api/auth/sign-out', () => {
		it('ends the session: the cookie is cleared, the token is dead, and its /ws connection closes with 4002', async () => {
			const client = await TestClient.signUp(server);
			const otherDevice = await anotherDevice(server, client);
			const token = client.sessionToken!;
			const socket = await client.socket();
			const otherSocket = await otherDevice.socket();
			const response = await client.send('POST', '/api/auth/sign-out');
			expect(sessionCookieLine(response)).toMatch(/max-age=0|expires=thu, 01 jan 1970/i);
			expect(await response.json()).toEqual({ ok: true });
			expect(await socket.closed).toEqual({ code: CloseCode.sessionRevoked, reason: 'session revoked' });
			await expectError(withToken(server, token).fetch('/api/me'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			// Other devices stay signed in.
			expect((await otherSocket.ping()).t).toBe('pong');
			await expectJson<{ user: Me }>(otherDevice.fetch('/api/me'), 200);
			otherSocket.close();
		});

		it('answers signed-out visitors with 200 too (signing out twice is harmless)', async () => {
			expect(await expectJson(new TestClient(server).send('POST', '/api/auth/sign-out'), 200)).toEqual({ ok: true });
		});
	});
});
