// Guest access, an instance setting (off by default): a visitor joins a community from its invite
// with a display name only. Guests take part (read, post) but start nothing (communities, direct
// messages, invites), have no password to sign in with, are marked in member lists, and are
// signed out while guest access is off.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient } from '../helpers/clients.ts';
import { createCommunity, createInvite, expectError, expectJson, sendMessage, UNAUTHENTICATED } from '../helpers/fixtures.ts';
import type { InstanceInviteView, InvitePreview, InviteView, Me, MemberView } from '#lib/shared/api-types.ts';
import { CloseCode } from '#lib/shared/protocol/codes.ts';

const skip = postgresUnavailableReason();
const GUEST_ACCESS_OFF = 'Guest access is off on this server.';
const GUESTS_REFUSED = 'Guests cannot do that. Create an account to start communities, direct messages or invites.';

describe.skipIf(skip)('guest access', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let community: Awaited<ReturnType<typeof createCommunity>>;
	let invite: InviteView;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		owner = await TestClient.signUp(server);
		community = await createCommunity(owner, 'Open house');
		invite = await createInvite(owner, community.id);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	const setGuestAccess = (on: boolean) => expectJson(owner.send('PATCH', '/api/admin/settings', { guestAccess: on }), 200);

	async function joinAsGuest(displayName: string, code = invite.code): Promise<TestClient & { user: Me }> {
		const guest = new TestClient(server);
		const { user, communityId } = await expectJson<{ user: Me; communityId: string }>(guest.send('POST', `/api/invites/${code}/guest`, { displayName }), 201);
		expect(communityId).toBe(community.id);
		guest.user = user;
		return guest as TestClient & { user: Me };
	}

	it('is off by default: no guest can be created and the invite preview does not offer it', async () => {
		expect((await owner.api.get<{ settings: { guestAccess: boolean } }>('/api/admin/settings')).settings.guestAccess).toBe(false);
		expect((await new TestClient(server).api.get<InvitePreview>(`/api/invites/${invite.code}`)).guestAccess).toBe(false);
		await expectError(new TestClient(server).send('POST', `/api/invites/${invite.code}/guest`, { displayName: 'Gus' }), 403, 'forbidden', GUEST_ACCESS_OFF);
	});

	it('when on, a visitor joins the community as a guest, marked as such, and takes part', async () => {
		await setGuestAccess(true);
		expect((await new TestClient(server).api.get<InvitePreview>(`/api/invites/${invite.code}`)).guestAccess).toBe(true);
		const guest = await joinAsGuest('Gus the Guest');
		expect(guest.user).toMatchObject({ displayName: 'Gus the Guest', instanceRole: 'member', guest: true });
		expect((await guest.api.get<{ user: Me }>('/api/me')).user.guest).toBe(true);
		const { members } = await owner.api.get<{ members: MemberView[] }>(`/api/communities/${community.id}/members`);
		expect(members.find((m) => m.user.id === guest.user.id)).toMatchObject({ guest: true, role: 'member' });
		expect(members.find((m) => m.user.id === owner.user.id)).toMatchObject({ guest: false });
		await sendMessage(guest, community.generalId, 'hello from a guest');
		const socket = await guest.socket();
		socket.close();
	});

	it('guests cannot create communities, direct messages or invites', async () => {
		const guest = await joinAsGuest('Restricted Rita');
		await expectError(guest.send('POST', '/api/communities', { name: 'Mine now' }), 403, 'forbidden', GUESTS_REFUSED);
		await expectError(guest.send('POST', '/api/dms', { userId: owner.user.id }), 403, 'forbidden', GUESTS_REFUSED);
		await expectError(guest.send('POST', `/api/communities/${community.id}/invites`, {}), 403, 'forbidden', GUESTS_REFUSED);
	});

	it('a guest has no password: signing in as one fails like a wrong password', async () => {
		const guest = await joinAsGuest('Passwordless Pat');
		for (const password of ['', PASSWORD]) {
			const response = await new TestClient(server).send('POST', '/api/auth/sign-in', { username: guest.user.username, password });
			expect(response.status).toBeGreaterThanOrEqual(400);
			expect(response.status).toBeLessThan(500);
		}
		await expectError(new TestClient(server).send('POST', '/api/auth/sign-in', { username: guest.user.username, password: PASSWORD }), 401, 'unauthenticated', 'Incorrect username or password.');
	});

	it('refuses an instance invite (guests join a community) and a signed-in user, and records the guest as having used the invite', async () => {
		const { invite: instanceInvite } = await owner.api.post<{ invite: InviteView }>('/api/admin/invites', {});
		await expectError(new TestClient(server).send('POST', `/api/invites/${instanceInvite.code}/guest`, { displayName: 'Ivy' }), 400, 'invalid', 'Guests join a community: this invite is for creating an account.');
		const listed = (await owner.api.get<{ invites: InstanceInviteView[] }>('/api/admin/invites')).invites.find((i) => i.code === instanceInvite.code)!;
		expect(listed.uses).toBe(0);
		await expectError(owner.send('POST', `/api/invites/${invite.code}/guest`, { displayName: 'Owner again' }), 400, 'invalid', 'You are signed in already: join with your account.');
		const limited = await createInvite(owner, community.id, { maxUses: 1 });
		await joinAsGuest('Last Seat', limited.code);
		await expectError(new TestClient(server).send('POST', `/api/invites/${limited.code}/guest`, { displayName: 'Too Late' }), 400, 'invalid', 'This invite has been used up.');
	});

	it('turning guest access off signs every guest out at once, over REST and /ws, and they stay out when it is back on', async () => {
		await setGuestAccess(true);
		const guest = await joinAsGuest('Temporary Tom');
		const open = await guest.socket();
		const cookie = guest.jar.header();
		await setGuestAccess(false);
		expect(await open.closed).toMatchObject({ code: CloseCode.sessionRevoked });
		await expectError(guest.fetch('/api/me'), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
		const socket = await guest.socket({ waitReady: false });
		expect(await socket.closed).toMatchObject({ code: CloseCode.unauthenticated });
		await expectError(new TestClient(server).send('POST', `/api/invites/${invite.code}/guest`, { displayName: 'Nope' }), 403, 'forbidden', GUEST_ACCESS_OFF);
		// Full accounts are untouched.
		expect((await owner.api.get<{ user: Me }>('/api/me')).user.guest).toBe(false);
		await setGuestAccess(true);
		// The session itself is gone, not just this client's cookie.
		await expectError(new TestClient(server).fetch('/api/me', { headers: { cookie } }), 401, UNAUTHENTICATED.code, UNAUTHENTICATED.message);
	});
});
