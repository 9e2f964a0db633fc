// Moderation: kick, ban (reason, expiry, no rejoining), timeout (enforced on /ws send), deleting
// others' messages, slow mode and archived channels, rank rules, and the audit log that records it
// all (filters, permission, retention).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, restartServer, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { withSql } from '../helpers/database.ts';
import { createCommunity, createInvite, expectError, expectJson, joinCommunity, newClientId, sendMessage, type Community } from '../helpers/fixtures.ts';
import type { AuditEntryView, BanView, CommunityView, CustomRoleView, MemberView, ReportView } from '#lib/shared/api-types.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';

const skip = postgresUnavailableReason();
const BELOW_ONLY = 'You can only do that to members below your role.';

describe.skipIf(skip)('moderation', () => {
	let db: TestDatabase;
	let server: TestServer;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		await TestClient.signUp(server);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	/** An owner, a moderator and a member of a new community. */
	async function staffed(): Promise<{ owner: TestClient; moderator: TestClient; member: TestClient; community: Community }> {
		const owner = await TestClient.signUp(server);
		const moderator = await TestClient.signUp(server);
		const member = await TestClient.signUp(server);
		const community = await createCommunity(owner, 'Moderated');
		await joinCommunity(owner, moderator, community.id);
		await joinCommunity(owner, member, community.id);
		await owner.api.patch(`/api/communities/${community.id}/members/${moderator.user.id}`, { role: 'moderator' });
		return { owner, moderator, member, community };
	}

	const audit = (client: TestClient, communityId: string, query = '') =>
		client.api.get<{ entries: AuditEntryView[] }>(`/api/communities/${communityId}/audit-log${query}`).then((r) => r.entries);

	describe('ban', () => {
		it("drops the community from the banned member's open sockets at once, and they cannot rejoin through an invite", async () => {
			const { owner, moderator, member, community } = await staffed();
			const socket = await member.socket();
			const ban = await expectJson<{ ban: BanView }>(moderator.send('POST', `/api/communities/${community.id}/bans`, { userId: member.user.id, reason: 'spam' }), 201);
			expect(ban.ban).toMatchObject({ user: { id: member.user.id }, reason: 'spam', expiresAt: null, bannedBy: { id: moderator.user.id } });
			expect(await socket.waitFor((f) => f.t === 'directory.changed')).toEqual({ t: 'directory.changed', communityId: community.id, reason: 'community.left' });

			// Nothing said afterwards reaches the banned member's socket.
			await sendMessage(owner, community.generalId, 'after the ban');
			expect(await socket.collectFor(300, (f) => f.t === 'event')).toEqual([]);
			await expectError(member.fetch(`/api/communities/${community.id}`), 404, 'not_found', 'Community was not found.');

			const invite = await createInvite(owner, community.id);
			await expectError(member.send('POST', `/api/invites/${invite.code}/accept`), 403, 'forbidden', 'You are banned from this community.');
			expect((await owner.api.get<{ invites: { code: string; uses: number }[] }>(`/api/communities/${community.id}/invites`)).invites.find((i) => i.code === invite.code)?.uses).toBe(0);
			socket.close();
		});

		it('a lifted ban lets the user rejoin; a ban with an expiry records it', async () => {
			const { owner, moderator, member, community } = await staffed();
			const { ban } = await moderator.api.post<{ ban: BanView }>(`/api/communities/${community.id}/bans`, { userId: member.user.id, reason: 'cool off', expiresInHours: 24 });
			const hoursLeft = (Date.parse(ban.expiresAt!) - Date.now()) / 3_600_000;
			expect(hoursLeft).toBeGreaterThan(23.9);
			expect(hoursLeft).toBeLessThanOrEqual(24);
			expect((await moderator.api.get<{ bans: BanView[] }>(`/api/communities/${community.id}/bans`)).bans.map((b) => b.user.id)).toEqual([member.user.id]);
			await expectJson(moderator.send('DELETE', `/api/communities/${community.id}/bans/${member.user.id}`), 200);
			await joinCommunity(owner, member, community.id);
			expect((await member.api.get<{ community: CommunityView }>(`/api/communities/${community.id}`)).community.role).toBe('member');
		});

		it('an expired ban no longer keeps anyone out', async () => {
			const { owner, moderator, member, community } = await staffed();
			await moderator.api.post(`/api/communities/${community.id}/bans`, { userId: member.user.id, expiresInHours: 1 });
			await withSql(server, (sql) => sql(`update community_bans set expires_at = now() - interval '1 minute' where user_id = $1`, [member.user.id]));
			await joinCommunity(owner, member, community.id);
			expect((await member.api.get<{ community: CommunityView }>(`/api/communities/${community.id}`)).community.role).toBe('member');
		});

		it('refuses to ban the owner, oneself, or staff of the same rank', async () => {
			const { owner, moderator, community } = await staffed();
			const other = await TestClient.signUp(server);
			await joinCommunity(owner, other, community.id);
			await owner.api.patch(`/api/communities/${community.id}/members/${other.user.id}`, { role: 'moderator' });
			await expectError(moderator.send('POST', `/api/communities/${community.id}/bans`, { userId: owner.user.id }), 403, 'forbidden', BELOW_ONLY);
			await expectError(moderator.send('POST', `/api/communities/${community.id}/bans`, { userId: moderator.user.id }), 403, 'forbidden', 'You cannot do that to yourself.');
			await expectError(moderator.send('POST', `/api/communities/${community.id}/bans`, { userId: other.user.id }), 403, 'forbidden', BELOW_ONLY);
		});
	});

	describe('kick', () => {
		it('removes the member from the community and their sockets at once; a new invite brings them back', async () => {
			const { owner, moderator, member, community } = await staffed();
			const socket = await member.socket();
			await expectJson(moderator.send('POST', `/api/communities/${community.id}/members/${member.user.id}/kick`, { reason: 'off-topic' }), 200);
			expect(await socket.waitFor((f) => f.t === 'directory.changed')).toMatchObject({ communityId: community.id, reason: 'community.left' });
			await sendMessage(owner, community.generalId, 'after the kick');
			expect(await socket.collectFor(300, (f) => f.t === 'event')).toEqual([]);
			const resume = await socket.request({ t: 'resume', cursors: [{ channelId: community.generalId, seq: 0 }] });
			expect(resume).toMatchObject({ t: 'ack', result: { inaccessible: [community.generalId] } });
			await joinCommunity(owner, member, community.id);
			socket.close();
		});

		it('answers 404 for someone who is not a member', async () => {
			const { moderator, community } = await staffed();
			const outsider = await TestClient.signUp(server);
			await expectError(moderator.send('POST', `/api/communities/${community.id}/members/${outsider.user.id}/kick`, {}), 404, 'not_found', 'Member was not found.');
		});
	});

	describe('timeout', () => {
		it('refuses the member\'s messages over /ws and REST until it is lifted', async () => {
			const { moderator, member, community } = await staffed();
			const socket = await member.socket();
			const { timedOutUntil } = await moderator.api.post<{ timedOutUntil: string }>(`/api/communities/${community.id}/members/${member.user.id}/timeout`, { minutes: 10, reason: 'heated' });
			const message = `You are timed out in this community until ${timedOutUntil}.`;
			const answer = await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: encodeMessageBody('let me talk') });
			expect(answer).toEqual({ t: 'error', id: expect.any(String), code: 'forbidden', message });
			await expectError(member.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x') }), 403, 'forbidden', message);
			const { members } = await moderator.api.get<{ members: MemberView[] }>(`/api/communities/${community.id}/members`);
			expect(members.find((m) => m.user.id === member.user.id)?.timedOutUntil).toBe(timedOutUntil);

			await moderator.api.post(`/api/communities/${community.id}/members/${member.user.id}/timeout`, { minutes: 0 });
			const ok = await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: encodeMessageBody('thanks') });
			expect(ok).toMatchObject({ t: 'ack', result: { duplicate: false } });
			socket.close();
		});
	});

	describe("deleting others' messages", () => {
		it('is recorded in the audit log with the author as target; deleting one\'s own is not', async () => {
			const { moderator, member, community } = await staffed();
			const theirs = await sendMessage(member, community.generalId, 'rude words');
			const mine = await sendMessage(moderator, community.generalId, 'my own');
			await expectJson(moderator.send('DELETE', `/api/messages/${theirs.id}`), 200);
			await expectJson(moderator.send('DELETE', `/api/messages/${mine.id}`), 200);
			const entries = await audit(moderator, community.id, '?action=message.deleted');
			expect(entries).toEqual([
				expect.objectContaining({ action: 'message.deleted', actor: expect.objectContaining({ id: moderator.user.id }), targetUser: expect.objectContaining({ id: member.user.id }), targetId: theirs.id })
			]);
		});
	});

	describe('channels: slow mode, archive, reorder', () => {
		it('slow mode refuses a second message within the interval; staff are exempt', async () => {
			const { owner, moderator, member, community } = await staffed();
			await expectJson(owner.send('PATCH', `/api/channels/${community.generalId}`, { slowModeSeconds: 60 }), 200);
			await sendMessage(member, community.generalId, 'first');
			const response = await member.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('second') });
			expect(response.status).toBe(429);
			expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/^Slow mode is on: you can send another message here in (59|60) s\.$/);
			await sendMessage(moderator, community.generalId, 'one');
			await sendMessage(moderator, community.generalId, 'two');
		});

		it('an archived channel takes no new messages until restored', async () => {
			const { owner, member, community } = await staffed();
			const { channel } = await owner.api.post<{ channel: { id: string } }>(`/api/communities/${community.id}/channels`, { name: 'old-news' });
			await expectJson(owner.send('PATCH', `/api/channels/${channel.id}`, { archived: true }), 200);
			await expectError(member.send('POST', `/api/channels/${channel.id}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x') }), 403, 'forbidden', 'This channel is archived: it takes no new messages.');
			await expectError(owner.send('PATCH', `/api/channels/${community.generalId}`, { archived: true }), 409, 'conflict', 'The channel that shows who joins and leaves cannot be archived.');
			await expectJson(owner.send('PATCH', `/api/channels/${channel.id}`, { archived: false }), 200);
			await sendMessage(member, channel.id, 'back again');
		});

		it('a channel override makes a read-only channel for members, over REST and /ws; a custom role can be let back in', async () => {
			const { owner, moderator, member, community } = await staffed();
			const { channel } = await owner.api.post<{ channel: { id: string } }>(`/api/communities/${community.id}/channels`, { name: 'announcements' });
			await expectJson(owner.send('PATCH', `/api/channels/${channel.id}`, { permissionOverrides: { member: { allow: [], deny: ['send_messages'] } } }), 200);
			const socket = await member.socket();
			const answer = await socket.request({ t: 'message.send', channelId: channel.id, clientId: newClientId(), payload: encodeMessageBody('me too') });
			expect(answer).toEqual({ t: 'error', id: expect.any(String), code: 'forbidden', message: 'Your role cannot post in this channel.' });
			await expectError(member.send('POST', `/api/channels/${channel.id}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x') }), 403, 'forbidden', 'Your role cannot post in this channel.');
			expect((await member.api.get<{ channel: { canSend: boolean } }>(`/api/channels/${channel.id}`)).channel.canSend).toBe(false);
			expect((await moderator.api.get<{ channel: { canSend: boolean } }>(`/api/channels/${channel.id}`)).channel.canSend).toBe(true);
			await sendMessage(moderator, channel.id, 'news');
			// Members elsewhere are unaffected.
			await sendMessage(member, community.generalId, 'still here');

			const { role } = await owner.api.post<{ role: CustomRoleView }>(`/api/communities/${community.id}/roles`, { name: 'Reporters', permissions: [] });
			await owner.api.patch(`/api/communities/${community.id}/members/${member.user.id}`, { customRoleId: role.id });
			await expectJson(
				owner.send('PATCH', `/api/channels/${channel.id}`, { permissionOverrides: { member: { allow: [], deny: ['send_messages'] }, [role.id]: { allow: ['send_messages'], deny: [] } } }),
				200
			);
			const ok = await socket.request({ t: 'message.send', channelId: channel.id, clientId: newClientId(), payload: encodeMessageBody('my report') });
			expect(ok).toMatchObject({ t: 'ack' });
			await expectError(
				owner.send('PATCH', `/api/channels/${channel.id}`, { permissionOverrides: { admin: { allow: [], deny: ['send_messages'] } } }),
				400,
				'invalid',
				'Overrides apply to moderators, members or a custom role of this community.'
			);
			socket.close();
		});

		it("a channel override can give a custom role \"delete others' messages\" in that channel only", async () => {
			const { owner, member, community } = await staffed();
			const helper = await TestClient.signUp(server);
			await joinCommunity(owner, helper, community.id);
			const { role } = await owner.api.post<{ role: CustomRoleView }>(`/api/communities/${community.id}/roles`, { name: 'Helpers', permissions: [] });
			await owner.api.patch(`/api/communities/${community.id}/members/${helper.user.id}`, { customRoleId: role.id });
			const { channel } = await owner.api.post<{ channel: { id: string } }>(`/api/communities/${community.id}/channels`, { name: 'help' });
			await owner.api.patch(`/api/channels/${channel.id}`, { permissionOverrides: { [role.id]: { allow: ['delete_messages'], deny: [] } } });
			const here = await sendMessage(member, channel.id, 'spam in help');
			const there = await sendMessage(member, community.generalId, 'spam in general');
			await expectJson(helper.send('DELETE', `/api/messages/${here.id}`), 200);
			await expectError(helper.send('DELETE', `/api/messages/${there.id}`), 403, 'forbidden', 'You can only delete your own messages.');
		});

		it('reorders the channels, refusing a list that misses one', async () => {
			const { owner, community } = await staffed();
			const { channel } = await owner.api.post<{ channel: { id: string } }>(`/api/communities/${community.id}/channels`, { name: 'second' });
			const { channels } = await expectJson<{ channels: { id: string; position: number }[] }>(
				owner.send('PUT', `/api/communities/${community.id}/channels/order`, { channelIds: [channel.id, community.generalId] }),
				200
			);
			expect(channels.map((c) => [c.id, c.position])).toEqual([
				[channel.id, 0],
				[community.generalId, 1]
			]);
			await expectError(owner.send('PUT', `/api/communities/${community.id}/channels/order`, { channelIds: [channel.id] }), 400, 'invalid', 'List every channel of the community exactly once.');
		});
	});

	describe('roles', () => {
		it('nobody hands out a role at or above their own, or a custom role with permissions they lack', async () => {
			const { owner, moderator, member, community } = await staffed();
			const admin = await TestClient.signUp(server);
			await joinCommunity(owner, admin, community.id);
			await owner.api.patch(`/api/communities/${community.id}/members/${admin.user.id}`, { role: 'admin' });
			await expectError(admin.send('PATCH', `/api/communities/${community.id}/members/${member.user.id}`, { role: 'admin' }), 403, 'forbidden', 'You can only give roles below your own.');
			await expectError(admin.send('PATCH', `/api/communities/${community.id}/members/${member.user.id}`, { role: 'owner' }), 403, 'forbidden', 'Ownership cannot be given this way.');
			await expectJson(admin.send('PATCH', `/api/communities/${community.id}/members/${member.user.id}`, { role: 'moderator' }), 200);
			// A moderator with "manage roles" from a custom role still cannot grant what they lack.
			const { role } = await owner.api.post<{ role: CustomRoleView }>(`/api/communities/${community.id}/roles`, { name: 'Role keeper', permissions: ['manage_roles'] });
			await owner.api.patch(`/api/communities/${community.id}/members/${moderator.user.id}`, { customRoleId: role.id });
			await expectError(
				moderator.send('POST', `/api/communities/${community.id}/roles`, { name: 'Escalate', permissions: ['manage_channels'] }),
				403,
				'forbidden',
				'You cannot grant permissions you do not have yourself.'
			);
			await expectError(owner.send('POST', `/api/communities/${community.id}/roles`, { name: 'Role keeper', permissions: [] }), 409, 'conflict', 'A role named "Role keeper" already exists here.');
		});
	});

	describe('reports', () => {
		it('a member reports a message with what their device shows; moderators see the queue and resolve it, deleting the message', async () => {
			const { owner, moderator, member, community } = await staffed();
			const offender = await TestClient.signUp(server);
			await joinCommunity(owner, offender, community.id);
			const message = await sendMessage(offender, community.generalId, 'something nasty');
			const { report } = await expectJson<{ report: { id: string } }>(
				member.send('POST', `/api/messages/${message.id}/report`, { reason: 'harassment', forwardedContent: 'something nasty' }),
				201
			);
			await expectError(member.send('POST', `/api/messages/${message.id}/report`, { reason: 'again', forwardedContent: 'x' }), 409, 'conflict', 'You have already reported this message; moderators will look at it.');
			await expectError(offender.send('POST', `/api/messages/${message.id}/report`, { reason: 'me', forwardedContent: 'x' }), 400, 'invalid', 'You cannot report your own message.');
			await expectError(member.fetch(`/api/communities/${community.id}/reports`), 403, 'forbidden', 'You need the "Delete others\' messages" permission in this community to do that.');

			const { reports } = await moderator.api.get<{ reports: ReportView[] }>(`/api/communities/${community.id}/reports?status=open`);
			expect(reports).toEqual([
				expect.objectContaining({
					id: report.id,
					messageId: message.id,
					reporter: expect.objectContaining({ id: member.user.id }),
					author: expect.objectContaining({ id: offender.user.id }),
					reason: 'harassment',
					forwardedContent: 'something nasty',
					status: 'open'
				})
			]);
			await expectJson(moderator.send('POST', `/api/reports/${report.id}/resolve`, { status: 'resolved', deleteMessage: true }), 200);
			await expectError(moderator.send('POST', `/api/reports/${report.id}/resolve`, { status: 'dismissed' }), 409, 'conflict', 'This report was already handled.');
			expect((await moderator.api.get<{ reports: ReportView[] }>(`/api/communities/${community.id}/reports?status=open`)).reports).toEqual([]);
			const { messages } = await owner.api.get<{ messages: { id: string; deletedAt: string | null; payload: string }[] }>(`/api/channels/${community.generalId}/messages`);
			expect(messages.find((m) => m.id === message.id)).toMatchObject({ payload: '', deletedAt: expect.any(String) });
			expect((await audit(owner, community.id, '?action=report.resolved')).map((e) => [e.actor?.id, e.targetUser?.id])).toEqual([[moderator.user.id, offender.user.id]]);
		});
	});

	describe('audit log', () => {
		it('records who did what to whom, filters by action, actor and target, and is refused to members', async () => {
			const { owner, moderator, member, community } = await staffed();
			const other = await TestClient.signUp(server);
			await joinCommunity(owner, other, community.id);
			const before = new Date().toISOString();
			await moderator.api.post(`/api/communities/${community.id}/members/${other.user.id}/kick`, { reason: 'k' });
			await moderator.api.post(`/api/communities/${community.id}/bans`, { userId: member.user.id, reason: 'b' });
			const entries = await audit(owner, community.id);
			expect(entries.slice(0, 2).map((e) => [e.action, e.actor?.id, e.targetUser?.id, e.data.reason])).toEqual([
				['member.banned', moderator.user.id, member.user.id, 'b'],
				['member.kicked', moderator.user.id, other.user.id, 'k']
			]);
			expect(entries.at(-1)).toMatchObject({ action: 'member.role_changed', actor: { id: owner.user.id }, targetUser: { id: moderator.user.id } });
			expect((await audit(owner, community.id, '?action=member.kicked')).map((e) => e.targetUser?.id)).toEqual([other.user.id]);
			expect((await audit(owner, community.id, `?target=${member.user.id}`)).map((e) => e.action)).toEqual(['member.banned']);
			expect((await audit(owner, community.id, `?actor=${owner.user.id}`)).map((e) => e.action)).toEqual(['member.role_changed']);
			expect((await audit(owner, community.id, `?since=${encodeURIComponent(before)}`)).map((e) => e.action)).toEqual(['member.banned', 'member.kicked']);
			await expectError(owner.fetch(`/api/communities/${community.id}/audit-log?since=yesterday`), 400, 'invalid', 'since must be a date and time such as 2026-01-31T12:00:00Z.');
			const plain = await TestClient.signUp(server);
			await joinCommunity(owner, plain, community.id);
			await expectError(plain.fetch(`/api/communities/${community.id}/audit-log`), 403, 'forbidden', 'You need the "View audit log" permission in this community to do that.');
		});

		it('purges entries older than AUDIT_LOG_RETENTION_DAYS', async () => {
			const { owner, moderator, member, community } = await staffed();
			await moderator.api.post(`/api/communities/${community.id}/members/${member.user.id}/kick`, {});
			await withSql(server, (sql) => sql(`update audit_log set created_at = now() - interval '40 days' where community_id = $1 and action = 'member.kicked'`, [community.id]));
			expect((await audit(owner, community.id, '?action=member.kicked')).length).toBe(1);
			// The purge runs at start-up (and hourly).
			await restartServer(server, { AUDIT_LOG_RETENTION_DAYS: '30' });
			expect((await audit(owner, community.id, '?action=member.kicked')).length).toBe(0);
			expect((await audit(owner, community.id, '?action=member.role_changed')).length).toBe(1);
		});
	});
});
