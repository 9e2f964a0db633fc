// Communities and their channels over REST: create, list, read, change, members, leave, delete,
// what owners, admins and members may each do, and the directory.changed frames that tell
// connected members to refetch their sidebar.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { withSql } from '../helpers/database.ts';
import { createCommunity, createInvite, expectError, expectJson, joinCommunity, sendMessage } from '../helpers/fixtures.ts';
import type { ChannelView, CommunityDetail, CommunityView, InviteView, MemberView, MessageView } from '#lib/shared/api-types.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';
import { PERMISSIONS } from '#lib/shared/permissions.ts';

const skip = postgresUnavailableReason();
const NEEDS_MANAGE_COMMUNITY = 'You need the "Manage community" permission in this community to do that.';
const NEEDS_MANAGE_CHANNELS = 'You need the "Manage channels" permission in this community to do that.';
const OWNER_ONLY = 'Only the owner of this community can do that.';

describe.skipIf(skip)('communities', () => {
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

	describe('POST /api/communities', () => {
		it('creates a community owned by the caller with a #general channel that is also its system channel', async () => {
			const owner = await TestClient.signUp(server);
			const body = await expectJson<{ community: CommunityDetail }>(owner.send('POST', '/api/communities', { name: '  Book club  ', description: 'We read.' }), 201);
			const general = body.community.channels[0]!;
			expect(body.community).toEqual({
				id: expect.any(String),
				name: 'Book club',
				description: 'We read.',
				ownerId: owner.user.id,
				systemChannelId: general.id,
				role: 'owner',
				permissions: [...PERMISSIONS],
				memberCount: 1,
				createdAt: expect.any(String),
				channels: [
					{ id: general.id, communityId: body.community.id, kind: 'text', name: 'general', topic: '', position: 0, slowModeSeconds: 0, disappearingSeconds: 0, archived: false, permissionOverrides: {}, canSend: true, lastSeq: 0, lastReadSeq: 0, unreadCount: 0, mentionCount: 0, peer: null }
				]
			});
		});

		it.each([
			['a name that is too short', { name: 'x' }, 'Community name needs at least 2 characters.'],
			['a name that is too long', { name: 'x'.repeat(65) }, 'Community name can have at most 64 characters.'],
			['a name with control characters', { name: 'bad\nname' }, 'Community name cannot contain control characters.'],
			['a description over 500 characters', { name: 'Fine', description: 'x'.repeat(501) }, 'Descriptions can have at most 500 characters.']
		])('refuses %s with 400', async (_case, body, message) => {
			const owner = await TestClient.signUp(server);
			await expectError(owner.send('POST', '/api/communities', body), 400, 'invalid', message);
			expect((await owner.api.get<{ communities: CommunityView[] }>('/api/communities')).communities).toEqual([]);
		});
	});

	describe('GET /api/communities and GET /api/communities/:id', () => {
		it("lists only the caller's communities, in the order joined, with role and member count", async () => {
			const alice = await TestClient.signUp(server);
			const bob = await TestClient.signUp(server);
			const first = await createCommunity(alice, 'First');
			const second = await createCommunity(bob, 'Second');
			await createCommunity(bob, 'Not for alice');
			await joinCommunity(bob, alice, second.id);
			const { communities } = await alice.api.get<{ communities: CommunityView[] }>('/api/communities');
			expect(communities.map((c) => [c.name, c.role, c.memberCount])).toEqual([
				['First', 'owner', 1],
				['Second', 'member', 2]
			]);
			const detail = await alice.api.get<{ community: CommunityDetail }>(`/api/communities/${second.id}`);
			expect(detail.community).toMatchObject({ id: second.id, name: 'Second', role: 'member', memberCount: 2, ownerId: bob.user.id });
			expect(detail.community.channels.map((c) => c.name)).toEqual(['general']);
			expect(first.id).not.toBe(second.id);
		});
	});

	describe('PATCH /api/communities/:id', () => {
		it("lets the owner rename it and tells members' sockets to refetch", async () => {
			const owner = await TestClient.signUp(server);
			const member = await TestClient.signUp(server);
			const community = await createCommunity(owner, 'Old name');
			await joinCommunity(owner, member, community.id);
			const socket = await member.socket();
			const body = await expectJson<{ community: CommunityView }>(owner.send('PATCH', `/api/communities/${community.id}`, { name: 'New name', description: 'Now with a description' }), 200);
			expect(body.community).toMatchObject({ id: community.id, name: 'New name', description: 'Now with a description', role: 'owner', memberCount: 2 });
			expect(await socket.waitFor((f) => f.t === 'directory.changed')).toEqual({ t: 'directory.changed', communityId: community.id, reason: 'community.updated' });
			expect((await member.api.get<{ community: CommunityDetail }>(`/api/communities/${community.id}`)).community.name).toBe('New name');
			socket.close();
		});

		it('answers an empty change with 200 and the community as it is (not a 500)', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner, 'Unchanged');
			const body = await expectJson<{ community: CommunityView }>(owner.send('PATCH', `/api/communities/${community.id}`, {}), 200);
			expect(body.community).toMatchObject({ id: community.id, name: 'Unchanged', description: '' });
		});

		it('refuses a member with 403 and changes nothing', async () => {
			const owner = await TestClient.signUp(server);
			const member = await TestClient.signUp(server);
			const community = await createCommunity(owner, 'Stable');
			await joinCommunity(owner, member, community.id);
			await expectError(member.send('PATCH', `/api/communities/${community.id}`, { name: 'Hijacked' }), 403, 'forbidden', NEEDS_MANAGE_COMMUNITY);
			expect((await owner.api.get<{ community: CommunityDetail }>(`/api/communities/${community.id}`)).community.name).toBe('Stable');
		});
	});

	describe('channels: POST /api/communities/:id/channels, PATCH /api/channels/:id', () => {
		it('lets the owner add channels (normalised names, next position) and tells members to refetch', async () => {
			const owner = await TestClient.signUp(server);
			const member = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await joinCommunity(owner, member, community.id);
			const socket = await member.socket();
			const body = await expectJson<{ channel: ChannelView }>(owner.send('POST', `/api/communities/${community.id}/channels`, { name: '  Random Talk ', topic: 'Anything' }), 201);
			expect(body.channel).toEqual({
				id: expect.any(String),
				communityId: community.id,
				kind: 'text',
				name: 'random-talk',
				topic: 'Anything',
				position: 1,
				slowModeSeconds: 0,
				disappearingSeconds: 0,
				archived: false,
				permissionOverrides: {},
				canSend: true,
				lastSeq: 0,
				lastReadSeq: 0,
				unreadCount: 0,
				mentionCount: 0,
				peer: null
			});
			expect(await socket.waitFor((f) => f.t === 'directory.changed')).toEqual({ t: 'directory.changed', communityId: community.id, reason: 'channel.created' });
			const { channels } = await member.api.get<{ channels: ChannelView[] }>(`/api/communities/${community.id}/channels`);
			expect(channels.map((c) => [c.name, c.position])).toEqual([
				['general', 0],
				['random-talk', 1]
			]);
			socket.close();
		});

		it('creates one channel when the same name is submitted several times at once', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const responses = await Promise.all(Array.from({ length: 20 }, () => owner.send('POST', `/api/communities/${community.id}/channels`, { name: 'race' })));
			expect(responses.map((r) => r.status).sort()).toEqual([201, ...Array(19).fill(409)]);
			const { channels } = await owner.api.get<{ channels: ChannelView[] }>(`/api/communities/${community.id}/channels`);
			expect(channels.map((c) => c.name)).toEqual(['general', 'race']);
		});

		it('answers an empty channel change with 200 and the channel as it is (not a 500)', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			const body = await expectJson<{ channel: ChannelView }>(owner.send('PATCH', `/api/channels/${community.generalId}`, {}), 200);
			expect(body.channel).toMatchObject({ id: community.generalId, name: 'general', topic: '' });
		});

		it('refuses a duplicate or invalid channel name', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await expectError(owner.send('POST', `/api/communities/${community.id}/channels`, { name: 'General' }), 409, 'conflict', 'A channel named #general already exists here.');
			await expectError(
				owner.send('POST', `/api/communities/${community.id}/channels`, { name: 'no#hash' }),
				400,
				'invalid',
				'Channel names are 1-48 letters, digits, dashes or underscores.'
			);
			await expectError(owner.send('POST', `/api/communities/${community.id}/channels`, { name: 'ok', topic: 'x'.repeat(251) }), 400, 'invalid', 'Topics can have at most 250 characters.');
		});

		it('lets the owner rename a channel and change its topic, refusing a name that is taken', async () => {
			const owner = await TestClient.signUp(server);
			const member = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await joinCommunity(owner, member, community.id);
			const { channel } = await owner.api.post<{ channel: ChannelView }>(`/api/communities/${community.id}/channels`, { name: 'news' });
			const socket = await member.socket();
			const body = await expectJson<{ channel: ChannelView }>(owner.send('PATCH', `/api/channels/${channel.id}`, { name: 'announcements', topic: 'Read me' }), 200);
			expect(body.channel).toMatchObject({ id: channel.id, name: 'announcements', topic: 'Read me' });
			expect(await socket.waitFor((f) => f.t === 'directory.changed')).toEqual({ t: 'directory.changed', communityId: community.id, reason: 'channel.updated' });
			await expectError(owner.send('PATCH', `/api/channels/${channel.id}`, { name: 'general' }), 409, 'conflict', 'A channel named #general already exists here.');
			// Keeping its own name is not a conflict.
			await expectJson(owner.send('PATCH', `/api/channels/${channel.id}`, { name: 'announcements' }), 200);
			await expectError(member.send('PATCH', `/api/channels/${channel.id}`, { topic: 'Mine now' }), 403, 'forbidden', NEEDS_MANAGE_CHANNELS);
			expect((await member.api.get<{ channel: ChannelView }>(`/api/channels/${channel.id}`)).channel.topic).toBe('Read me');
			socket.close();
		});
	});

	describe('GET /api/communities/:id/members', () => {
		it('lists members with their roles, sorted by display name', async () => {
			const owner = await TestClient.signUp(server, { displayName: 'Zed' });
			const member = await TestClient.signUp(server, { displayName: 'Amy' });
			const community = await createCommunity(owner);
			await joinCommunity(owner, member, community.id);
			const { members } = await member.api.get<{ members: MemberView[] }>(`/api/communities/${community.id}/members`);
			expect(members).toEqual([
				{ user: { id: member.user.id, username: member.user.username, displayName: 'Amy' }, role: 'member', customRole: null, timedOutUntil: null, joinedAt: expect.any(String), guest: false },
				{ user: { id: owner.user.id, username: owner.user.username, displayName: 'Zed' }, role: 'owner', customRole: null, timedOutUntil: null, joinedAt: expect.any(String), guest: false }
			]);
		});
	});

	describe('POST /api/communities/:id/leave', () => {
		it('refuses the owner with 409', async () => {
			const owner = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await expectError(owner.send('POST', `/api/communities/${community.id}/leave`), 409, 'conflict', 'The owner cannot leave the community. Delete it instead.');
		});

		it('lets a member leave: the community disappears for them, and #general records it', async () => {
			const owner = await TestClient.signUp(server);
			const member = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await joinCommunity(owner, member, community.id);
			const socket = await member.socket();
			expect(await expectJson(member.send('POST', `/api/communities/${community.id}/leave`), 200)).toEqual({ ok: true });
			expect(await socket.waitFor((f) => f.t === 'directory.changed')).toEqual({ t: 'directory.changed', communityId: community.id, reason: 'community.left' });
			expect((await member.api.get<{ communities: CommunityView[] }>('/api/communities')).communities).toEqual([]);
			await expectError(member.fetch(`/api/communities/${community.id}`), 404, 'not_found', 'Community was not found.');
			await expectError(member.send('POST', `/api/communities/${community.id}/leave`), 404, 'not_found', 'Community was not found.');
			const { members } = await owner.api.get<{ members: MemberView[] }>(`/api/communities/${community.id}/members`);
			expect(members.map((m) => m.user.id)).toEqual([owner.user.id]);
			socket.close();
		});
	});

	describe('DELETE /api/communities/:id', () => {
		it("lets the owner delete it: it is gone for everyone, and members' sockets are told", async () => {
			const owner = await TestClient.signUp(server);
			const member = await TestClient.signUp(server);
			const community = await createCommunity(owner);
			await joinCommunity(owner, member, community.id);
			await sendMessage(member, community.generalId, 'soon gone');
			const socket = await member.socket();
			expect(await expectJson(owner.send('DELETE', `/api/communities/${community.id}`), 200)).toEqual({ ok: true });
			expect(await socket.waitFor((f) => f.t === 'directory.changed')).toEqual({ t: 'directory.changed', communityId: community.id, reason: 'community.left' });
			for (const client of [owner, member]) {
				await expectError(client.fetch(`/api/communities/${community.id}`), 404, 'not_found', 'Community was not found.');
				await expectError(client.fetch(`/api/channels/${community.generalId}/messages`), 404, 'not_found', 'Channel was not found.');
				expect((await client.api.get<{ communities: CommunityView[] }>('/api/communities')).communities).toEqual([]);
			}
			await expectError(owner.send('DELETE', `/api/communities/${community.id}`), 404, 'not_found', 'Community was not found.');
			socket.close();
		});
	});

	describe('PATCH /api/me seen by others', () => {
		it("tells the sockets of everyone sharing a community or a DM to refetch, even when the renamer has no socket open", async () => {
			const owner = await TestClient.signUp(server);
			const renamer = await TestClient.signUp(server);
			const dmPeer = await TestClient.signUp(server);
			const first = await createCommunity(owner, 'First');
			const second = await createCommunity(owner, 'Second');
			await joinCommunity(owner, renamer, first.id);
			await joinCommunity(owner, renamer, second.id);
			const dmOnly = await createCommunity(dmPeer, 'Temporary');
			await joinCommunity(dmPeer, renamer, dmOnly.id);
			await dmPeer.api.post('/api/dms', { userId: renamer.user.id });
			await renamer.api.post(`/api/communities/${dmOnly.id}/leave`);
			const ownerSocket = await owner.socket();
			const peerSocket = await dmPeer.socket();

			await renamer.api.patch('/api/me', { displayName: 'Renamed' });
			const userUpdated = (f: ServerFrame) => f.t === 'directory.changed' && f.reason === 'user.updated';
			const forOwner = await ownerSocket.waitForCount<Extract<ServerFrame, { t: 'directory.changed' }>>(2, userUpdated);
			expect(new Set(forOwner.map((f) => f.communityId))).toEqual(new Set([first.id, second.id]));
			expect(await peerSocket.waitForCount(1, userUpdated)).toEqual([{ t: 'directory.changed', communityId: null, reason: 'user.updated' }]);
			ownerSocket.close();
			peerSocket.close();
		});
	});

	describe('community admins', () => {
		let owner: TestClient;
		let admin: TestClient;
		let member: TestClient;
		let communityId: string;
		let generalId: string;
		let memberMessage: MessageView;
		let memberInvite: InviteView;

		beforeAll(async () => {
			owner = await TestClient.signUp(server);
			admin = await TestClient.signUp(server);
			member = await TestClient.signUp(server);
			const community = await createCommunity(owner, 'Moderated');
			communityId = community.id;
			generalId = community.generalId;
			await joinCommunity(owner, admin, communityId);
			await joinCommunity(owner, member, communityId);
			memberMessage = await sendMessage(member, generalId, 'spam spam spam');
			memberInvite = await createInvite(member, communityId);
			await withSql(server, (sql) => sql(`update community_members set role = 'admin' where community_id = $1 and user_id = $2`, [communityId, admin.user.id]));
		});

		it('appear as admins in the member list', async () => {
			const { members } = await member.api.get<{ members: MemberView[] }>(`/api/communities/${communityId}/members`);
			expect(members.find((m) => m.user.id === admin.user.id)?.role).toBe('admin');
		});

		it('may change the community and its channels', async () => {
			await expectJson(admin.send('PATCH', `/api/communities/${communityId}`, { description: 'Moderated by admins' }), 200);
			const { channel } = await expectJson<{ channel: ChannelView }>(admin.send('POST', `/api/communities/${communityId}/channels`, { name: 'rules' }), 201);
			await expectJson(admin.send('PATCH', `/api/channels/${channel.id}`, { topic: 'Be kind' }), 200);
		});

		it("may see every invite of the community and revoke a member's invite", async () => {
			const { invites } = await admin.api.get<{ invites: InviteView[] }>(`/api/communities/${communityId}/invites`);
			expect(invites.map((i) => i.code)).toContain(memberInvite.code);
			await expectJson(admin.send('DELETE', `/api/invites/${memberInvite.code}`), 200);
		});

		it("may delete a member's message", async () => {
			const body = await expectJson<{ seq: number }>(admin.send('DELETE', `/api/messages/${memberMessage.id}`), 200);
			expect(body.seq).toBeGreaterThan(memberMessage.seq);
		});

		it("may not edit a member's message or delete the community, but may leave it", async () => {
			const message = await sendMessage(member, generalId, 'mine');
			await expectError(admin.send('PATCH', `/api/messages/${message.id}`, { payload: 'theirs' }), 403, 'forbidden', 'You can only edit your own messages.');
			await expectError(admin.send('DELETE', `/api/communities/${communityId}`), 403, 'forbidden', OWNER_ONLY);
			// Unlike the owner, an admin can leave.
			await expectJson(admin.send('POST', `/api/communities/${communityId}/leave`), 200);
		});

	});
});
