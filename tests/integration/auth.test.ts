// Accounts: sign-up (validation, first account, registration modes, per-IP limit), sign-in (one
// answer for every failure, brute-force throttling that cannot lock the real user out), the
// profile, and instance settings. Sessions have their own file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient, uniqueIp, uniqueName } from '../helpers/clients.ts';
import { createCommunity, createInvite, expectError, expectJson, UNAUTHENTICATED } from '../helpers/fixtures.ts';
import type { InstanceInfo, InviteView, Me } from '#lib/shared/api-types.ts';

const skip = postgresUnavailableReason();

const USERNAME_RULE = 'Usernames are 3-32 characters: letters, digits, dot, dash or underscore.';
const WRONG_CREDENTIALS = 'Incorrect username or password.';
const THROTTLED = 'Too many failed sign-in attempts. Wait a moment and try again.';

function signUpRequest(server: TestServer, body: unknown, options: { ip?: string } = {}) {
	return new TestClient(server, options).send('POST', '/api/auth/sign-up', body);
}

function signInRequest(server: TestServer, body: unknown, options: { ip?: string } = {}) {
	return new TestClient(server, options).send('POST', '/api/auth/sign-in', body);
}

describe.skipIf(skip)('accounts', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	describe('first start', () => {
		it('reports that the instance needs setup until the first account exists', async () => {
			const info = await expectJson<InstanceInfo>(new TestClient(server).fetch('/api/instance'), 200);
			expect(info).toEqual({ name: 'Hearth', registrationMode: 'open', needsSetup: true, iconUrl: null });
		});

		it('makes exactly one of several simultaneous first sign-ups the instance owner, the others members', async () => {
			const first = await Promise.all(Array.from({ length: 4 }, () => TestClient.signUp(server)));
			expect(first.map((c) => c.user.instanceRole).sort()).toEqual(['member', 'member', 'member', 'owner']);
			owner = first.find((c) => c.user.instanceRole === 'owner')!;
			expect((await TestClient.signUp(server)).user.instanceRole).toBe('member');
			const info = await expectJson<InstanceInfo>(new TestClient(server).fetch('/api/instance'), 200);
			expect(info.needsSetup).toBe(false);
		});
	});

	describe('POST /api/auth/sign-up', () => {
		it('creates the account, signs it in and answers 201 with the user', async () => {
			const client = new TestClient(server);
			const username = uniqueName('new');
			const body = await expectJson<{ user: Me; joinedCommunityId: string | null }>(
				client.send('POST', '/api/auth/sign-up', { username, password: PASSWORD, displayName: '  Ada Lovelace  ' }),
				201
			);
			expect(body).toEqual({
				user: { id: expect.any(String), username, displayName: 'Ada Lovelace', instanceRole: 'member', createdAt: expect.any(String), guest: false, twoFactor: false },
				joinedCommunityId: null
			});
			const me = await expectJson<{ user: Me }>(client.fetch('/api/me'), 200);
			expect(me.user).toEqual(body.user);
		});

		it('stores usernames in lower case and uses the username as display name by default', async () => {
			const name = uniqueName('mixed');
			const body = await expectJson<{ user: Me }>(signUpRequest(server, { username: `  ${name.toUpperCase()} `, password: PASSWORD }), 201);
			expect(body.user.username).toBe(name);
			expect(body.user.displayName).toBe(name);
		});

		it('refuses a username that is taken, whatever its case, with 409', async () => {
			const name = uniqueName('taken');
			await expectJson(signUpRequest(server, { username: name, password: PASSWORD }), 201);
			await expectError(signUpRequest(server, { username: name.toUpperCase(), password: PASSWORD }), 409, 'conflict', 'That username is taken.');
		});

		it('answers simultaneous sign-ups for one username with one 201 and 409s, never a 500', async () => {
			const name = uniqueName('race');
			const responses = await Promise.all(Array.from({ length: 4 }, () => signUpRequest(server, { username: name, password: PASSWORD })));
			expect(responses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
		});

		it.each([
			['a username that is too short', { username: 'ab', password: PASSWORD }, USERNAME_RULE],
			['a username that is too long', { username: 'a'.repeat(33), password: PASSWORD }, USERNAME_RULE],
			['a username with spaces or symbols', { username: 'bad name!', password: PASSWORD }, USERNAME_RULE],
			['a password that is too short', { username: 'shortpw', password: '123456789' }, 'Passwords need at least 10 characters.'],
			['a password that is too long', { username: 'longpw', password: 'x'.repeat(257) }, 'Passwords can have at most 256 characters.'],
			['a missing password', { username: 'nopw' }, 'password: Invalid key: Expected "password"'],
			['a password that is not a string', { username: 'numpw', password: 1234567890 }, 'password: Invalid type: Expected string'],
			['an empty display name', { username: 'emptydn', password: PASSWORD, displayName: '   ' }, 'Display name needs at least 1 character.'],
			['a display name with control characters', { username: 'ctrldn', password: PASSWORD, displayName: 'a\u0007b' }, 'Display name cannot contain control characters.'],
			['a malformed invite code', { username: 'badinvite', password: PASSWORD, inviteCode: 'no!' }, 'That invite code is not valid.'],
			['a body that is not an object', 'just a string', 'Invalid type: Expected Object']
		])('refuses %s with 400 and says why', async (_case, body, message) => {
			await expectError(signUpRequest(server, body), 400, 'invalid', message);
		});

		it('refuses unknown fields, naming the field', async () => {
			await expectError(signUpRequest(server, { username: 'extrafield', password: PASSWORD, isAdmin: true }), 400, 'invalid', 'isAdmin: Invalid key: Expected never');
		});

		it('refuses a body that is not JSON, and one that is not sent as JSON', async () => {
			const client = new TestClient(server);
			const token = await client.csrfToken();
			await expectError(
				client.fetch('/api/auth/sign-up', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': token }, body: '{"username":' }),
				400,
				'invalid',
				'The request body is not valid JSON.'
			);
			await expectError(
				client.fetch('/api/auth/sign-up', { method: 'POST', headers: { 'content-type': 'text/plain', 'x-csrf-token': token }, body: '{}' }),
				400,
				'invalid',
				'Send the request body as application/json.'
			);
		});

		it('refuses a request body over 256 KiB with 413', async () => {
			await expectError(
				signUpRequest(server, { username: 'huge', password: PASSWORD, displayName: 'x'.repeat(300 * 1024) }),
				413,
				'payload_too_large',
				'The request body is too large.'
			);
		});

		it('refuses a sign-up with an invite code that does not exist', async () => {
			await expectError(
				signUpRequest(server, { username: uniqueName(), password: PASSWORD, inviteCode: 'abcdefghij' }),
				400,
				'invalid',
				'That invite code does not exist.'
			);
		});
	});

	describe('registration modes (PATCH /api/instance)', () => {
		it('refuses signed-out visitors with 401', async () => {
			await expectError(new TestClient(server).send('PATCH', '/api/instance', { registrationMode: 'closed' }), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
		});

		it('refuses members who are not instance admins with 403', async () => {
			const member = await TestClient.signUp(server);
			await expectError(member.send('PATCH', '/api/instance', { registrationMode: 'closed' }), 403, 'forbidden', 'Only instance owners and admins can do that.');
			const info = await expectJson<InstanceInfo>(member.fetch('/api/instance'), 200);
			expect(info.registrationMode).toBe('open');
		});

		it('refuses an unknown mode with 400', async () => {
			await expectError(
				owner.send('PATCH', '/api/instance', { registrationMode: 'everyone' }),
				400,
				'invalid',
				'registrationMode: Invalid type: Expected ("open" | "invite_only" | "closed")'
			);
		});

		it('lets the owner rename the instance', async () => {
			const info = await expectJson<InstanceInfo>(owner.send('PATCH', '/api/instance', { name: '  The Hearth  ' }), 200);
			expect(info).toEqual({ name: 'The Hearth', registrationMode: 'open', needsSetup: false, iconUrl: null });
			await expectError(owner.send('PATCH', '/api/instance', { name: '   ' }), 400, 'invalid', 'The server name cannot be empty.');
		});

		it('closed: refuses every sign-up, even with an invite', async () => {
			const { invite } = await owner.api.post<{ invite: InviteView }>('/api/admin/invites', {});
			const info = await expectJson<InstanceInfo>(owner.send('PATCH', '/api/instance', { registrationMode: 'closed' }), 200);
			expect(info.registrationMode).toBe('closed');
			try {
				await expectError(signUpRequest(server, { username: uniqueName(), password: PASSWORD }), 403, 'forbidden', 'Registration is closed on this server.');
				await expectError(
					signUpRequest(server, { username: uniqueName(), password: PASSWORD, inviteCode: invite.code }),
					403,
					'forbidden',
					'Registration is closed on this server.'
				);
				// Existing accounts still sign in.
				await new TestClient(server).signIn(owner.user.username);
			} finally {
				await owner.api.patch('/api/instance', { registrationMode: 'open' });
			}
			const [stored] = await owner.api.get<{ invites: InviteView[] }>('/api/admin/invites').then((r) => r.invites.filter((i) => i.code === invite.code));
			expect(stored!.uses).toBe(0);
		});

		it('invite_only: refuses sign-ups without a code and admits them with an instance or community invite', async () => {
			const { invite: instanceInvite } = await owner.api.post<{ invite: InviteView }>('/api/admin/invites', {});
			const community = await createCommunity(owner, 'Invite-only club');
			const communityInvite = await createInvite(owner, community.id);
			await owner.api.patch('/api/instance', { registrationMode: 'invite_only' });
			try {
				await expectError(
					signUpRequest(server, { username: uniqueName(), password: PASSWORD }),
					403,
					'forbidden',
					'This server is invite-only: you need an invite code to sign up.'
				);
				const viaInstance = await expectJson<{ user: Me; joinedCommunityId: string | null }>(
					signUpRequest(server, { username: uniqueName(), password: PASSWORD, inviteCode: instanceInvite.code }),
					201
				);
				expect(viaInstance.joinedCommunityId).toBeNull();

				const joiner = new TestClient(server);
				const viaCommunity = await expectJson<{ user: Me; joinedCommunityId: string | null }>(
					joiner.send('POST', '/api/auth/sign-up', { username: uniqueName(), password: PASSWORD, inviteCode: communityInvite.code }),
					201
				);
				expect(viaCommunity.joinedCommunityId).toBe(community.id);
				const { communities } = await joiner.api.get<{ communities: { id: string; role: string }[] }>('/api/communities');
				expect(communities).toEqual([expect.objectContaining({ id: community.id, role: 'member' })]);
			} finally {
				await owner.api.patch('/api/instance', { registrationMode: 'open' });
			}
		});
	});

	describe('POST /api/auth/sign-in', () => {
		it('signs in with the right password, whatever the case of the username', async () => {
			const user = await TestClient.signUp(server);
			const client = new TestClient(server);
			const body = await expectJson<{ user: Me }>(client.send('POST', '/api/auth/sign-in', { username: ` ${user.user.username.toUpperCase()} `, password: PASSWORD }), 200);
			expect(body.user.id).toBe(user.user.id);
			expect((await expectJson<{ user: Me }>(client.fetch('/api/me'), 200)).user.id).toBe(user.user.id);
		});

		it('answers a wrong password and an unknown user with the same 401', async () => {
			const user = await TestClient.signUp(server);
			await expectError(signInRequest(server, { username: user.user.username, password: 'wrong password!' }), 401, 'unauthenticated', WRONG_CREDENTIALS);
			await expectError(signInRequest(server, { username: uniqueName('ghost'), password: 'wrong password!' }), 401, 'unauthenticated', WRONG_CREDENTIALS);
		});

		it('asks for a username and a password', async () => {
			await expectError(signInRequest(server, { username: '  ', password: 'x' }), 400, 'invalid', 'Enter your username.');
			await expectError(signInRequest(server, { username: 'someone', password: '' }), 400, 'invalid', 'Enter your password.');
		});

		it('throttles repeated failures for one username from one address with 429 and Retry-After', async () => {
			const victim = await TestClient.signUp(server);
			const attacker = uniqueIp();
			// Five failures are free; the sixth starts a 2 s wait (doubling per further failure).
			for (let i = 0; i < 6; i += 1) {
				await expectError(signInRequest(server, { username: victim.user.username, password: `guess number ${i}` }, { ip: attacker }), 401, 'unauthenticated', WRONG_CREDENTIALS);
			}
			const refused = await signInRequest(server, { username: victim.user.username, password: 'guess number 7' }, { ip: attacker });
			expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
			await expectError(refused, 429, 'rate_limited', THROTTLED);
			// While the wait lasts, even the right password is not checked from that address.
			await expectError(signInRequest(server, { username: victim.user.username, password: PASSWORD }, { ip: attacker }), 429, 'rate_limited', THROTTLED);
		});

		it('cannot lock the real user out: the same username from another address still signs in', async () => {
			const victim = await TestClient.signUp(server);
			const attacker = uniqueIp();
			for (let i = 0; i < 7; i += 1) await signInRequest(server, { username: victim.user.username, password: `guess number ${i}` }, { ip: attacker });
			await expectError(signInRequest(server, { username: victim.user.username, password: PASSWORD }, { ip: attacker }), 429, 'rate_limited', THROTTLED);

			const elsewhere = new TestClient(server, { ip: uniqueIp() });
			const body = await expectJson<{ user: Me }>(elsewhere.send('POST', '/api/auth/sign-in', { username: victim.user.username, password: PASSWORD }), 200);
			expect(body.user.id).toBe(victim.user.id);
			// And a typo there is an ordinary failure, not a throttled one.
			await expectError(signInRequest(server, { username: victim.user.username, password: 'a typo here' }, { ip: elsewhere.ip }), 401, 'unauthenticated', WRONG_CREDENTIALS);
		});

		it('throttles failures for unknown usernames too, so throttling does not reveal which accounts exist', async () => {
			const ip = uniqueIp();
			const ghost = uniqueName('ghost');
			for (let i = 0; i < 6; i += 1) await expectError(signInRequest(server, { username: ghost, password: `guess ${i}xxxxx` }, { ip }), 401, 'unauthenticated', WRONG_CREDENTIALS);
			await expectError(signInRequest(server, { username: ghost, password: 'guess 7xxxxx' }, { ip }), 429, 'rate_limited', THROTTLED);
		});
	});

	describe('GET and PATCH /api/me', () => {
		it('refuses signed-out visitors with 401', async () => {
			const visitor = new TestClient(server);
			await expectError(visitor.fetch('/api/me'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
			await expectError(visitor.send('PATCH', '/api/me', { displayName: 'Nobody' }), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
		});

		it('changes the display name, trimmed, and validates it', async () => {
			const user = await TestClient.signUp(server);
			const body = await expectJson<{ user: Me }>(user.send('PATCH', '/api/me', { displayName: '  Grace  ' }), 200);
			expect(body.user).toEqual({ ...user.user, displayName: 'Grace' });
			await expectError(user.send('PATCH', '/api/me', { displayName: 'x'.repeat(65) }), 400, 'invalid', 'Display name can have at most 64 characters.');
			await expectError(user.send('PATCH', '/api/me', { displayName: 'Root', username: 'root' }), 400, 'invalid', 'username: Invalid key: Expected never');
		});
	});
});

describe.skipIf(skip)('accounts behind no trusted proxy', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		// No trusted proxies: X-Forwarded-For is whatever the client wrote, so it must be ignored.
		server = await startServer({ database: db, env: { TRUSTED_PROXIES: '' } });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('ignores X-Forwarded-For, so an attacker cannot escape the sign-in throttle by inventing addresses', async () => {
		const victim = await TestClient.signUp(server);
		for (let i = 0; i < 6; i += 1) {
			await expectError(signInRequest(server, { username: victim.user.username, password: `guess number ${i}` }, { ip: uniqueIp() }), 401, 'unauthenticated', WRONG_CREDENTIALS);
		}
		await expectError(signInRequest(server, { username: victim.user.username, password: 'guess number 7' }, { ip: uniqueIp() }), 429, 'rate_limited', THROTTLED);
	});

	it('limits account creation to 20 an hour from one address', async () => {
		// One account exists already (the previous test); each new client claims a fresh forwarded address.
		for (let i = 1; i < 20; i += 1) await expectJson(signUpRequest(server, { username: uniqueName(), password: PASSWORD }, { ip: uniqueIp() }), 201);
		const refused = await signUpRequest(server, { username: uniqueName(), password: PASSWORD }, { ip: uniqueIp() });
		expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60);
		await expectError(refused, 429, 'rate_limited', 'Too many accounts created from this address. Try again later.');
	});
});

describe.skipIf(skip)('account creation limit set by the operator', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { TRUSTED_PROXIES: '', SIGN_UPS_PER_IP_PER_HOUR: '3' } });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('refuses the sign-up after SIGN_UPS_PER_IP_PER_HOUR accounts from one address', async () => {
		for (let i = 0; i < 3; i += 1) await expectJson(signUpRequest(server, { username: uniqueName(), password: PASSWORD }), 201);
		await expectError(
			signUpRequest(server, { username: uniqueName(), password: PASSWORD }),
			429,
			'rate_limited',
			'Too many accounts created from this address. Try again later.'
		);
	});
});
