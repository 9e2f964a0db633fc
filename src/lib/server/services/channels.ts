// Text channels of communities and one-to-one direct-message channels, listed with the caller's
// read marker and unread count.
import { and, asc, eq, gt, inArray, isNull, ne, or, sql } from 'drizzle-orm';
import type { ChannelView, UserView } from '#lib/shared/protocol/frames.ts';
import type { Database, Executor, Transaction } from '../db/open.ts';
import { channels, communities, communityMembers, communityRoles, dmParticipants, messages, readStates, userBlocks, users } from '../db/schema.ts';
import type { EventBus } from '../events/bus.ts';
import { channelPermissionsOf, OVERRIDABLE_ROLES, type ChannelOverrides, type EffectivePermission } from '#lib/shared/permissions.ts';
import { accessChannel, accessCommunity, requirePermission, type CommunityAccess } from '../access.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import { recordAudit } from './audit-log.ts';
import { profileColumns, profileExtras } from './profiles.ts';

type ChannelRow = typeof channels.$inferSelect;

// Unread counts are exact up to this many, then shown as "999+": counting a huge backlog on every
// sidebar load would cost more than the number is worth.
export const UNREAD_COUNT_CAP = 999;

type ReadInfo = { lastReadSeq: number; unreadCount: number; mentionCount: number };

/** Read markers, unread counts and unread mentions (by the routing field) of `userId` for the given channels. */
async function readInfo(db: Executor, userId: string, channelRows: ChannelRow[]) {
	const ids = channelRows.map((c) => c.id);
	const result = new Map<string, ReadInfo>();
	if (ids.length === 0) return result;
	const markers = await db
		.select({ channelId: readStates.channelId, lastReadSeq: readStates.lastReadSeq })
		.from(readStates)
		.where(and(eq(readStates.userId, userId), inArray(readStates.channelId, ids)));
	const markerBy = new Map(markers.map((m) => [m.channelId, m.lastReadSeq]));
	const behind = channelRows.filter((c) => c.lastSeq > (markerBy.get(c.id) ?? 0));
	const counts = new Map<string, { unread: number; mentions: number }>();
	// One bounded count per channel that has anything new; channels fully read cost nothing.
	// `users` holds lowercase ids (normalizeMentions); everyone/here count for every reader.
	// Mentions by someone the reader blocked do not count.
	const mentioned = sql`(${messages.mentions} -> 'users' @> ${JSON.stringify([userId.toLowerCase()])}::jsonb or ${messages.mentions} ?| array['everyone', 'here']) and not exists (select 1 from ${userBlocks} where ${userBlocks.blockerId} = ${userId} and ${userBlocks.blockedId} = ${messages.authorId})`;
	await Promise.all(
		behind.map(async (c) => {
			const [row] = await db
				.select({ count: sql<number>`count(*)::int`, mentions: sql<number>`count(*) filter (where unread.mentioned)::int` })
				.from(
					db
						.select({ mentioned: sql<boolean>`${mentioned}`.as('mentioned') })
						.from(messages)
						.where(
							and(
								eq(messages.channelId, c.id),
								gt(messages.seq, markerBy.get(c.id) ?? 0),
								ne(messages.authorId, userId),
								isNull(messages.deletedAt),
								// Thread replies count only when they mention the reader (threads have their own markers).
								or(isNull(messages.threadRootId), mentioned)
							)
						)
						.limit(UNREAD_COUNT_CAP + 1)
						.as('unread')
				);
			counts.set(c.id, { unread: row?.count ?? 0, mentions: row?.mentions ?? 0 });
		})
	);
	for (const c of channelRows) {
		const count = counts.get(c.id);
		result.set(c.id, { lastReadSeq: markerBy.get(c.id) ?? 0, unreadCount: count?.unread ?? 0, mentionCount: count?.mentions ?? 0 });
	}
	return result;
}

/** Whether someone with these channel permissions may post in the channel now. */
function canSendIn(row: ChannelRow, permissions: ReadonlySet<EffectivePermission> | null): boolean {
	if (row.archivedAt) return false;
	return permissions === null || permissions.has('send_messages');
}

function toView(
	row: ChannelRow,
	read: ReadInfo | undefined,
	peer: UserView | null,
	canSend: boolean
): ChannelView {
	return {
		id: row.id,
		communityId: row.communityId,
		kind: row.kind,
		name: row.name,
		topic: row.topic,
		position: row.position,
		slowModeSeconds: row.slowModeSeconds,
		disappearingSeconds: row.disappearingSeconds,
		archived: row.archivedAt !== null,
		permissionOverrides: row.permissionOverrides,
		canSend,
		lastSeq: row.lastSeq,
		lastReadSeq: read?.lastReadSeq ?? 0,
		unreadCount: read?.unreadCount ?? 0,
		mentionCount: read?.mentionCount ?? 0,
		peer
	};
}

/**
 * Serialises channel creation and renaming within a community: the "is this name free?" check and
 * the write must not interleave with another request's, or both see the name free and both write.
 */
async function lockCommunity(tx: Transaction, communityId: string): Promise<void> {
	await tx.select({ id: communities.id }).from(communities).where(eq(communities.id, communityId)).for('update');
}

/** Overrides name 'moderator', 'member' or a custom role of this community; nothing else. */
async function checkOverrideTargets(tx: Transaction, communityId: string, overrides: ChannelOverrides): Promise<void> {
	const roleIds = Object.keys(overrides).filter((key) => !(OVERRIDABLE_ROLES as readonly string[]).includes(key));
	if (roleIds.length === 0) return;
	const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
	if (!roleIds.every((id) => uuid.test(id))) throw invalid('Overrides apply to moderators, members or a custom role of this community.');
	const found = await tx
		.select({ id: communityRoles.id })
		.from(communityRoles)
		.where(and(eq(communityRoles.communityId, communityId), inArray(communityRoles.id, roleIds)));
	if (found.length !== roleIds.length) throw invalid('Overrides apply to moderators, members or a custom role of this community.');
}

export class Channels {
	#db: Database;
	#bus: EventBus;

	constructor(deps: { db: Database; bus: EventBus }) {
		this.#db = deps.db;
		this.#bus = deps.bus;
	}

	async listForCommunity(userId: string, communityId: string): Promise<ChannelView[]> {
		const access = await accessCommunity(this.#db, userId, communityId);
		const rows = await this.#db
			.select()
			.from(channels)
			.where(eq(channels.communityId, communityId))
			.orderBy(asc(channels.position), asc(channels.createdAt));
		const read = await readInfo(this.#db, userId, rows);
		return rows.map((row) => toView(row, read.get(row.id), null, canSendIn(row, this.#permissionsIn(row, access))));
	}

	async get(userId: string, channelId: string): Promise<ChannelView> {
		const access = await accessChannel(this.#db, userId, channelId);
		const read = await readInfo(this.#db, userId, [access.channel]);
		let peer: UserView | null = null;
		if (access.scope.kind === 'dm') peer = await this.#peer(channelId, userId);
		return toView(access.channel, read.get(channelId), peer, canSendIn(access.channel, access.permissions));
	}

	#permissionsIn(row: ChannelRow, access: CommunityAccess): ReadonlySet<EffectivePermission> {
		return channelPermissionsOf(access.role, access.customRoleId, access.permissions, row.permissionOverrides);
	}

	async create(userId: string, communityId: string, input: { name: string; topic: string; kind?: 'text' | 'voice' }): Promise<ChannelView> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'manage_channels');
		const row = await this.#db.transaction(async (tx) => {
			await lockCommunity(tx, communityId);
			const [dup] = await tx
				.select({ id: channels.id })
				.from(channels)
				.where(and(eq(channels.communityId, communityId), eq(channels.name, input.name)));
			if (dup) throw conflict(`A channel named #${input.name} already exists here.`);
			const [max] = await tx
				.select({ position: sql<number>`coalesce(max(${channels.position}), -1)::int` })
				.from(channels)
				.where(eq(channels.communityId, communityId));
			const [created] = await tx
				.insert(channels)
				.values({
					id: crypto.randomUUID(),
					communityId,
					kind: input.kind ?? 'text',
					name: input.name,
					topic: input.topic,
					position: (max?.position ?? -1) + 1
				})
				.returning();
			await recordAudit(tx, { communityId, actorId: userId, action: 'channel.created', targetId: created!.id, data: { name: input.name } });
			return created!;
		});
		this.#bus.publish([{ type: 'channel.changed', communityId, channelId: row.id, change: 'created' }]);
		return toView(row, undefined, null, canSendIn(row, this.#permissionsIn(row, access)));
	}

	async update(
		userId: string,
		channelId: string,
		change: { name?: string; topic?: string; slowModeSeconds?: number; archived?: boolean; permissionOverrides?: ChannelOverrides }
	): Promise<ChannelView> {
		const access = await accessChannel(this.#db, userId, channelId);
		if (access.scope.kind !== 'community') throw invalid('Direct messages have no name or topic to change.');
		requirePermission(access, 'manage_channels');
		const { archived, ...rest } = change;
		const input: Partial<typeof channels.$inferInsert> = { ...rest };
		if (archived !== undefined && archived !== (access.channel.archivedAt !== null)) input.archivedAt = archived ? new Date() : null;
		const communityId = access.scope.communityId;
		// An empty change is a no-op (drizzle refuses an UPDATE without values).
		if (Object.keys(input).length === 0) {
			const read = await readInfo(this.#db, userId, [access.channel]);
			return toView(access.channel, read.get(channelId), null, canSendIn(access.channel, access.permissions));
		}
		const [row] = await this.#db.transaction(async (tx) => {
			await lockCommunity(tx, communityId);
			if (input.name && input.name !== access.channel.name) {
				const [dup] = await tx
					.select({ id: channels.id })
					.from(channels)
					.where(and(eq(channels.communityId, communityId), eq(channels.name, input.name)));
				if (dup) throw conflict(`A channel named #${input.name} already exists here.`);
			}
			if (input.permissionOverrides) await checkOverrideTargets(tx, communityId, input.permissionOverrides);
			if (input.archivedAt) {
				const [community] = await tx.select({ systemChannelId: communities.systemChannelId }).from(communities).where(eq(communities.id, communityId));
				if (community?.systemChannelId === channelId) throw conflict('The channel that shows who joins and leaves cannot be archived.');
			}
			const updated = await tx.update(channels).set(input).where(eq(channels.id, channelId)).returning();
			const action = input.archivedAt === undefined ? 'channel.updated' : input.archivedAt ? 'channel.archived' : 'channel.unarchived';
			await recordAudit(tx, { communityId, actorId: userId, action, targetId: channelId, data: { name: updated[0]!.name, ...rest } });
			return updated;
		});
		this.#bus.publish([{ type: 'channel.changed', communityId, channelId, change: 'updated' }]);
		const read = await readInfo(this.#db, userId, [row!]);
		// The caller manages channels, so overrides (which never apply to admins) rarely matter; the
		// next fetch computes them exactly.
		return toView(row!, read.get(channelId), null, canSendIn(row!, access.permissions));
	}

	/** Puts the community's channels in the given order (every channel exactly once). */
	async reorder(userId: string, communityId: string, channelIds: string[]): Promise<ChannelView[]> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'manage_channels');
		await this.#db.transaction(async (tx) => {
			await lockCommunity(tx, communityId);
			const existing = await tx.select({ id: channels.id }).from(channels).where(eq(channels.communityId, communityId));
			const ids = new Set(existing.map((c) => c.id));
			if (channelIds.length !== ids.size || new Set(channelIds).size !== ids.size || !channelIds.every((id) => ids.has(id))) {
				throw invalid("List every channel of the community exactly once.");
			}
			for (const [position, id] of channelIds.entries()) {
				await tx.update(channels).set({ position }).where(eq(channels.id, id));
			}
			await recordAudit(tx, { communityId, actorId: userId, action: 'channels.reordered', data: { channelIds } });
		});
		this.#bus.publish([{ type: 'channel.changed', communityId, channelId: channelIds[0]!, change: 'updated' }]);
		return this.listForCommunity(userId, communityId);
	}

	async listDms(userId: string): Promise<ChannelView[]> {
		const rows = await this.#db
			.select({ channel: channels })
			.from(dmParticipants)
			.innerJoin(channels, eq(channels.id, dmParticipants.channelId))
			.where(eq(dmParticipants.userId, userId))
			.orderBy(asc(channels.createdAt));
		const channelRows = rows.map((r) => r.channel);
		const [read, peers] = await Promise.all([readInfo(this.#db, userId, channelRows), this.#peers(channelRows.map((c) => c.id), userId)]);
		return channelRows.map((row) => toView(row, read.get(row.id), peers.get(row.id) ?? null, true));
	}

	/**
	 * Opens (or creates) the DM channel between two users. Strangers cannot message each other:
	 * the two must share at least one community, which keeps spam to people you chose to join.
	 */
	async openDm(userId: string, otherUserId: string): Promise<ChannelView> {
		if (otherUserId === userId) throw invalid('You cannot start a conversation with yourself.');
		const [otherRow] = await this.#db
			.select({ id: users.id, username: users.username, displayName: users.displayName, ...profileColumns })
			.from(users)
			.where(eq(users.id, otherUserId));
		const other = otherRow && { id: otherRow.id, username: otherRow.username, displayName: otherRow.displayName, ...profileExtras(otherRow.id, otherRow) };
		if (!other) throw notFound('User');
		const [shared] = await this.#db
			.select({ communityId: communityMembers.communityId })
			.from(communityMembers)
			.where(
				and(
					eq(communityMembers.userId, userId),
					inArray(
						communityMembers.communityId,
						this.#db.select({ id: communityMembers.communityId }).from(communityMembers).where(eq(communityMembers.userId, otherUserId))
					)
				)
			)
			.limit(1);
		if (!shared) throw notFound('User');
		const dmKey = [userId, otherUserId].sort().join(':');
		const { channel, created } = await this.#db.transaction(async (tx) => {
			const [existing] = await tx.select().from(channels).where(eq(channels.dmKey, dmKey));
			if (existing) return { channel: existing, created: false };
			const [row] = await tx
				.insert(channels)
				.values({ id: crypto.randomUUID(), communityId: null, kind: 'dm', dmKey })
				.onConflictDoNothing()
				.returning();
			if (!row) {
				// Both users opened the DM at the same moment; the other transaction created it.
				const [raced] = await tx.select().from(channels).where(eq(channels.dmKey, dmKey));
				return { channel: raced!, created: false };
			}
			await tx.insert(dmParticipants).values([
				{ channelId: row.id, userId },
				{ channelId: row.id, userId: otherUserId }
			]);
			return { channel: row, created: true };
		});
		if (created) this.#bus.publish([{ type: 'dm.created', channelId: channel.id, userIds: [userId, otherUserId] }]);
		const read = await readInfo(this.#db, userId, [channel]);
		return toView(channel, read.get(channel.id), other, true);
	}

	async #peer(channelId: string, userId: string): Promise<UserView | null> {
		return (await this.#peers([channelId], userId)).get(channelId) ?? null;
	}

	async #peers(channelIds: string[], userId: string): Promise<Map<string, UserView>> {
		if (channelIds.length === 0) return new Map();
		const rows = await this.#db
			.select({ channelId: dmParticipants.channelId, id: users.id, username: users.username, displayName: users.displayName, ...profileColumns })
			.from(dmParticipants)
			.innerJoin(users, eq(users.id, dmParticipants.userId))
			.where(and(inArray(dmParticipants.channelId, channelIds), ne(dmParticipants.userId, userId)));
		return new Map(rows.map((r) => [r.channelId, { id: r.id, username: r.username, displayName: r.displayName, ...profileExtras(r.id, r) }]));
	}
}
