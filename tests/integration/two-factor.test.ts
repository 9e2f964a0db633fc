// Two-factor authentication: setting up an authenticator app (re-authenticated, confirmed by a
// first code), the pending sign-in between the password and the code (no session, no other route),
// codes at the edges of their window and used twice, wrong codes throttled without locking the owner
// out, recovery codes used once and made anew, turning it off, the instance's requirement over REST
// and /ws, an admin's reset, the audit rows, and that no code or secret reaches the logs or sits in
// the database in the clear.
//
// The server runs on the real clock; tests pick their codes by time step, away from a step's last
// seconds (awayFromStepEnd), so "the current step" and "the one before" cannot shift under them.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient, uniqueIp } from '../helpers/clients.ts';
import { withSql } from '../helpers/database.ts';
import { expectError, expectJson, UNAUTHENTICATED } from '../helpers/fixtures.ts';
import type { AuditEntryView, Me, SecondFactorChallenge, TwoFactorOverview } from '#lib/shared/api-types.ts';
import { CloseCode } from '#lib/shared/protocol/codes.ts';

const skip = postgresUnavailableReason();

const REAUTH_MISSING = 'Enter your current password to confirm this action.';
const REAUTH_WRONG = 'Your password is not correct.';
const CODE_WRONG = 'That code is not correct. Check the time on your phone and try the newest code.';
const CODE_REUSED = 'That code was used already. Wait for the next one.';
const CODE_MALFORMED = 'Enter the 6-digit code from your authenticator app.';
const RECOVERY_WRONG = 'That recovery code is not correct or was used already.';
const PENDING_GONE = 'Your sign-in expired or was already used. Enter your password again.';
const CODES_THROTTLED = 'Too many wrong codes. Wait a moment and try again.';
const ALREADY_ON = 'Two-factor authentication is already on. Turn it off first to move it to another app.';
const NOT_ON = 'Two-factor authentication is not on for this account.';
const TWO_FACTOR_REQUIRED = 'This server requires two-factor authentication. Set it up in Settings → Security to continue.';
const REQUIRE_OWN_FIRST = 'Turn on two-factor authentication for your own account (Settings → Security) before requiring it of others.';
const NEEDS_APP_SECRET =
	'Two-factor authentication needs APP_SECRET set on the server (authenticator secrets are encrypted with it). Ask the server administrator.';

const METRICS = randomBytes(32).toString('hex');
const STEP_MS = 30_000;
const stepNow = () => Math.floor(Date.now() / STEP_MS);
const codeAt = (secret: string, step: number) => generateHOTP(decodeBase32IgnorePadding(secret), BigInt(step), 6);

/** Waits, if needed, until at least 6 s remain in the current step, so the codes a test computes now stay in their window. */
async function awayFromStepEnd(): Promise<void> {
	const left = STEP_MS - (Date.now() % STEP_MS);
	if (left < 6_000) await new Promise((resolve) => setTimeout(resolve, left + 200));
}

type Enrolled = { client: TestClient; secret: string; recoveryCodes: string[] };

/**
 * Turns two-factor on for `client`, confirming with the previous step's code (accepted: a phone
 * whose clock lags), which leaves the current step's code free for the test's next sign-in.
 */
async function enrol(client: TestClient): Promise<Enrolled> {
	await awayFromStepEnd();
	const { secret } = await client.api.post<{ secret: string; uri: string }>('/api/me/two-factor/totp', { password: PASSWORD });
	const { recoveryCodes } = await client.api.post<{ recoveryCodes: string[] }>('/api/me/two-factor/totp/confirm', { code: codeAt(secret, stepNow() - 1) });
	return { client, secret, recoveryCodes };
}

/** The password step of signing in, from a new browser: the pending sign-in's client and answer. */
async function passwordStep(server: TestServer, username: string, ip = uniqueIp()): Promise<{ browser: TestClient; response: Response }> {
	const browser = new TestClient(server, { ip });
	const response = await browser.send('POST', '/api/auth/sign-in', { username, password: PASSWORD });
	return { browser, response };
}

async function pendingSignIn(server: TestServer, username: string, ip?: string): Promise<TestClient> {
	const { browser, response } = await passwordStep(server, username, ip);
	await expectJson<SecondFactorChallenge>(response, 200);
	return browser;
}

const secondFactor = (browser: TestClient, body: unknown) => browser.send('POST', '/api/auth/second-factor', body);

async function auditEntries(admin: TestClient, action: string, target: string): Promise<AuditEntryView[]> {
	const { entries } = await admin.api.get<{ entries: AuditEntryView[] }>(`/api/admin/audit-log?action=${action}&target=${target}`);
	return entries;
}

describe.skipIf(skip)('two-factor authentication', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	/** Everything shown to a person once (secrets, codes): none of it may reach the logs. */
	const shown: string[] = [];

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { APP_SECRET: randomBytes(32).toString('hex'), METRICS_TOKEN: METRICS } });
		owner = await TestClient.signUp(server);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	describe('setting up an authenticator app', () => {
		it('needs the password again, and refuses a wrong one', async () => {
			const person = await TestClient.signUp(server);
			await expectError(person.send('POST', '/api/me/two-factor/totp', {}), 403, 'forbidden', REAUTH_MISSING);
			await expectError(person.send('POST', '/api/me/two-factor/totp', { password: 'not my password' }), 403, 'forbidden', REAUTH_WRONG);
		});

		it('gives the secret as text and as an otpauth URI, and turns on only with a right first code', async () => {
			const person = await TestClient.signUp(server);
			await awayFromStepEnd();
			const setup = await expectJson<{ secret: string; uri: string }>(person.send('POST', '/api/me/two-factor/totp', { password: PASSWORD }), 200);
			shown.push(setup.secret);
			expect(setup.secret).toMatch(/^[A-Z2-7]{32}$/);
			const uri = new URL(setup.uri);
			expect(uri.protocol).toBe('otpauth:');
			expect(uri.searchParams.get('secret')).toBe(setup.secret);
			expect(uri.searchParams.get('issuer')).toBe('Hearth');
			expect(decodeURIComponent(uri.pathname)).toContain(person.user.username);

			// Not on yet: the status says so and signing in still takes the password alone.
			expect((await person.api.get<{ twoFactor: TwoFactorOverview }>('/api/me/two-factor')).twoFactor.enabled).toBe(false);
			await expectError(person.send('POST', '/api/me/two-factor/totp/confirm', { code: '12345' }), 400, 'invalid', CODE_MALFORMED);
			const wrong = codeAt(setup.secret, stepNow() - 3);
			await expectError(person.send('POST', '/api/me/two-factor/totp/confirm', { code: wrong }), 400, 'invalid', CODE_WRONG);
			await expectError(person.send('POST', '/api/me/two-factor/totp/confirm', { code: 123456 }), 400, 'invalid', CODE_MALFORMED);

			const { recoveryCodes } = await expectJson<{ recoveryCodes: string[] }>(
				person.send('POST', '/api/me/two-factor/totp/confirm', { code: codeAt(setup.secret, stepNow()) }),
				200
			);
			shown.push(...recoveryCodes);
			expect(recoveryCodes).toHaveLength(10);
			const { twoFactor } = await person.api.get<{ twoFactor: TwoFactorOverview }>('/api/me/two-factor');
			expect(twoFactor).toEqual({ enabled: true, enabledAt: expect.any(String), recoveryCodesLeft: 10, required: false, deadline: null, blocked: false });
			expect((await person.api.get<{ user: Me }>('/api/me')).user.twoFactor).toBe(true);
			await expectError(person.send('POST', '/api/me/two-factor/totp', { password: PASSWORD }), 409, 'conflict', ALREADY_ON);

			const [entry] = await auditEntries(owner, 'two_factor.enabled', person.user.id);
			expect(entry).toMatchObject({ action: 'two_factor.enabled', actor: { id: person.user.id }, targetUser: { id: person.user.id }, data: { method: 'totp' } });
		});

		it('stores the secret sealed and the recovery codes hashed, never in the clear', async () => {
			const { client, secret, recoveryCodes } = await enrol(await TestClient.signUp(server));
			shown.push(secret, ...recoveryCodes);
			const stored = await withSql(server, async (sql) => ({
				totp: await sql('select secret_sealed from totp_credentials where user_id = $1', [client.user.id]),
				codes: await sql('select code_hash from recovery_codes where user_id = $1', [client.user.id])
			}));
			const dump = JSON.stringify(stored);
			expect(stored.totp).toHaveLength(1);
			expect(stored.codes).toHaveLength(10);
			expect(dump).not.toContain(secret);
			expect(dump.toLowerCase()).not.toContain(secret.toLowerCase());
			for (const code of recoveryCodes) {
				expect(dump).not.toContain(code);
				expect(dump).not.toContain(code.replaceAll('-', ''));
			}
		});
	});

	describe('signing in with a second factor', () => {
		it('answers the password with a pending sign-in: no session cookie, a cookie scoped to the second-factor step', async () => {
			const { client } = await enrol(await TestClient.signUp(server));
			const { browser, response } = await passwordStep(server, client.user.username);
			const cookies = response.headers.getSetCookie();
			const body = await expectJson<SecondFactorChallenge>(response, 200);
			expect(body).toEqual({ secondFactor: { methods: ['totp', 'recovery_code'], expiresAt: expect.any(String) } });
			expect(new Date(body.secondFactor.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(5 * 60_000);
			expect(cookies.some((line) => line.startsWith('hearth_session='))).toBe(false);
			const pending = cookies.find((line) => line.startsWith('hearth_pending_sign_in='));
			expect(pending).toMatch(/; Path=\/api\/auth\/second-factor/);
			expect(pending).toMatch(/; HttpOnly/);
			expect(pending).toMatch(/; SameSite=Strict/);
			expect(browser.jar.cookies.has('hearth_pending_sign_in')).toBe(true);
		});

		it('lets the pending sign-in reach no other route: REST and /ws see no one, even with its token as a session cookie', async () => {
			const { client } = await enrol(await TestClient.signUp(server));
			const browser = await pendingSignIn(server, client.user.username);
			const token = browser.jar.cookies.get('hearth_pending_sign_in')!;
			// The jar sends the pending cookie everywhere (a browser would not): the server still sees no one.
			for (const path of ['/api/me', '/api/me/sessions', '/api/me/two-factor', '/api/communities', '/api/devices', '/api/admin/settings']) {
				await expectError(browser.fetch(path), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			}
			await expectError(browser.send('POST', '/api/me/two-factor/totp', { password: PASSWORD }), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			await expectError(browser.send('DELETE', '/api/me/two-factor', { password: PASSWORD }), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			const socket = await browser.socket({ waitReady: false });
			expect((await socket.closed).code).toBe(CloseCode.unauthenticated);

			const impostor = new TestClient(server);
			impostor.jar.cookies.set('hearth_session', token);
			await expectError(impostor.fetch('/api/me'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			const impostorSocket = await impostor.socket({ waitReady: false });
			expect((await impostorSocket.closed).code).toBe(CloseCode.unauthenticated);
		});

		it('signs in with the current code, once: the pending sign-in cannot be used again', async () => {
			const { client, secret } = await enrol(await TestClient.signUp(server));
			const browser = await pendingSignIn(server, client.user.username);
			const pendingToken = browser.jar.cookies.get('hearth_pending_sign_in')!;
			const response = await secondFactor(browser, { code: codeAt(secret, stepNow()) });
			const setCookies = response.headers.getSetCookie();
			const body = await expectJson<{ user: Me; method: string; recoveryCodesLeft: number }>(response, 200);
			expect(body).toEqual({ user: expect.objectContaining({ id: client.user.id, twoFactor: true }), method: 'totp', recoveryCodesLeft: 10 });
			expect(setCookies.some((line) => line.startsWith('hearth_session='))).toBe(true);
			expect(browser.jar.cookies.has('hearth_pending_sign_in')).toBe(false);
			expect((await browser.api.get<{ user: Me }>('/api/me')).user.id).toBe(client.user.id);
			const socket = await browser.socket();
			socket.close();

			// The same pending token again (a replayed request) is spent.
			const replay = new TestClient(server);
			replay.jar.cookies.set('hearth_pending_sign_in', pendingToken);
			await expectError(secondFactor(replay, { code: codeAt(secret, stepNow()) }), 401, 'unauthenticated', PENDING_GONE);
		});

		it('refuses a code used already in its window, an older code, and a wrong one', async () => {
			const { client, secret } = await enrol(await TestClient.signUp(server));
			// Set-up used the previous step; the current one signs in once.
			const first = await pendingSignIn(server, client.user.username);
			const current = codeAt(secret, stepNow());
			await expectJson(secondFactor(first, { code: current }), 200);

			const again = await pendingSignIn(server, client.user.username);
			await expectError(secondFactor(again, { code: current }), 400, 'invalid', CODE_REUSED);
			await expectError(secondFactor(again, { code: codeAt(secret, stepNow() - 1) }), 400, 'invalid', CODE_REUSED);
			await expectError(secondFactor(again, { code: codeAt(secret, stepNow() - 2) }), 400, 'invalid', CODE_WRONG);
			await expectError(secondFactor(again, { code: codeAt(secret, stepNow() + 1) }), 400, 'invalid', CODE_WRONG);
			await expectError(secondFactor(again, { code: 'abcdef' }), 400, 'invalid', CODE_MALFORMED);
			// Five attempts spent: the pending sign-in is gone, the password is needed again.
			await expectError(secondFactor(again, { code: codeAt(secret, stepNow() + 2) }), 401, 'unauthenticated', PENDING_GONE);
		});

		it('refuses a second factor without a pending sign-in, and malformed bodies with clear errors', async () => {
			const visitor = new TestClient(server);
			await expectError(secondFactor(visitor, { code: '123456' }), 401, 'unauthenticated', PENDING_GONE);
			await expectError(secondFactor(visitor, { code: '123456', recoveryCode: 'x' }), 400, 'invalid', 'Send code (from your authenticator app), recoveryCode or passkey.');
			await expectError(secondFactor(visitor, {}), 400, 'invalid', 'Send code (from your authenticator app), recoveryCode or passkey.');
			await expectError(secondFactor(visitor, { code: '1'.repeat(40) }), 400, 'invalid', CODE_MALFORMED);
		});

		it('throttles wrong codes per address and account, while the owner elsewhere still signs in', async () => {
			const { client, secret } = await enrol(await TestClient.signUp(server));
			const attackerIp = uniqueIp();
			const wrong = String((Number(codeAt(secret, stepNow())) + 1) % 1_000_000).padStart(6, '0');
			// Five free failures (one pending sign-in's worth), then waits that double.
			const first = await pendingSignIn(server, client.user.username, attackerIp);
			for (let i = 0; i < 5; i += 1) await expectError(secondFactor(first, { code: wrong }), 400, 'invalid', CODE_WRONG);
			const second = await pendingSignIn(server, client.user.username, attackerIp);
			await expectError(secondFactor(second, { code: wrong }), 400, 'invalid', CODE_WRONG);
			const throttled = await secondFactor(second, { code: codeAt(secret, stepNow()) });
			expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
			await expectError(throttled, 429, 'rate_limited', CODES_THROTTLED);
			const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS}` } })).text();
			expect(metrics).toMatch(/^hearth_auth_throttled_total\{action="second_factor"\} 1$/m);

			// The owner, from home, is not locked out.
			const home = await pendingSignIn(server, client.user.username);
			await expectJson(secondFactor(home, { code: codeAt(secret, stepNow()) }), 200);
		});
	});

	describe('recovery codes', () => {
		it('sign in once each, say how many remain, and are audited', async () => {
			const { client, recoveryCodes } = await enrol(await TestClient.signUp(server));
			const browser = await pendingSignIn(server, client.user.username);
			// Typed carelessly: upper case, spaces instead of dashes.
			const typed = recoveryCodes[0]!.toUpperCase().replaceAll('-', ' ');
			const body = await expectJson<{ user: Me; method: string; recoveryCodesLeft: number }>(secondFactor(browser, { recoveryCode: typed }), 200);
			expect(body).toMatchObject({ method: 'recovery_code', recoveryCodesLeft: 9 });
			expect((await browser.api.get<{ user: Me }>('/api/me')).user.id).toBe(client.user.id);

			const again = await pendingSignIn(server, client.user.username);
			await expectError(secondFactor(again, { recoveryCode: recoveryCodes[0] }), 400, 'invalid', RECOVERY_WRONG);
			await expectError(secondFactor(again, { recoveryCode: 'aaaa-bbbb-cccc-dddd' }), 400, 'invalid', RECOVERY_WRONG);
			await expectError(
				secondFactor(again, { recoveryCode: 'short' }),
				400,
				'invalid',
				'A recovery code has 16 letters and digits, like abcd-efgh-2345-6789.'
			);
			expect((await expectJson<{ recoveryCodesLeft: number }>(secondFactor(again, { recoveryCode: recoveryCodes[1] }), 200)).recoveryCodesLeft).toBe(8);

			const entries = await auditEntries(owner, 'two_factor.recovery_code_used', client.user.id);
			expect(entries.map((e) => e.data)).toEqual([{ remaining: 8 }, { remaining: 9 }]);
			expect(entries[0]).toMatchObject({ actor: { id: client.user.id }, targetUser: { id: client.user.id } });
		});

		it('are made anew only with the password, and the old ones stop working', async () => {
			const { client, recoveryCodes } = await enrol(await TestClient.signUp(server));
			await expectError(client.send('POST', '/api/me/two-factor/recovery-codes', {}), 403, 'forbidden', REAUTH_MISSING);
			await expectError(client.send('POST', '/api/me/two-factor/recovery-codes', { password: 'nope nope nope' }), 403, 'forbidden', REAUTH_WRONG);
			const { recoveryCodes: fresh } = await expectJson<{ recoveryCodes: string[] }>(
				client.send('POST', '/api/me/two-factor/recovery-codes', { password: PASSWORD }),
				200
			);
			shown.push(...fresh);
			expect(fresh).toHaveLength(10);
			expect(fresh.some((code) => recoveryCodes.includes(code))).toBe(false);
			const browser = await pendingSignIn(server, client.user.username);
			await expectError(secondFactor(browser, { recoveryCode: recoveryCodes[2] }), 400, 'invalid', RECOVERY_WRONG);
			await expectJson(secondFactor(browser, { recoveryCode: fresh[0] }), 200);
			expect(await auditEntries(owner, 'two_factor.recovery_codes_regenerated', client.user.id)).toHaveLength(1);
		});
	});

	describe('turning it off', () => {
		it('needs the password again; afterwards the password alone signs in', async () => {
			const { client } = await enrol(await TestClient.signUp(server));
			await expectError(client.send('DELETE', '/api/me/two-factor', {}), 403, 'forbidden', REAUTH_MISSING);
			await expectError(client.send('DELETE', '/api/me/two-factor', { password: 'wrong password!' }), 403, 'forbidden', REAUTH_WRONG);
			await expectJson(client.send('DELETE', '/api/me/two-factor', { password: PASSWORD }), 200);
			await expectError(client.send('DELETE', '/api/me/two-factor', { password: PASSWORD }), 409, 'conflict', NOT_ON);
			await expectError(client.send('POST', '/api/me/two-factor/recovery-codes', { password: PASSWORD }), 409, 'conflict', NOT_ON);
			const { response } = await passwordStep(server, client.user.username);
			expect((await expectJson<{ user: Me }>(response, 200)).user).toMatchObject({ id: client.user.id, twoFactor: false });
			expect(await auditEntries(owner, 'two_factor.disabled', client.user.id)).toHaveLength(1);
		});
	});

	describe("an admin's reset", () => {
		it('needs the admin password, is audited, and lets the account in with its password alone', async () => {
			const { client } = await enrol(await TestClient.signUp(server));
			const path = `/api/admin/users/${client.user.id}/two-factor`;
			await expectError(owner.send('DELETE', path, {}), 403, 'forbidden', REAUTH_MISSING);
			await expectError(client.send('DELETE', `/api/admin/users/${owner.user.id}/two-factor`, { password: PASSWORD }), 403, 'forbidden', 'Only instance owners and admins can do that.');
			await expectJson(owner.send('DELETE', path, { password: PASSWORD }), 200);
			await expectError(owner.send('DELETE', path, { password: PASSWORD }), 409, 'conflict', 'This account has no second factor to reset.');
			const [entry] = await auditEntries(owner, 'user.two_factor_reset', client.user.id);
			expect(entry).toMatchObject({ actor: { id: owner.user.id }, targetUser: { id: client.user.id }, data: { username: client.user.username } });
			const { response } = await passwordStep(server, client.user.username);
			expect((await expectJson<{ user: Me }>(response, 200)).user.twoFactor).toBe(false);
		});
	});

	// Last: the requirement covers the whole server while it is on.
	describe('the instance requirement', () => {
		it('can be set only by an admin who has a second factor, with a bounded grace period', async () => {
			await expectError(owner.send('PATCH', '/api/admin/settings', { twoFactorRequirement: 'admins' }), 400, 'invalid', REQUIRE_OWN_FIRST);
			await expectError(owner.send('PATCH', '/api/admin/settings', { twoFactorRequirement: 'all' }), 400, 'invalid', 'The two-factor requirement is off, admins or everyone.');
			await expectError(owner.send('PATCH', '/api/admin/settings', { twoFactorGraceDays: 91 }), 400, 'invalid', 'The grace period is 0 to 90 days.');
			await expectError(owner.send('PATCH', '/api/admin/settings', { twoFactorGraceDays: 1.5 }), 400, 'invalid', 'The grace period is a whole number of days.');
			const enrolled = await enrol(owner);
			shown.push(enrolled.secret, ...enrolled.recoveryCodes);
			const { settings } = await owner.api.patch<{ settings: { twoFactorRequirement: string; twoFactorGraceDays: number } }>('/api/admin/settings', {
				twoFactorRequirement: 'everyone',
				twoFactorGraceDays: 7
			});
			expect(settings).toMatchObject({ twoFactorRequirement: 'everyone', twoFactorGraceDays: 7 });
		});

		it('leads a person without a second factor through the grace period, then allows only setting it up, over REST and /ws', async () => {
			const person = await TestClient.signUp(server);
			// In the grace period: everything works, and the deadline is shown.
			const { twoFactor } = await person.api.get<{ twoFactor: TwoFactorOverview }>('/api/me/two-factor');
			expect(twoFactor).toMatchObject({ enabled: false, required: true, blocked: false });
			expect(new Date(twoFactor.deadline!).getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
			await expectJson(person.fetch('/api/communities'), 200);

			await owner.api.patch('/api/admin/settings', { twoFactorGraceDays: 0 });
			await expectError(person.fetch('/api/communities'), 403, 'two_factor_required', TWO_FACTOR_REQUIRED);
			await expectError(person.fetch('/api/me/sessions'), 403, 'two_factor_required', TWO_FACTOR_REQUIRED);
			await expectError(person.send('PATCH', '/api/me', { displayName: 'Nope' }), 403, 'two_factor_required', TWO_FACTOR_REQUIRED);
			await expectError(person.send('POST', '/api/communities', { name: 'Nope' }), 403, 'two_factor_required', TWO_FACTOR_REQUIRED);
			expect((await person.api.get<{ twoFactor: TwoFactorOverview }>('/api/me/two-factor')).twoFactor).toMatchObject({ required: true, blocked: true });
			expect((await person.api.get<{ user: Me }>('/api/me')).user.id).toBe(person.user.id);
			const socket = await person.socket({ waitReady: false });
			expect(await socket.closed).toEqual({ code: CloseCode.twoFactorRequired, reason: 'two-factor required' });
			// A page of the app sends them to the set-up.
			const page = await person.fetch('/');
			expect(page.status).toBe(303);
			expect(page.headers.get('location')).toBe('/two-factor-setup');

			const enrolled = await enrol(person);
			shown.push(enrolled.secret, ...enrolled.recoveryCodes);
			await expectJson(person.fetch('/api/communities'), 200);
			const open = await person.socket();
			open.close();
		});

		it('is recorded in the audit log, and turning it off frees everyone', async () => {
			const member = await TestClient.signUp(server);
			await expectError(member.fetch('/api/communities'), 403, 'two_factor_required', TWO_FACTOR_REQUIRED);
			await owner.api.patch('/api/admin/settings', { twoFactorRequirement: 'admins' });
			await expectJson(member.fetch('/api/communities'), 200);
			const { entries } = await owner.api.get<{ entries: AuditEntryView[] }>('/api/admin/audit-log?action=instance.settings_changed');
			expect(entries.map((e) => e.data)).toEqual(
				expect.arrayContaining([
					{ twoFactorRequirement: { from: 'off', to: 'everyone' } },
					{ twoFactorGraceDays: { from: 7, to: 0 } },
					{ twoFactorRequirement: { from: 'everyone', to: 'admins' } }
				])
			);
			await owner.api.patch('/api/admin/settings', { twoFactorRequirement: 'off', twoFactorGraceDays: 7 });
		});
	});

	it('never writes a secret, a recovery code or a password to the logs', () => {
		expect(shown.length).toBeGreaterThan(20);
		const logs = server.logs.join('\n');
		for (const value of [...shown, PASSWORD]) expect(logs).not.toContain(value);
	});
});

describe.skipIf(skip)('two-factor without APP_SECRET', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('refuses set-up: a key random per run would lock people out after a restart', async () => {
		const person = await TestClient.signUp(server);
		await expectError(person.send('POST', '/api/me/two-factor/totp', { password: PASSWORD }), 409, 'conflict', NEEDS_APP_SECRET);
	});
});
