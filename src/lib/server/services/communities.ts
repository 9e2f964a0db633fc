// Communities: creation (with a #general channel that also receives join/leave notices),
// membership (join through invites, leave), member lists, settings, deletion.
import { and, asc, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';
import type { CommunityDetail, CommunityView, MemberView } from '#lib/shared/api-types.ts';
import { PERMISSIONS, permissionsOf, type Permission } from '#lib/shared/permissions.ts';
import type { Database, Executor, Transaction } from '../db/open.ts';
import { channels, communities, communityBans, communityMembers, communityRoles, readStates, users } from '../db/schema.ts';
import type { BusNotice, EventBus } from '../events/bus.ts';
import { accessCommunity, requireCommunityOwner, requirePermission } from '../access.ts';
import { conflict, forbidden } from '../errors.ts';
import { recordAudit } from './audit-log.ts';
import { appendEvents, hydrateEvents } from './channel-events.ts';
import type { EventWriter } from './event-writer.ts';
import type { Channels } from './channels.ts';
import { profileColumns, profileExtras } from './profiles.ts';

type CommunityRow = typeof communities.$inferSelect;

function toView(row: CommunityRow, role: CommunityView['role'], permissions: ReadonlySet<Permission>, memberCount: number): CommunityView {
	return {
		id: row.id,
		name: row.name,
		description: row.description,
		ownerId: row.ownerId,
		systemChannelId: row.systemChannelId,
		role,
		// In the catalogue's order, so the list reads the same everywhere.
		permissions: PERMISSIONS.filter((p) => permissions.has(p)),
		memberCount,
		createdAt: row.createdAt.toISOString()
	};
}

async function memberCounts(db: Executor, communityIds: string[]): Promise<Map<string, number>> {
	if (communityIds.length === 0) return new Map();
	const rows = await db
		.select({ communityId: communityMembers.communityId, count: sql<number>`count(*)::int` })
		.from(communityMembers)
		.where(inArray(communityMembers.communityId, communityIds))
		.groupBy(communityMembers.communityId);
	return new Map(rows.map((r) => [r.communityId, r.count]));
}

export class Communities {
	#db: Database;
	#bus: EventBus;
	#writer: EventWriter;
	#channels: () => Channels;

	constructor(deps: { db: Database; bus: EventBus; writer: EventWriter; channels: () => Channels }) {
		this.#db = deps.db;
		this.#bus = deps.bus;
		this.#writer = deps.writer;
		this.#channels = deps.channels;
	}

	async create(userId: string, input: { name: string; description: string }): Promise<CommunityDetail> {
		const communityId = crypto.randomUUID();
		const channelId = crypto.randomUUID();
		const row = await this.#db.transaction(async (tx) => {
			const [community] = await tx
				.insert(communities)
				.values({ id: communityId, name: input.name, description: input.description, ownerId: userId })
				.returning();
			await tx.insert(channels).values({ id: channelId, communityId, kind: 'text', name: 'general', position: 0 });
			await tx.update(communities).set({ systemChannelId: channelId }).where(eq(communities.id, communityId));
			await tx.insert(communityMembers).values({ communityId, userId, role: 'owner' });
			return { ...community!, systemChannelId: channelId };
		});
		this.#bus.publish([{ type: 'membership', communityId, userId, change: 'joined' }]);
		return { ...toView(row, 'owner', permissionsOf('owner'), 1), channels: await this.#channels().listForCommunity(userId, communityId) };
	}

	async listForUser(userId: string): Promise<CommunityView[]> {
		const rows = await this.#db
			.select({ community: communities, role: communityMembers.role, customPermissions: communityRoles.permissions })
			.from(communityMembers)
			.innerJoin(communities, eq(communities.id, communityMembers.communityId))
			.leftJoin(communityRoles, eq(communityRoles.id, communityMembers.customRoleId))
			.where(eq(communityMembers.userId, userId))
			.orderBy(asc(communityMembers.joinedAt));
		const counts = await memberCounts(this.#db, rows.map((r) => r.community.id));
		return rows.map((r) => toView(r.community, r.role, permissionsOf(r.role, r.customPermissions ?? []), counts.get(r.community.id) ?? 0));
	}

	async get(userId: string, communityId: string): Promise<CommunityDetail> {
		const access = await accessCommunity(this.#db, userId, communityId);
		const [row] = await this.#db.select().from(communities).where(eq(communities.id, communityId));
		const counts = await memberCounts(this.#db, [communityId]);
		return {
			...toView(row!, access.role, access.permissions, counts.get(communityId) ?? 0),
			channels: await this.#channels().listForCommunity(userId, communityId)
		};
	}

	async update(userId: string, communityId: string, input: { name?: string; description?: string }): Promise<CommunityView> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'manage_community');
		// An empty change is a no-op (drizzle refuses an UPDATE without values).
		const changed = Object.keys(input).length > 0;
		const [row] = changed
			? await this.#db.transaction(async (tx) => {
					const updated = await tx.update(communities).set(input).where(eq(communities.id, communityId)).returning();
					await recordAudit(tx, { communityId, actorId: userId, action: 'community.updated', data: { ...input } });
					return updated;
				})
			: await this.#db.select().from(communities).where(eq(communities.id, communityId));
		const counts = await memberCounts(this.#db, [communityId]);
		if (changed) this.#bus.publish([{ type: 'community.updated', communityId }]);
		return toView(row!, access.role, access.permissions, counts.get(communityId) ?? 0);
	}

	async delete(userId: string, communityId: string): Promise<void> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requireCommunityOwner(access);
		const memberIds = await this.#db.transaction(async (tx) => {
			const members = await tx
				.select({ userId: communityMembers.userId })
				.from(communityMembers)
				.where(eq(communityMembers.communityId, communityId));
			await tx.delete(communities).where(eq(communities.id, communityId));
			return members.map((m) => m.userId);
		});
		this.#bus.publish([{ type: 'community.deleted', communityId, memberIds }]);
	}

	async members(userId: string, communityId: string): Promise<MemberView[]> {
		await accessCommunity(this.#db, userId, communityId);
		const rows = await this.#db
			.select({
				id: users.id,
				username: users.username,
				displayName: users.displayName,
				role: communityMembers.role,
				customRoleId: communityRoles.id,
				customRoleName: communityRoles.name,
				timedOutUntil: communityMembers.timedOutUntil,
				joinedAt: communityMembers.joinedAt,
				guest: users.isGuest,
				...profileColumns
			})
			.from(communityMembers)
			.innerJoin(users, eq(users.id, communityMembers.userId))
			.leftJoin(communityRoles, eq(communityRoles.id, communityMembers.customRoleId))
			.where(eq(communityMembers.communityId, communityId))
			.orderBy(asc(users.displayName));
		const now = Date.now();
		return rows.map((r) => ({
			user: { id: r.id, username: r.username, displayName: r.displayName, ...profileExtras(r.id, r) },
			role: r.role,
			customRole: r.customRoleId && r.customRoleName ? { id: r.customRoleId, name: r.customRoleName } : null,
			timedOutUntil: r.timedOutUntil && r.timedOutUntil.getTime() > now ? r.timedOutUntil.toISOString() : null,
			joinedAt: r.joinedAt.toISOString(),
			guest: r.guest
		}));
	}

	/**
	 * Adds a member (idempotent: joining twice changes nothing) and posts "joined" in the system
	 * channel. Returns false when the user was already a member.
	 */
	join(userId: string, communityId: string): Promise<boolean> {
		return this.#writer.run(async (tx) => {
			if (await isBanned(tx, communityId, userId)) throw forbidden(BANNED_MESSAGE);
			const inserted = await tx
				.insert(communityMembers)
				.values({ communityId, userId, role: 'member' })
				.onConflictDoNothing()
				.returning({ userId: communityMembers.userId });
			if (inserted.length === 0) return { result: false, notices: [] };
			// History from before joining is not "unread": start every channel's read marker at its end.
			// Someone rejoining still has markers from last time; they move forward too, else everything
			// said while they were away would count as unread.
			const existing = await tx
				.select({ id: channels.id, lastSeq: channels.lastSeq })
				.from(channels)
				.where(eq(channels.communityId, communityId));
			if (existing.length) {
				await tx
					.insert(readStates)
					.values(existing.map((c) => ({ userId, channelId: c.id, lastReadSeq: c.lastSeq })))
					.onConflictDoUpdate({
						target: [readStates.userId, readStates.channelId],
						set: { lastReadSeq: sql`greatest(${readStates.lastReadSeq}, excluded.last_read_seq)`, updatedAt: new Date() }
					});
			}
			const notices: BusNotice[] = [{ type: 'membership', communityId, userId, change: 'joined' }];
			notices.push(...(await systemEvent(tx, communityId, userId, 'member.joined')));
			return { result: true, notices };
		});
	}

	async leave(userId: string, communityId: string): Promise<void> {
		const access = await accessCommunity(this.#db, userId, communityId);
		if (access.role === 'owner') {
			throw conflict('The owner cannot leave the community. Delete it instead.');
		}
		await this.#writer.run(async (tx) => {
			await tx
				.delete(communityMembers)
				.where(and(eq(communityMembers.communityId, communityId), eq(communityMembers.userId, userId)));
			const notices: BusNotice[] = await systemEvent(tx, communityId, userId, 'member.left');
			notices.push({ type: 'membership', communityId, userId, change: 'left' });
			return { result: undefined, notices };
		});
	}
}

export const BANNED_MESSAGE = 'You are banned from this community.';

/** Whether a ban keeps the user out now (bans with a past expiry no longer count). */
export async function isBanned(tx: Executor, communityId: string, userId: string): Promise<boolean> {
	const [ban] = await tx
		.select({ userId: communityBans.userId })
		.from(communityBans)
		.where(
			and(
				eq(communityBans.communityId, communityId),
				eq(communityBans.userId, userId),
				or(isNull(communityBans.expiresAt), gt(communityBans.expiresAt, new Date()))
			)
		);
	return ban !== undefined;
}

/** Appends "joined" / "left" to the community's system channel; returns the notice to publish after commit. */
export async function systemEvent(tx: Transaction, communityId: string, userId: string, type: 'member.joined' | 'member.left'): Promise<BusNotice[]> {
	const [community] = await tx
		.select({ systemChannelId: communities.systemChannelId })
		.from(communities)
		.where(eq(communities.id, communityId));
	if (!community?.systemChannelId) return [];
	const { rows } = await appendEvents(tx, community.systemChannelId, [{ type, actorId: userId, userId }]);
	const [event] = await hydrateEvents(tx, rows.map((r) => ({ ...r, messageId: r.messageId ?? null, actorId: r.actorId ?? null, data: r.data ?? {}, createdAt: r.createdAt ?? new Date() })));
	return [{ type: 'channel.event', channelId: community.systemChannelId, scope: { kind: 'community', communityId }, event: event! }];
}
