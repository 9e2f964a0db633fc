// Passkeys, with a software authenticator standing in for the browser's: adding one (after the
// password, its challenge bound to the session that asked), signing in with one alone, removing one,
// and the refusals — replayed and forged answers, a challenge from another session or browser,
// another account's passkey, no user verification, oversized bodies — each with a clear error and
// nothing stored.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient } from '../helpers/clients.ts';
import { SoftwarePasskey } from '../helpers/software-authenticator.ts';
import { expectError, expectJson, UNAUTHENTICATED } from '../helpers/fixtures.ts';
import type { AuditEntryView, Me, PasskeyView } from '#lib/shared/api-types.ts';

const skip = postgresUnavailableReason();

const REAUTH_MISSING = 'Enter your current password to confirm this action.';
const REAUTH_WRONG = 'Your password is not correct.';
const NOT_VERIFIED = 'The passkey could not be verified. Try again.';
const CHALLENGE_GONE = 'That passkey request expired or was already used. Start again.';
const UNKNOWN = 'This passkey is not registered on this server. Sign in with your password.';

type Options = Record<string, unknown> & { challenge: string };

async function registrationOptions(client: TestClient): Promise<Options> {
	return (await client.api.post<{ options: Options }>('/api/me/passkeys/options', { password: PASSWORD })).options;
}

/** Adds a software passkey to the account of `client`. */
async function addPasskey(client: TestClient, name = 'Laptop'): Promise<{ key: SoftwarePasskey; view: PasskeyView }> {
	const key = new SoftwarePasskey();
	const options = await registrationOptions(client);
	const { passkey } = await expectJson<{ passkey: PasskeyView }>(client.send('POST', '/api/me/passkeys', { name, response: key.register(options, client.server.origin) }), 201);
	return { key, view: passkey };
}

/** A new browser asking for sign-in options: the client (holding the ceremony cookie) and the options. */
async function signInOptions(server: TestServer): Promise<{ browser: TestClient; options: Options }> {
	const browser = new TestClient(server);
	const { options } = await expectJson<{ options: Options }>(browser.send('POST', '/api/auth/passkey/options'), 200);
	return { browser, options };
}

/** Turns on an authenticator app for `client` (its first code from the current 30-second step). */
async function enableTotp(client: TestClient): Promise<void> {
	const { secret } = await client.api.post<{ secret: string }>('/api/me/two-factor/totp', { password: PASSWORD });
	// The previous step is accepted too, so a step ending between these two lines does no harm.
	const code = generateHOTP(decodeBase32IgnorePadding(secret), BigInt(Math.floor(Date.now() / 30_000)), 6);
	await client.api.post('/api/me/two-factor/totp/confirm', { code });
}

/** The password step for an account with a second factor: a new browser holding the pending sign-in. */
async function pendingSignIn(server: TestServer, username: string): Promise<{ browser: TestClient; methods: string[] }> {
	const browser = new TestClient(server);
	const { secondFactor } = await expectJson<{ secondFactor: { methods: string[] } }>(browser.send('POST', '/api/auth/sign-in', { username, password: PASSWORD }), 200);
	return { browser, methods: secondFactor.methods };
}

const passkeysOf = async (client: TestClient) => (await client.api.get<{ passkeys: PasskeyView[] }>('/api/me/passkeys')).passkeys;

describe.skipIf(skip)('passkeys', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;

	beforeAll(async () => {
		db = await createTestDatabase();
		// APP_SECRET: two-factor set-up needs it (a passkey can be the second factor).
		server = await startServer({ database: db, env: { APP_SECRET: randomBytes(32).toString('hex') } });
		owner = await TestClient.signUp(server);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	describe('adding one', () => {
		it('needs the password again', async () => {
			const person = await TestClient.signUp(server);
			await expectError(person.send('POST', '/api/me/passkeys/options', {}), 403, 'forbidden', REAUTH_MISSING);
			await expectError(person.send('POST', '/api/me/passkeys/options', { password: 'not the password' }), 403, 'forbidden', REAUTH_WRONG);
		});

		it('asks for a discoverable, user-verified passkey of this server, excluding the ones already added', async () => {
			const person = await TestClient.signUp(server);
			const options = await registrationOptions(person);
			expect(options).toMatchObject({
				rp: { id: 'localhost', name: 'Hearth' },
				user: { name: person.user.username, displayName: person.user.displayName, id: Buffer.from(person.user.id).toString('base64url') },
				attestation: 'none',
				excludeCredentials: [],
				authenticatorSelection: { residentKey: 'required', userVerification: 'required' }
			});
			const { key } = await addPasskey(person);
			expect((await registrationOptions(person)).excludeCredentials).toEqual([{ id: key.id, type: 'public-key', transports: ['internal'] }]);
		});

		it('stores it, lists it and audits it', async () => {
			const person = await TestClient.signUp(server);
			const { key, view } = await addPasskey(person, '  Work laptop  ');
			expect(view).toEqual({ id: key.id, name: 'Work laptop', createdAt: expect.any(String), lastUsedAt: null, synced: false, backedUp: false });
			expect(await passkeysOf(person)).toEqual([view]);
			const { entries } = await owner.api.get<{ entries: AuditEntryView[] }>(`/api/admin/audit-log?action=passkey.added&target=${person.user.id}`);
			expect(entries).toHaveLength(1);
			expect(entries[0]!.data).toEqual({ name: 'Work laptop', synced: false });
		});

		it('refuses an answer to a challenge another session asked for, and uses each challenge once', async () => {
			const person = await TestClient.signUp(server);
			const otherSession = await person.anotherSession();
			const key = new SoftwarePasskey();
			const options = await registrationOptions(person);
			const answer = key.register(options, server.origin);
			// The other session has no challenge outstanding; then it has its own, which this is not.
			await expectError(otherSession.send('POST', '/api/me/passkeys', { name: 'Stolen', response: answer }), 400, 'invalid', CHALLENGE_GONE);
			await registrationOptions(otherSession);
			await expectError(otherSession.send('POST', '/api/me/passkeys', { name: 'Stolen', response: answer }), 400, 'invalid', NOT_VERIFIED);
			// The session that asked may answer once.
			await expectJson(person.send('POST', '/api/me/passkeys', { name: 'Mine', response: answer }), 201);
			await expectError(person.send('POST', '/api/me/passkeys', { name: 'Again', response: answer }), 400, 'invalid', CHALLENGE_GONE);
			expect((await passkeysOf(person)).map((p) => p.name)).toEqual(['Mine']);
		});

		it('refuses an answer without user verification, for another site or from another origin, storing nothing', async () => {
			const person = await TestClient.signUp(server);
			for (const tweak of [{ userVerified: false }, { rpId: 'evil.example' }, { origin: 'https://evil.example' }]) {
				const options = await registrationOptions(person);
				await expectError(person.send('POST', '/api/me/passkeys', { name: 'Bad', response: new SoftwarePasskey().register(options, server.origin, tweak) }), 400, 'invalid', NOT_VERIFIED);
			}
			expect(await passkeysOf(person)).toEqual([]);
		});

		it('refuses malformed and oversized answers with clear errors, storing nothing', async () => {
			const person = await TestClient.signUp(server);
			const options = await registrationOptions(person);
			const answer = new SoftwarePasskey().register(options, server.origin) as { response: Record<string, string> };
			await expectError(person.send('POST', '/api/me/passkeys', { name: '', response: answer }), 400, 'invalid', 'Name the passkey.');
			await expectError(
				person.send('POST', '/api/me/passkeys', { name: 'x', response: { ...answer, response: { ...answer.response, attestationObject: 'not base64url!' } } }),
				400,
				'invalid',
				'Send the passkey answer as the browser gave it.'
			);
			await expectError(
				person.send('POST', '/api/me/passkeys', { name: 'x', response: { ...answer, response: { ...answer.response, attestationObject: 'A'.repeat(17_000) } } }),
				400,
				'invalid',
				'The passkey answer is too large.'
			);
			await expectError(
				person.send('POST', '/api/me/passkeys', { name: 'x', response: { ...answer, response: { ...answer.response, attestationObject: 'A'.repeat(40_000) } } }),
				413,
				'payload_too_large',
				'The request body is too large.'
			);
			expect(await passkeysOf(person)).toEqual([]);
			// The challenge was not spent by bodies refused before any check: the real answer still works.
			await expectJson(person.send('POST', '/api/me/passkeys', { name: 'Real', response: answer }), 201);
		});

		it('refuses the same passkey on a second account', async () => {
			const first = await TestClient.signUp(server);
			const second = await TestClient.signUp(server);
			const { key } = await addPasskey(first);
			const options = await registrationOptions(second);
			await expectError(second.send('POST', '/api/me/passkeys', { name: 'Copy', response: key.register(options, server.origin) }), 409, 'conflict', 'That passkey is already registered.');
			expect(await passkeysOf(second)).toEqual([]);
		});
	});

	describe('signing in with one alone', () => {
		it('signs in from a browser with no password, and notes when it was used', async () => {
			const person = await TestClient.signUp(server);
			const { key } = await addPasskey(person);
			const { browser, options } = await signInOptions(server);
			expect(options).toMatchObject({ rpId: 'localhost', userVerification: 'required' });
			expect(options.allowCredentials ?? []).toEqual([]);
			const body = await expectJson<{ user: Me }>(browser.send('POST', '/api/auth/passkey', { response: key.authenticate(options, server.origin) }), 200);
			expect(body.user.id).toBe(person.user.id);
			expect((await browser.api.get<{ user: Me }>('/api/me')).user.id).toBe(person.user.id);
			expect((await passkeysOf(person))[0]!.lastUsedAt).not.toBeNull();
		});

		it('refuses a replayed answer, an answer to another browser\'s challenge, and a forged signature', async () => {
			const person = await TestClient.signUp(server);
			const { key } = await addPasskey(person);
			const { browser, options } = await signInOptions(server);
			const answer = key.authenticate(options, server.origin);
			// Another browser (its own cookie, its own challenge) cannot use this answer.
			const { browser: elsewhere } = await signInOptions(server);
			await expectError(elsewhere.send('POST', '/api/auth/passkey', { response: answer }), 400, 'invalid', NOT_VERIFIED);
			await expectJson(browser.send('POST', '/api/auth/passkey', { response: answer }), 200);
			// Replayed: the challenge is spent, and a new one does not match the old answer.
			const replay = new TestClient(server);
			await expectError(replay.send('POST', '/api/auth/passkey', { response: answer }), 400, 'invalid', CHALLENGE_GONE);
			const fresh = await signInOptions(server);
			await expectError(fresh.browser.send('POST', '/api/auth/passkey', { response: answer }), 400, 'invalid', NOT_VERIFIED);

			const forgedFor = await signInOptions(server);
			const forged = key.authenticate(forgedFor.options, server.origin) as { response: Record<string, string> };
			const signature = Buffer.from(forged.response.signature!, 'base64url');
			signature[signature.length - 1]! ^= 1;
			await expectError(
				forgedFor.browser.send('POST', '/api/auth/passkey', { response: { ...forged, response: { ...forged.response, signature: signature.toString('base64url') } } }),
				400,
				'invalid',
				NOT_VERIFIED
			);
			const unverified = await signInOptions(server);
			await expectError(unverified.browser.send('POST', '/api/auth/passkey', { response: key.authenticate(unverified.options, server.origin, { userVerified: false }) }), 400, 'invalid', NOT_VERIFIED);
		});

		it('refuses an unknown passkey, and one whose user handle names another account', async () => {
			const person = await TestClient.signUp(server);
			const other = await TestClient.signUp(server);
			const { key } = await addPasskey(person);
			const stranger = new SoftwarePasskey();
			const first = await signInOptions(server);
			await expectError(first.browser.send('POST', '/api/auth/passkey', { response: stranger.authenticate(first.options, server.origin) }), 400, 'invalid', UNKNOWN);
			key.userHandle = Buffer.from(other.user.id).toString('base64url');
			const second = await signInOptions(server);
			await expectError(second.browser.send('POST', '/api/auth/passkey', { response: key.authenticate(second.options, server.origin) }), 400, 'invalid', NOT_VERIFIED);
		});

		it('refuses an answer without the options cookie', async () => {
			const person = await TestClient.signUp(server);
			const { key } = await addPasskey(person);
			const { options } = await signInOptions(server);
			await expectError(new TestClient(server).send('POST', '/api/auth/passkey', { response: key.authenticate(options, server.origin) }), 400, 'invalid', CHALLENGE_GONE);
		});
	});

	describe('as the second factor after the password', () => {
		it('is offered to accounts with two-factor on, and completes the sign-in with this account\'s passkey only', async () => {
			const person = await TestClient.signUp(server);
			const other = await TestClient.signUp(server);
			await enableTotp(person);
			const { key } = await addPasskey(person);
			const { key: othersKey } = await addPasskey(other);

			const { browser, methods } = await pendingSignIn(server, person.user.username);
			expect(methods).toEqual(['totp', 'recovery_code', 'passkey']);
			const ask = async () => (await expectJson<{ options: Options }>(browser.send('POST', '/api/auth/second-factor/passkey-options'), 200)).options;
			const options = await ask();
			expect(options.allowCredentials).toEqual([{ id: key.id, type: 'public-key', transports: ['internal'] }]);
			// Another account's passkey, answering this challenge, is refused (and counts as an attempt).
			await expectError(browser.send('POST', '/api/auth/second-factor', { passkey: othersKey.authenticate(options, server.origin) }), 400, 'invalid', NOT_VERIFIED);
			const answer = key.authenticate(await ask(), server.origin);
			const body = await expectJson<{ user: Me; method: string }>(browser.send('POST', '/api/auth/second-factor', { passkey: answer }), 200);
			expect(body).toMatchObject({ user: { id: person.user.id }, method: 'passkey' });
			expect((await browser.api.get<{ user: Me }>('/api/me')).user.id).toBe(person.user.id);

			// Replayed on a new pending sign-in: that one's challenge is not this answer's.
			const next = await pendingSignIn(server, person.user.username);
			await expectError(next.browser.send('POST', '/api/auth/second-factor', { passkey: answer }), 400, 'invalid', NOT_VERIFIED);
			await expectJson(next.browser.send('POST', '/api/auth/second-factor/passkey-options'), 200);
			await expectError(next.browser.send('POST', '/api/auth/second-factor', { passkey: answer }), 400, 'invalid', NOT_VERIFIED);
		});

		it('needs a pending sign-in, and an account with a passkey', async () => {
			await expectError(new TestClient(server).send('POST', '/api/auth/second-factor/passkey-options'), 401, 'unauthenticated', 'Your sign-in expired or was already used. Enter your password again.');
			const person = await TestClient.signUp(server);
			await enableTotp(person);
			const { browser, methods } = await pendingSignIn(server, person.user.username);
			expect(methods).toEqual(['totp', 'recovery_code']);
			await expectError(browser.send('POST', '/api/auth/second-factor/passkey-options'), 409, 'conflict', 'This account has no passkey. Use your authenticator app or a recovery code.');
		});
	});

	describe('removing one', () => {
		it('needs the password, treats another account\'s passkey as missing, is audited, and stops it signing in', async () => {
			const person = await TestClient.signUp(server);
			const other = await TestClient.signUp(server);
			const { key } = await addPasskey(person);
			const path = `/api/me/passkeys/${key.id}`;
			await expectError(other.send('DELETE', path, { password: PASSWORD }), 404, 'not_found', 'Passkey was not found.');
			await expectError(person.send('DELETE', '/api/me/passkeys/not%20an%20id', { password: PASSWORD }), 404, 'not_found', 'Passkey was not found.');
			await expectError(person.send('DELETE', path, {}), 403, 'forbidden', REAUTH_MISSING);
			await expectJson(person.send('DELETE', path, { password: PASSWORD }), 200);
			expect(await passkeysOf(person)).toEqual([]);
			const { entries } = await owner.api.get<{ entries: AuditEntryView[] }>(`/api/admin/audit-log?action=passkey.removed&target=${person.user.id}`);
			expect(entries.map((e) => e.data)).toEqual([{ name: 'Laptop' }]);
			const { browser, options } = await signInOptions(server);
			await expectError(browser.send('POST', '/api/auth/passkey', { response: key.authenticate(options, server.origin) }), 400, 'invalid', UNKNOWN);
		});

		it('is for the signed-in person only', async () => {
			await expectError(new TestClient(server).fetch('/api/me/passkeys'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
		});
	});
});
