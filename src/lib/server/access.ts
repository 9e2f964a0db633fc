// Authorization in one place. Each access* function returns what the caller may act on or throws;
// a resource the caller may not see answers exactly like a missing one (404), so ids cannot be
// probed. Role requirements are one condition per line.
import { and, eq } from 'drizzle-orm';
import { channelPermissionsOf, PERMISSION_LABELS, permissionsOf, outranks, type CommunityRole, type EffectivePermission, type Permission } from '#lib/shared/permissions.ts';
import type { Executor } from './db/open.ts';
import { channels, communities, communityMembers, communityRoles, dmParticipants, messages } from './db/schema.ts';
import type { ChannelScope } from './events/bus.ts';
import { forbidden, notFound } from './errors.ts';

export type { CommunityRole, Permission };
export type InstanceRole = 'owner' | 'admin' | 'member';
export type CommunityAccess = {
	communityId: string;
	role: CommunityRole;
	permissions: ReadonlySet<Permission>;
	customRoleId: string | null;
	timedOutUntil: Date | null;
	systemChannelId: string | null;
	ownerId: string;
};
export type ChannelRow = typeof channels.$inferSelect;
export type ChannelAccess = {
	channel: ChannelRow;
	scope: ChannelScope;
	/** The caller's role in the channel's community; 'participant' in a DM. */
	role: CommunityRole | 'participant';
	/** The caller's permissions in this channel (community ones after the channel's overrides); none in a DM. */
	permissions: ReadonlySet<EffectivePermission>;
};

/** The membership columns every access check reads: role, custom role permissions, timeout. */
const membership = {
	role: communityMembers.role,
	customRoleId: communityMembers.customRoleId,
	customPermissions: communityRoles.permissions,
	timedOutUntil: communityMembers.timedOutUntil
};

export async function accessCommunity(db: Executor, userId: string, communityId: string): Promise<CommunityAccess> {
	const [row] = await db
		.select({ ...membership, systemChannelId: communities.systemChannelId, ownerId: communities.ownerId })
		.from(communityMembers)
		.innerJoin(communities, eq(communities.id, communityMembers.communityId))
		.leftJoin(communityRoles, eq(communityRoles.id, communityMembers.customRoleId))
		.where(and(eq(communityMembers.communityId, communityId), eq(communityMembers.userId, userId)));
	if (!row) throw notFound('Community');
	return {
		communityId,
		role: row.role,
		permissions: permissionsOf(row.role, row.customPermissions ?? []),
		customRoleId: row.customRoleId,
		timedOutUntil: row.timedOutUntil,
		systemChannelId: row.systemChannelId,
		ownerId: row.ownerId
	};
}

export async function accessChannel(db: Executor, userId: string, channelId: string): Promise<ChannelAccess> {
	const [channel] = await db.select().from(channels).where(eq(channels.id, channelId));
	if (!channel) throw notFound('Channel');
	if (channel.communityId) {
		const [member] = await db
			.select(membership)
			.from(communityMembers)
			.leftJoin(communityRoles, eq(communityRoles.id, communityMembers.customRoleId))
			.where(and(eq(communityMembers.communityId, channel.communityId), eq(communityMembers.userId, userId)));
		if (!member) throw notFound('Channel');
		return {
			channel,
			role: member.role,
			permissions: channelPermissionsOf(member.role, member.customRoleId, permissionsOf(member.role, member.customPermissions ?? []), channel.permissionOverrides),
			scope: { kind: 'community', communityId: channel.communityId }
		};
	}
	const participants = await db
		.select({ userId: dmParticipants.userId })
		.from(dmParticipants)
		.where(eq(dmParticipants.channelId, channelId));
	const userIds = participants.map((p) => p.userId);
	if (!userIds.includes(userId)) throw notFound('Channel');
	return { channel, role: 'participant', permissions: new Set(), scope: { kind: 'dm', userIds } };
}

export async function accessMessage(db: Executor, userId: string, messageId: string) {
	const [message] = await db.select().from(messages).where(eq(messages.id, messageId));
	if (!message) throw notFound('Message');
	let channel: ChannelAccess;
	try {
		channel = await accessChannel(db, userId, message.channelId);
	} catch {
		throw notFound('Message');
	}
	return { message, channel };
}

/** The refusal every permission check gives, naming the permission so people know what to ask for. */
export function missingPermission(permission: Permission) {
	return forbidden(`You need the "${PERMISSION_LABELS[permission].label}" permission in this community to do that.`);
}

/** One permission of the caller's community roles (built-in plus custom). */
export function requirePermission(access: { permissions: ReadonlySet<EffectivePermission> }, permission: Permission): void {
	if (access.permissions.has(permission)) return;
	throw missingPermission(permission);
}

export function requireCommunityOwner(access: { role: CommunityRole | 'participant' }): void {
	if (access.role === 'owner') return;
	throw forbidden('Only the owner of this community can do that.');
}

/** Moderation reaches only members the caller outranks (never themselves, never the owner). */
export function requireOutranks(actor: { role: CommunityRole }, actorId: string, target: { role: CommunityRole; userId: string }): void {
	if (target.userId === actorId) throw forbidden('You cannot do that to yourself.');
	if (outranks(actor.role, target.role)) return;
	throw forbidden('You can only do that to members below your role.');
}

/** Authors may edit their own messages; nobody edits someone else's words. */
export function requireAuthor(message: { authorId: string }, userId: string): void {
	if (message.authorId === userId) return;
	throw forbidden('You can only edit your own messages.');
}

/** Authors delete their own messages; "delete messages" allows deleting anyone's in the community. */
export function requireCanDelete(message: { authorId: string }, userId: string, access: ChannelAccess): void {
	if (message.authorId === userId) return;
	if (access.permissions.has('delete_messages')) return;
	throw forbidden('You can only delete your own messages.');
}

/**
 * Pinning changes what everyone in the channel finds first: "pin messages" in a community (after
 * the channel's overrides), either person in a DM; never in an archived (read-only) channel.
 */
export function requireCanPin(access: ChannelAccess): void {
	if (access.channel.archivedAt) throw forbidden('This channel is archived: its pins cannot change.');
	if (access.scope.kind === 'dm') return;
	if (access.permissions.has('pin_messages')) return;
	throw missingPermission('pin_messages');
}

export const GUESTS_REFUSED = 'Guests cannot do that. Create an account to start communities, direct messages or invites.';

/** Guests take part in the communities they were invited to; they start nothing themselves. */
export function requireFullAccount(user: { guest: boolean }): void {
	if (user.guest) throw forbidden(GUESTS_REFUSED);
}

export function requireInstanceAdmin(user: { instanceRole: InstanceRole }): void {
	if (user.instanceRole === 'owner') return;
	if (user.instanceRole === 'admin') return;
	throw forbidden('Only instance owners and admins can do that.');
}
