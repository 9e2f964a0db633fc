// The permission matrix: every permission-guarded operation, tried by each built-in role and by a
// member whose custom role grants exactly that permission (or everything but it). Allowed where the
// role has the permission, refused with 403 naming it where it does not, over REST and /ws.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, uniqueName, type TestSocket } from '../helpers/clients.ts';
import { createCommunity, createInvite, joinCommunity, newClientId, sendMessage, type Community } from '../helpers/fixtures.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import type { CustomRoleView } from '#lib/shared/api-types.ts';
import { PERMISSION_LABELS, PERMISSIONS, ROLE_PERMISSIONS, type Permission } from '#lib/shared/permissions.ts';

const skip = postgresUnavailableReason();

type Actor = 'owner' | 'admin' | 'moderator' | 'member' | 'custom (only it)' | 'custom (all but it)';
type Ctx = { server: TestServer; community: Community; owner: TestClient; actor: TestClient; actorSocket: TestSocket };

/** One guarded operation per permission; resolves with the response of the attempt. */
const operations: Record<Permission, (ctx: Ctx) => Promise<Response>> = {
	manage_community: ({ community, actor }) => actor.send('PATCH', `/api/communities/${community.id}`, { description: `changed ${uniqueName()}` }),
	manage_channels: ({ community, actor }) => actor.send('POST', `/api/communities/${community.id}/channels`, { name: uniqueName('ch') }),
	manage_roles: ({ community, actor }) => actor.send('POST', `/api/communities/${community.id}/roles`, { name: uniqueName('role'), permissions: [] }),
	manage_invites: async ({ community, owner, actor }) => {
		const invite = await createInvite(owner, community.id);
		return actor.send('DELETE', `/api/invites/${invite.code}`);
	},
	kick: async (ctx) => ctx.actor.send('POST', `/api/communities/${ctx.community.id}/members/${(await freshMember(ctx)).user.id}/kick`, { reason: 'matrix' }),
	ban: async (ctx) => ctx.actor.send('POST', `/api/communities/${ctx.community.id}/bans`, { userId: (await freshMember(ctx)).user.id, reason: 'matrix' }),
	timeout: async (ctx) => ctx.actor.send('POST', `/api/communities/${ctx.community.id}/members/${(await freshMember(ctx)).user.id}/timeout`, { minutes: 10 }),
	delete_messages: async (ctx) => {
		const author = await freshMember(ctx);
		const message = await sendMessage(author, ctx.community.generalId, 'to be moderated');
		return ctx.actor.send('DELETE', `/api/messages/${message.id}`);
	},
	pin_messages: async (ctx) => {
		const author = await freshMember(ctx);
		const message = await sendMessage(author, ctx.community.generalId, 'worth pinning');
		return ctx.actor.send('PUT', `/api/messages/${message.id}/pin`);
	},
	view_audit_log: ({ community, actor }) => actor.fetch(`/api/communities/${community.id}/audit-log`),
	// The routing field beside the ciphertext is what the server can check (the text it cannot read).
	mention_everyone: ({ community, actor }) =>
		actor.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('@everyone hello'), mentions: { everyone: true } })
};

async function freshMember(ctx: Ctx): Promise<TestClient> {
	const member = await TestClient.signUp(ctx.server);
	await joinCommunity(ctx.owner, member, ctx.community.id);
	return member;
}

const refusal = (permission: Permission) => ({
	error: {
		code: 'forbidden',
		// Deleting is also what authors do to their own messages; the refusal says that.
		message:
			permission === 'delete_messages'
				? 'You can only delete your own messages.'
				: `You need the "${PERMISSION_LABELS[permission].label}" permission in this community to do that.`
	}
});

describe.skipIf(skip)('permission matrix', () => {
	let db: TestDatabase;
	let server: TestServer;
	let owner: TestClient;
	let community: Community;
	let customRole: CustomRoleView;
	let inverseRoleId: string;
	const clients = {} as Record<Actor, TestClient>;
	const sockets = {} as Record<Actor, TestSocket>;

	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
		await TestClient.signUp(server); // the instance owner, kept out of the community
		owner = await TestClient.signUp(server);
		community = await createCommunity(owner, 'Matrix');
		clients.owner = owner;
		for (const name of ['admin', 'moderator', 'member', 'custom (only it)', 'custom (all but it)'] as const) {
			clients[name] = await TestClient.signUp(server);
			await joinCommunity(owner, clients[name], community.id);
		}
		await owner.api.patch(`/api/communities/${community.id}/members/${clients.admin.user.id}`, { role: 'admin' });
		await owner.api.patch(`/api/communities/${community.id}/members/${clients.moderator.user.id}`, { role: 'moderator' });
		({ role: customRole } = await owner.api.post<{ role: CustomRoleView }>(`/api/communities/${community.id}/roles`, { name: 'Custom', permissions: [] }));
		await owner.api.patch(`/api/communities/${community.id}/members/${clients['custom (only it)'].user.id}`, { customRoleId: customRole.id });
		const { role: inverse } = await owner.api.post<{ role: CustomRoleView }>(`/api/communities/${community.id}/roles`, { name: 'Inverse', permissions: [] });
		await owner.api.patch(`/api/communities/${community.id}/members/${clients['custom (all but it)'].user.id}`, { customRoleId: inverse.id });
		inverseRoleId = inverse.id;
		for (const name of Object.keys(clients) as Actor[]) sockets[name] = await clients[name].socket();
	});
	afterAll(async () => {
		for (const socket of Object.values(sockets)) socket.close();
		await server?.stop();
		await db?.drop();
	});

	/** Whether `actor` should hold `permission` (custom roles are set just before each check). */
	const holds = (actor: Actor, permission: Permission): boolean => {
		if (actor === 'custom (only it)') return true;
		if (actor === 'custom (all but it)') return false;
		return ROLE_PERMISSIONS[actor].includes(permission);
	};

	for (const [permission, operation] of Object.entries(operations) as [Permission, (ctx: Ctx) => Promise<Response>][]) {
		describe(permission, () => {
			beforeAll(async () => {
				// The custom roles change under the members' feet: permissions apply on the next request.
				await owner.api.patch(`/api/communities/${community.id}/roles/${customRole.id}`, { permissions: [permission] });
				await owner.api.patch(`/api/communities/${community.id}/roles/${inverseRoleId}`, { permissions: PERMISSIONS.filter((p) => p !== permission) });
			});
			for (const actor of ['owner', 'admin', 'moderator', 'member', 'custom (only it)', 'custom (all but it)'] as const) {
				const allowed = holds(actor, permission);
				it(`${actor}: ${allowed ? 'allowed' : 'refused with 403'}`, async () => {
					const response = await operation({ server, community, owner, actor: clients[actor], actorSocket: sockets[actor] });
					const text = await response.text();
					if (allowed) expect(response.status, text).toBeLessThan(300);
					else expect({ status: response.status, body: JSON.parse(text) }).toEqual({ status: 403, body: refusal(permission) });
				});
			}
		});
	}

	describe("delete_messages over /ws (message.delete on someone else's message)", () => {
		beforeAll(async () => {
			await owner.api.patch(`/api/communities/${community.id}/roles/${customRole.id}`, { permissions: ['delete_messages'] });
			await owner.api.patch(`/api/communities/${community.id}/roles/${inverseRoleId}`, { permissions: PERMISSIONS.filter((p) => p !== 'delete_messages') });
		});
		for (const actor of ['owner', 'admin', 'moderator', 'member', 'custom (only it)', 'custom (all but it)'] as const) {
			const allowed = holds(actor, 'delete_messages');
			it(`${actor}: ${allowed ? 'acked' : 'forbidden'}`, async () => {
				const author = await freshMember({ server, community, owner, actor: clients[actor], actorSocket: sockets[actor] });
				const message = await sendMessage(author, community.generalId, 'moderate me over ws');
				const answer = await sockets[actor].request({ t: 'message.delete', messageId: message.id });
				if (allowed) expect(answer).toEqual({ t: 'ack', id: expect.any(String), result: { seq: expect.any(Number) } });
				else expect(answer).toEqual({ t: 'error', id: expect.any(String), code: 'forbidden', message: 'You can only delete your own messages.' });
			});
		}
	});

	describe('pin_messages over /ws (message.pin and message.unpin)', () => {
		beforeAll(async () => {
			await owner.api.patch(`/api/communities/${community.id}/roles/${customRole.id}`, { permissions: ['pin_messages'] });
			await owner.api.patch(`/api/communities/${community.id}/roles/${inverseRoleId}`, { permissions: PERMISSIONS.filter((p) => p !== 'pin_messages') });
		});
		for (const actor of ['owner', 'admin', 'moderator', 'member', 'custom (only it)', 'custom (all but it)'] as const) {
			const allowed = holds(actor, 'pin_messages');
			it(`${actor}: ${allowed ? 'acked' : 'forbidden'}`, async () => {
				const message = await sendMessage(owner, community.generalId, 'pin me over ws');
				const refused = { t: 'error', id: expect.any(String), code: 'forbidden', message: refusal('pin_messages').error.message };
				const pin = await sockets[actor].request({ t: 'message.pin', messageId: message.id });
				if (allowed) expect(pin).toEqual({ t: 'ack', id: expect.any(String), result: { seq: expect.any(Number) } });
				else expect(pin).toEqual(refused);
				// Unpinning needs the same permission (the owner pins it first for those refused).
				if (!allowed) await owner.api.put(`/api/messages/${message.id}/pin`, {});
				const unpin = await sockets[actor].request({ t: 'message.unpin', messageId: message.id });
				if (allowed) expect(unpin).toEqual({ t: 'ack', id: expect.any(String), result: { seq: expect.any(Number) } });
				else expect(unpin).toEqual(refused);
			});
		}
	});

	it('every permission has an operation in this matrix', () => {
		expect(Object.keys(operations).sort()).toEqual([...PERMISSIONS].sort());
	});

	it("the community view lists the caller's permissions, custom role included", async () => {
		await owner.api.patch(`/api/communities/${community.id}/roles/${customRole.id}`, { permissions: ['kick', 'timeout'] });
		const { community: seen } = await clients['custom (only it)'].api.get<{ community: { role: string; permissions: string[] } }>(`/api/communities/${community.id}`);
		expect(seen).toMatchObject({ role: 'member', permissions: ['kick', 'timeout'] });
		const { community: mod } = await clients.moderator.api.get<{ community: { role: string; permissions: string[] } }>(`/api/communities/${community.id}`);
		expect(mod).toMatchObject({ role: 'moderator', permissions: ['kick', 'ban', 'timeout', 'delete_messages', 'pin_messages', 'mention_everyone', 'view_audit_log'] });
	});
});
