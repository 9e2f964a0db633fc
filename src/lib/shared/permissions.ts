// Community permissions: what each built-in role may do, what a custom role can grant, and who may
// act on whom. Shared so the UI hides what a role cannot do; the server is the authority and checks
// every operation with the same tables (src/lib/server/access.ts).

export const PERMISSIONS = [
	'manage_community',
	'manage_channels',
	'manage_roles',
	'manage_invites',
	'kick',
	'ban',
	'timeout',
	'delete_messages',
	'pin_messages',
	'mention_everyone',
	'view_audit_log'
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const PERMISSION_LABELS: Record<Permission, { label: string; hint: string }> = {
	manage_community: { label: 'Manage community', hint: 'Change the name and description.' },
	manage_channels: { label: 'Manage channels', hint: 'Create, rename, reorder and archive channels; set slow mode.' },
	manage_roles: { label: 'Manage roles', hint: 'Create custom roles and give members roles below their own.' },
	manage_invites: { label: 'Manage invites', hint: "See and revoke everyone's invite links." },
	kick: { label: 'Kick members', hint: 'Remove a member; they can come back with a new invite.' },
	ban: { label: 'Ban members', hint: 'Remove a member and keep them out, for a while or for good.' },
	timeout: { label: 'Time out members', hint: 'Stop a member from sending messages for a while.' },
	delete_messages: { label: "Delete others' messages", hint: 'Remove any message, and handle reported messages.' },
	pin_messages: { label: 'Pin messages', hint: "Pin and unpin messages in the channels' pinned lists." },
	mention_everyone: { label: 'Mention everyone', hint: 'Use @everyone to notify the whole community.' },
	view_audit_log: { label: 'View audit log', hint: 'See who did what in the community settings.' }
};

export const BUILT_IN_ROLES = ['owner', 'admin', 'moderator', 'member'] as const;
export type CommunityRole = (typeof BUILT_IN_ROLES)[number];

export const ROLE_LABELS: Record<CommunityRole, string> = { owner: 'Owner', admin: 'Admin', moderator: 'Moderator', member: 'Member' };

const MODERATION: readonly Permission[] = ['kick', 'ban', 'timeout', 'delete_messages', 'pin_messages', 'view_audit_log', 'mention_everyone'];

export const ROLE_PERMISSIONS: Record<CommunityRole, readonly Permission[]> = {
	owner: PERMISSIONS,
	admin: PERMISSIONS,
	moderator: MODERATION,
	member: []
};

/** Higher outranks lower. Custom roles add permissions but never rank. */
export const ROLE_RANK: Record<CommunityRole, number> = { owner: 3, admin: 2, moderator: 1, member: 0 };

/** A member's effective permissions: their built-in role's plus their custom role's. */
export function permissionsOf(role: CommunityRole, customPermissions: readonly string[] = []): Set<Permission> {
	const set = new Set<Permission>(ROLE_PERMISSIONS[role]);
	for (const p of customPermissions) if ((PERMISSIONS as readonly string[]).includes(p)) set.add(p as Permission);
	return set;
}

/**
 * Whether an actor may moderate (kick, ban, time out, change the role of) a target: never
 * themselves, never the owner, and staff (moderators and up) only from a higher rank. A member
 * whose custom role grants "kick" may therefore remove other members but not a moderator.
 */
export function outranks(actor: CommunityRole, target: CommunityRole): boolean {
	if (target === 'owner') return false;
	if (target === 'member') return true;
	return ROLE_RANK[actor] > ROLE_RANK[target];
}

/** Built-in roles the actor may hand out: those strictly below their own (nobody hands out "owner"). */
export function assignableRoles(actor: CommunityRole): CommunityRole[] {
	return BUILT_IN_ROLES.filter((r) => r !== 'owner' && ROLE_RANK[r] < ROLE_RANK[actor]);
}

// --- Per-channel overrides -----------------------------------------------------------------------

/**
 * What a channel can allow or deny per role. Sending is allowed to every member by default (it is
 * not a community permission); denying it to "member" makes a read-only channel such as
 * #announcements.
 */
export const CHANNEL_PERMISSIONS = ['send_messages', 'delete_messages', 'mention_everyone'] as const;
export type ChannelPermission = (typeof CHANNEL_PERMISSIONS)[number];
export type EffectivePermission = Permission | 'send_messages';

/** Keyed by 'moderator', 'member', or a custom role's id. Owners and admins are never overridden. */
export type ChannelOverrides = Record<string, { allow: ChannelPermission[]; deny: ChannelPermission[] }>;
export const OVERRIDABLE_ROLES = ['moderator', 'member'] as const;

/**
 * A member's permissions in one channel: the community's, plus sending, then the override for
 * their built-in role, then the one for their custom role (the more specific one wins). Within one
 * override, allow wins over deny.
 */
export function channelPermissionsOf(
	role: CommunityRole,
	customRoleId: string | null,
	communityPermissions: ReadonlySet<Permission>,
	overrides: ChannelOverrides
): Set<EffectivePermission> {
	const set = new Set<EffectivePermission>([...communityPermissions, 'send_messages']);
	if (role === 'owner' || role === 'admin') return set;
	for (const key of [role, customRoleId]) {
		const override = key ? overrides[key] : undefined;
		if (!override) continue;
		for (const p of override.deny) set.delete(p);
		for (const p of override.allow) set.add(p);
	}
	return set;
}
