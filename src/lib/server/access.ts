// Authorization in one place. Each access* function returns what the caller may act on or throws;
// a resource the caller may not see answers exactly like a missing one (404), so ids cannot be
// probed. Role requirements are one condition per line.
import { and, eq } from 'drizzle-orm';
import type { Executor } from './db/open.ts';
import { channels, communities, communityMembers, dmParticipants, messages } from './db/schema.ts';
import type { ChannelScope } from './events/bus.ts';
import { forbidden, notFound } from './errors.ts';

export type CommunityRole = 'owner' | 'admin' | 'member';
export type CommunityAccess = { communityId: string; role: CommunityRole; systemChannelId: string | null; ownerId: string };
export type ChannelRow = typeof channels.$inferSelect;
export type ChannelAccess = {
	channel: ChannelRow;
	scope: ChannelScope;
	/** The caller's role in the channel's community; 'participant' in a DM. */
	role: CommunityRole | 'participant';
};

export async function accessCommunity(db: Executor, userId: string, communityId: string): Promise<CommunityAccess> {
	const [row] = await db
		.select({
			role: communityMembers.role,
			systemChannelId: communities.systemChannelId,
			ownerId: communities.ownerId
		})
		.from(communityMembers)
		.innerJoin(communities, eq(communities.id, communityMembers.communityId))
		.where(and(eq(communityMembers.communityId, communityId), eq(communityMembers.userId, userId)));
	if (!row) throw notFound('Community');
	return { communityId, ...row };
}

export async function accessChannel(db: Executor, userId: string, channelId: string): Promise<ChannelAccess> {
	const [channel] = await db.select().from(channels).where(eq(channels.id, channelId));
	if (!channel) throw notFound('Channel');
	if (channel.communityId) {
		const [member] = await db
			.select({ role: communityMembers.role })
			.from(communityMembers)
			.where(and(eq(communityMembers.communityId, channel.communityId), eq(communityMembers.userId, userId)));
		if (!member) throw notFound('Channel');
		return { channel, role: member.role, scope: { kind: 'community', communityId: channel.communityId } };
	}
	const participants = await db
		.select({ userId: dmParticipants.userId })
		.from(dmParticipants)
		.where(eq(dmParticipants.channelId, channelId));
	const userIds = participants.map((p) => p.userId);
	if (!userIds.includes(userId)) throw notFound('Channel');
	return { channel, role: 'participant', scope: { kind: 'dm', userIds } };
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

/** Owners and admins manage a community: channels, settings, invites list, moderation. */
export function requireCommunityManager(access: { role: CommunityRole | 'participant' }): void {
	if (access.role === 'owner') return;
	if (access.role === 'admin') return;
	throw forbidden('Only owners and admins of this community can do that.');
}

export function requireCommunityOwner(access: { role: CommunityRole | 'participant' }): void {
	if (access.role === 'owner') return;
	throw forbidden('Only the owner of this community can do that.');
}

/** Authors may edit their own messages; nobody edits someone else's words. */
export function requireAuthor(message: { authorId: string }, userId: string): void {
	if (message.authorId === userId) return;
	throw forbidden('You can only edit your own messages.');
}

/** Authors delete their own messages; community owners and admins may delete any in their community. */
export function requireCanDelete(message: { authorId: string }, userId: string, access: ChannelAccess): void {
	if (message.authorId === userId) return;
	if (access.role === 'owner') return;
	if (access.role === 'admin') return;
	throw forbidden('You can only delete your own messages.');
}

export function requireInstanceAdmin(user: { instanceRole: 'owner' | 'admin' | 'member' }): void {
	if (user.instanceRole === 'owner') return;
	if (user.instanceRole === 'admin') return;
	throw forbidden('Only instance owners and admins can do that.');
}
