// Invites: community invites (create, list by role, preview, accept, revoke, use limits, expiry)
// and instance invites (/api/admin/invites) that admit sign-ups.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { PASSWORD, TestClient, uniqueName } from '../helpers/clients.ts';
import { withSql } from '../helpers/database.ts';
import { createCommunity, createInvite, expectError, expectJson, joinCommunity } from '../helpers/fixtures.ts';
import type { CommunityView, InstanceInviteView, InvitePreview, InviteView, Me, MemberView } from '#lib/shared/api-types.ts';

const skip = postgresUnavailableReason();
const HOUR_MS = 3_600_000;

describe.skipIf(skip)('invites', () => {
	let db: TestDatabase;
	let server: TestServer;
	let instanceOwner: TestClient;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		instanceOwner = await TestClient.signUp(server);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	async function memberIds(client: TestClient, communityId: string) {
		return (await client.api.get<{ members: MemberView[] }>(`/api/communities/${communityId}/members`)).members.map((m) => m.user.id);
	}

	describe('POST /api/communities/:id/invites', () => {
		it('lets any member create an invite, unlimited by default', async () => {
			const owner = await TestClient.signUp(server);
			const member = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await joinCommunity(owner, member, community.id);
			const body = await expectJson<{ invite: InviteView }>(member.send('POST', `/api/communities/${community.id}/invites`, {}), 201);
			expect(body.invite).toEqual({
				code: expect.stringMatching(/^[a-z2-7]{10}$/),
				communityId: community.id,
				createdBy: member.user.id,
				maxUses: null,
				uses: 0,
				expiresAt: null,
				revoked: false,
				createdAt: expect.any(String)
			});
		});

		it('sets a use limit and an expiry in hours', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const { invite } = await expectJson<{ invite: InviteView }>(owner.send('POST', `/api/communities/${community.id}/invites`, { maxUses: 3, expiresInHours: 24 }), 201);
			expect(invite.maxUses).toBe(3);
			expect(Math.abs(Date.parse(invite.expiresAt!) - (Date.now() + 24 * HOUR_MS))).toBeLessThan(60_000);
		});

		it.each([
			['a use limit below 1', { maxUses: 0 }, 'maxUses: Invalid value: Expected >=1'],
			['a fractional expiry, without echoing it', { expiresInHours: 1.5 }, 'expiresInHours: Invalid integer'],
			['an expiry over a year', { expiresInHours: 24 * 366 }, 'expiresInHours: Invalid value: Expected <=8760'],
			['an unknown option', { forever: true }, 'forever: Invalid key: Expected never']
		])('refuses %s with 400', async (_case, body, message) => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await expectError(owner.send('POST', `/api/communities/${community.id}/invites`, body), 400, 'invalid', message);
		});
	});

	describe('GET /api/communities/:id/invites', () => {
		it('shows owners every invite of the community and members only their own', async () => {
			const owner = await TestClient.signUp(server);
			const member = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await joinCommunity(owner, member, community.id);
			const ownerInvite = await createInvite(owner, community.id);
			const memberInvite = await createInvite(member, community.id);
			const other = await createCommunity(owner, 'Elsewhere');
			const elsewhere = await createInvite(owner, other.id);

			const forOwner = (await owner.api.get<{ invites: InviteView[] }>(`/api/communities/${community.id}/invites`)).invites.map((i) => i.code);
			expect(forOwner).toEqual(expect.arrayContaining([ownerInvite.code, memberInvite.code]));
			expect(forOwner).not.toContain(elsewhere.code);
			const forMember = (await member.api.get<{ invites: InviteView[] }>(`/api/communities/${community.id}/invites`)).invites.map((i) => i.code);
			expect(forMember).toEqual([memberInvite.code]);
		});
	});

	describe('GET /api/invites/:code (preview)', () => {
		it('shows a signed-out visitor what the invite leads to, and nothing private', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner, 'Gardeners');
			await owner.api.patch(`/api/communities/${community.id}`, { description: 'We grow things.' });
			const invite = await createInvite(owner, community.id);
			const preview = await expectJson<InvitePreview>(new TestClient(server).fetch(`/api/invites/${invite.code}`), 200);
			expect(preview).toEqual({
				code: invite.code,
				valid: true,
				reason: null,
				community: { id: community.id, name: 'Gardeners', description: 'We grow things.', memberCount: 1 },
				instanceName: 'Hearth',
				guestAccess: false
			});
		});

		it('says when an invite does not exist, and answers 404 to a malformed code', async () => {
			expect(await expectJson<InvitePreview>(new TestClient(server).fetch('/api/invites/abcdefghij'), 200)).toEqual({
				code: 'abcdefghij',
				valid: false,
				reason: 'This invite does not exist.',
				community: null,
				instanceName: 'Hearth',
				guestAccess: false
			});
			await expectError(new TestClient(server).fetch('/api/invites/bad%20code!'), 404, 'not_found', 'Invite was not found.');
		});
	});

	describe('POST /api/invites/:code/accept', () => {
		it("joins the community, counts one use, and posts 'joined' in #general", async () => {
			const owner = await TestClient.signUp(server);
			const joiner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const invite = await createInvite(owner, community.id);
			const ownerSocket = await owner.socket();
			const body = await expectJson<{ communityId: string; joined: boolean }>(joiner.send('POST', `/api/invites/${invite.code}/accept`), 200);
			expect(body).toEqual({ communityId: community.id, joined: true });
			const event = await ownerSocket.waitFor((f) => f.t === 'event' && f.event.type === 'member.joined');
			expect(event).toMatchObject({
				channelId: community.generalId,
				event: { type: 'member.joined', actorId: joiner.user.id, user: { id: joiner.user.id, username: joiner.user.username, displayName: joiner.user.displayName } }
			});
			expect(await memberIds(owner, community.id)).toContain(joiner.user.id);
			const [listed] = (await owner.api.get<{ invites: InviteView[] }>(`/api/communities/${community.id}/invites`)).invites;
			expect(listed!.uses).toBe(1);
			ownerSocket.close();
		});

		it('accepting again as a member changes nothing and uses nothing', async () => {
			const owner = await TestClient.signUp(server);
			const joiner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const invite = await createInvite(owner, community.id, { maxUses: 1 });
			await joiner.api.post(`/api/invites/${invite.code}/accept`);
			expect(await expectJson(joiner.send('POST', `/api/invites/${invite.code}/accept`), 200)).toEqual({ communityId: community.id, joined: false });
			const [listed] = (await owner.api.get<{ invites: InviteView[] }>(`/api/communities/${community.id}/invites`)).invites;
			expect(listed!.uses).toBe(1);
		});

		it('refuses an invite that is used up, and the preview says so', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const invite = await createInvite(owner, community.id, { maxUses: 1 });
			await (await TestClient.signUp(server)).api.post(`/api/invites/${invite.code}/accept`);
			const late = await TestClient.signUp(server);
			await expectError(late.send('POST', `/api/invites/${invite.code}/accept`), 400, 'invalid', 'This invite has been used up.');
			expect(await memberIds(owner, community.id)).not.toContain(late.user.id);
			const preview = await expectJson<InvitePreview>(late.fetch(`/api/invites/${invite.code}`), 200);
			expect(preview).toMatchObject({ valid: false, reason: 'This invite has been used up.' });
		});

		it('admits exactly one of two people racing for the last use', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const invite = await createInvite(owner, community.id, { maxUses: 1 });
			const racers = [await TestClient.signUp(server), await TestClient.signUp(server)];
			const responses = await Promise.all(racers.map((r) => r.send('POST', `/api/invites/${invite.code}/accept`)));
			expect(responses.map((r) => r.status).sort()).toEqual([200, 400]);
			const members = await memberIds(owner, community.id);
			expect(racers.filter((r) => members.includes(r.user.id))).toHaveLength(1);
		});

		it('refuses an instance invite (it is for signing up) and an unknown code', async () => {
			const { invite } = await instanceOwner.api.post<{ invite: InviteView }>('/api/admin/invites', {});
			const user = await TestClient.signUp(server);
			await expectError(user.send('POST', `/api/invites/${invite.code}/accept`), 400, 'invalid', 'This invite is for signing up, not for joining a community.');
			await expectError(user.send('POST', '/api/invites/abcdefghij/accept'), 404, 'not_found', 'Invite was not found.');
		});
	});

	describe('DELETE /api/invites/:code', () => {
		it('lets the creator revoke an invite: it can no longer be used, and the lists and preview say so', async () => {
			const owner = await TestClient.signUp(server);
			const member = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await joinCommunity(owner, member, community.id);
			const invite = await createInvite(member, community.id);
			expect(await expectJson(member.send('DELETE', `/api/invites/${invite.code}`), 200)).toEqual({ ok: true });
			const joiner = await TestClient.signUp(server);
			await expectError(joiner.send('POST', `/api/invites/${invite.code}/accept`), 400, 'invalid', 'This invite was revoked.');
			expect(await expectJson<InvitePreview>(joiner.fetch(`/api/invites/${invite.code}`), 200)).toMatchObject({ valid: false, reason: 'This invite was revoked.' });
			const [listed] = (await member.api.get<{ invites: InviteView[] }>(`/api/communities/${community.id}/invites`)).invites;
			expect(listed).toMatchObject({ code: invite.code, revoked: true });
			await expectError(
				new TestClient(server).send('POST', '/api/auth/sign-up', { username: uniqueName(), password: PASSWORD, inviteCode: invite.code }),
				400,
				'invalid',
				'This invite was revoked.'
			);
		});

		it("lets the community owner revoke a member's invite", async () => {
			const owner = await TestClient.signUp(server);
			const member = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await joinCommunity(owner, member, community.id);
			const invite = await createInvite(member, community.id);
			await expectJson(owner.send('DELETE', `/api/invites/${invite.code}`), 200);
		});

		it('hides instance invites from everyone but instance admins (404)', async () => {
			const { invite } = await instanceOwner.api.post<{ invite: InviteView }>('/api/admin/invites', {});
			const member = await TestClient.signUp(server);
			await expectError(member.send('DELETE', `/api/invites/${invite.code}`), 404, 'not_found', 'Invite was not found.');
			await expectJson(instanceOwner.send('DELETE', `/api/invites/${invite.code}`), 200);
		});
	});

	describe('instance invites: GET and POST /api/admin/invites', () => {
		it('lists only instance invites to instance admins', async () => {
			const { invite } = await expectJson<{ invite: InviteView }>(instanceOwner.send('POST', '/api/admin/invites', { maxUses: 5 }), 201);
			expect(invite).toMatchObject({ communityId: null, createdBy: instanceOwner.user.id, maxUses: 5, uses: 0, revoked: false });
			const community = await createCommunity(instanceOwner);
			const communityInvite = await createInvite(instanceOwner, community.id);
			const codes = (await instanceOwner.api.get<{ invites: InviteView[] }>('/api/admin/invites')).invites.map((i) => i.code);
			expect(codes).toContain(invite.code);
			expect(codes).not.toContain(communityInvite.code);
		});

		it('shows who signed up with each instance invite and when, newest first; a refused sign-up leaves no trace', async () => {
			const { invite } = await instanceOwner.api.post<{ invite: InviteView }>('/api/admin/invites', { maxUses: 3 });
			const before = Date.now();
			const first = await TestClient.signUp(server, { inviteCode: invite.code, displayName: 'First Guest' });
			const second = await TestClient.signUp(server, { inviteCode: invite.code });
			await expectError(
				new TestClient(server).send('POST', '/api/auth/sign-up', { username: first.user.username, password: PASSWORD, inviteCode: invite.code }),
				409,
				'conflict',
				'That username is taken.'
			);
			const listed = (await instanceOwner.api.get<{ invites: InstanceInviteView[] }>('/api/admin/invites')).invites.find((i) => i.code === invite.code)!;
			expect(listed.uses).toBe(2);
			expect(listed.redemptions.map((r) => r.user)).toEqual([
				{ id: second.user.id, username: second.user.username, displayName: second.user.username },
				{ id: first.user.id, username: first.user.username, displayName: 'First Guest' }
			]);
			for (const r of listed.redemptions) expect(Date.parse(r.redeemedAt)).toBeGreaterThanOrEqual(before - 1_000);
		});

		it('keeps the use of a deleted account, without its name', async () => {
			const { invite } = await instanceOwner.api.post<{ invite: InviteView }>('/api/admin/invites', {});
			const gone = await TestClient.signUp(server, { inviteCode: invite.code });
			await expectJson(instanceOwner.send('DELETE', `/api/admin/users/${gone.user.id}`, { password: PASSWORD }), 200);
			const listed = (await instanceOwner.api.get<{ invites: InstanceInviteView[] }>('/api/admin/invites')).invites.find((i) => i.code === invite.code)!;
			expect(listed.redemptions).toEqual([{ user: null, redeemedAt: expect.any(String) }]);
		});

		it('records who joined a community through an invite', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const invite = await createInvite(owner, community.id);
			const joiner = await TestClient.signUp(server);
			await joiner.api.post(`/api/invites/${invite.code}/accept`);
			const rows = await withSql(server, (sql) => sql('select user_id from invite_redemptions where code = $1', [invite.code]));
			expect(rows.map((r) => r.user_id)).toEqual([joiner.user.id]);
		});
	});

	describe('invites at sign-up', () => {
		it('signing up with a community invite joins the community and uses the invite', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const invite = await createInvite(owner, community.id, { maxUses: 1 });
			const newcomer = new TestClient(server);
			const body = await expectJson<{ user: Me; joinedCommunityId: string }>(
				newcomer.send('POST', '/api/auth/sign-up', { username: uniqueName(), password: PASSWORD, inviteCode: invite.code }),
				201
			);
			expect(body.joinedCommunityId).toBe(community.id);
			expect((await newcomer.api.get<{ communities: CommunityView[] }>('/api/communities')).communities.map((c) => c.id)).toEqual([community.id]);
			// Its only use is gone: the next sign-up with it is refused and creates no account.
			const username = uniqueName();
			await expectError(
				new TestClient(server).send('POST', '/api/auth/sign-up', { username, password: PASSWORD, inviteCode: invite.code }),
				400,
				'invalid',
				'This invite has been used up.'
			);
			await expectJson(new TestClient(server).send('POST', '/api/auth/sign-up', { username, password: PASSWORD }), 201);
		});

		it('a refused sign-up (name taken) does not use up the invite', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const invite = await createInvite(owner, community.id, { maxUses: 1 });
			await expectError(
				new TestClient(server).send('POST', '/api/auth/sign-up', { username: owner.user.username, password: PASSWORD, inviteCode: invite.code }),
				409,
				'conflict',
				'That username is taken.'
			);
			const [listed] = (await owner.api.get<{ invites: InviteView[] }>(`/api/communities/${community.id}/invites`)).invites;
			expect(listed!.uses).toBe(0);
		});
	});

	describe('expiry', () => {
		let communityInvite: InviteView;
		let instanceInvite: InviteView;
		let owner: TestClient;

		beforeAll(async () => {
			owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			communityInvite = await createInvite(owner, community.id, { expiresInHours: 1 });
			instanceInvite = (await instanceOwner.api.post<{ invite: InviteView }>('/api/admin/invites', { expiresInHours: 1 })).invite;
			await withSql(server, (sql) => sql(`update invites set expires_at = now() - interval '1 second' where code in ($1, $2)`, [communityInvite.code, instanceInvite.code]));
		});

		it('refuses an expired invite to join, and the preview says so', async () => {
			const user = await TestClient.signUp(server);
			await expectError(user.send('POST', `/api/invites/${communityInvite.code}/accept`), 400, 'invalid', 'This invite has expired.');
			expect(await expectJson<InvitePreview>(user.fetch(`/api/invites/${communityInvite.code}`), 200)).toMatchObject({ valid: false, reason: 'This invite has expired.' });
		});

		it('refuses an expired instance invite at sign-up on an invite-only server', async () => {
			await instanceOwner.api.patch('/api/instance', { registrationMode: 'invite_only' });
			try {
				await expectError(
					new TestClient(server).send('POST', '/api/auth/sign-up', { username: uniqueName(), password: PASSWORD, inviteCode: instanceInvite.code }),
					400,
					'invalid',
					'This invite has expired.'
				);
			} finally {
				await instanceOwner.api.patch('/api/instance', { registrationMode: 'open' });
			}
		});
	});
});
