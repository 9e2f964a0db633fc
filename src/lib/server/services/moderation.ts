// Moderation of a community's members: kick, ban (with reason and optional expiry), lift a ban,
// time out. Each action checks the actor's permission and rank, writes its audit entry in the same
// transaction, and publishes after commit: a removed member's sockets drop the community at once
// (the hub handles the "left" membership notice exactly as when someone leaves).
import { aliasedTable, and, desc, eq } from 'drizzle-orm';
import type { BanView } from '#lib/shared/api-types.ts';
import type { CommunityRole } from '#lib/shared/permissions.ts';
import type { Database, Executor, Transaction } from '../db/open.ts';
import { communityBans, communityMembers, users } from '../db/schema.ts';
import type { BusNotice } from '../events/bus.ts';
import { accessCommunity, requireOutranks, requirePermission } from '../access.ts';
import { forbidden, notFound } from '../errors.ts';
import { recordAudit } from './audit-log.ts';
import { systemEvent } from './communities.ts';
import type { EventWriter } from './event-writer.ts';

async function memberOf(tx: Executor, communityId: string, userId: string): Promise<{ userId: string; role: CommunityRole } | null> {
	const [row] = await tx
		.select({ userId: communityMembers.userId, role: communityMembers.role })
		.from(communityMembers)
		.where(and(eq(communityMembers.communityId, communityId), eq(communityMembers.userId, userId)));
	return row ?? null;
}

/** Removes a member and posts "left"; the notices tell the hub to drop the community from their sockets. */
async function removeMember(tx: Transaction, communityId: string, userId: string): Promise<BusNotice[]> {
	await tx.delete(communityMembers).where(and(eq(communityMembers.communityId, communityId), eq(communityMembers.userId, userId)));
	const notices = await systemEvent(tx, communityId, userId, 'member.left');
	notices.push({ type: 'membership', communityId, userId, change: 'left' });
	return notices;
}

const banned = aliasedTable(users, 'banned');
const banner = aliasedTable(users, 'banner');

export class Moderation {
	#db: Database;
	#writer: EventWriter;

	constructor(deps: { db: Database; writer: EventWriter }) {
		this.#db = deps.db;
		this.#writer = deps.writer;
	}

	/** Removes a member; they may come back with a new invite. */
	kick(actorId: string, communityId: string, targetId: string, reason: string): Promise<void> {
		return this.#writer.run(async (tx) => {
			const access = await accessCommunity(tx, actorId, communityId);
			requirePermission(access, 'kick');
			const target = await memberOf(tx, communityId, targetId);
			if (!target) throw notFound('Member');
			requireOutranks(access, actorId, target);
			const notices = await removeMember(tx, communityId, targetId);
			await recordAudit(tx, { communityId, actorId, action: 'member.kicked', targetUserId: targetId, data: { reason } });
			return { result: undefined, notices };
		});
	}

	/**
	 * Bans a user (removing them if they are a member): they cannot rejoin through any invite until
	 * the ban expires or is lifted. Banning again replaces the reason and expiry.
	 */
	ban(actorId: string, communityId: string, targetId: string, input: { reason: string; expiresInHours: number | null }): Promise<BanView> {
		return this.#writer.run(async (tx) => {
			const access = await accessCommunity(tx, actorId, communityId);
			requirePermission(access, 'ban');
			const [user] = await tx.select({ id: users.id, username: users.username, displayName: users.displayName }).from(users).where(eq(users.id, targetId));
			if (!user) throw notFound('User');
			const target = await memberOf(tx, communityId, targetId);
			requireOutranks(access, actorId, target ?? { userId: targetId, role: 'member' });
			const expiresAt = input.expiresInHours ? new Date(Date.now() + input.expiresInHours * 3_600_000) : null;
			const [row] = await tx
				.insert(communityBans)
				.values({ communityId, userId: targetId, reason: input.reason, expiresAt, bannedBy: actorId })
				.onConflictDoUpdate({
					target: [communityBans.communityId, communityBans.userId],
					set: { reason: input.reason, expiresAt, bannedBy: actorId, createdAt: new Date() }
				})
				.returning();
			const notices = target ? await removeMember(tx, communityId, targetId) : [];
			await recordAudit(tx, {
				communityId,
				actorId,
				action: 'member.banned',
				targetUserId: targetId,
				data: { reason: input.reason, expiresAt: expiresAt?.toISOString() ?? null, username: user.username }
			});
			const [actor] = await tx.select({ id: users.id, username: users.username, displayName: users.displayName }).from(users).where(eq(users.id, actorId));
			const ban: BanView = {
				user,
				reason: row!.reason,
				expiresAt: row!.expiresAt?.toISOString() ?? null,
				bannedBy: actor ?? null,
				createdAt: row!.createdAt.toISOString()
			};
			return { result: ban, notices };
		});
	}

	async unban(actorId: string, communityId: string, targetId: string): Promise<void> {
		const access = await accessCommunity(this.#db, actorId, communityId);
		requirePermission(access, 'ban');
		await this.#db.transaction(async (tx) => {
			const deleted = await tx
				.delete(communityBans)
				.where(and(eq(communityBans.communityId, communityId), eq(communityBans.userId, targetId)))
				.returning({ userId: communityBans.userId });
			if (deleted.length === 0) throw notFound('Ban');
			await recordAudit(tx, { communityId, actorId, action: 'member.unbanned', targetUserId: targetId });
		});
	}

	/** Current and past-expiry bans alike (an expired ban is harmless and shows when it ended). */
	async listBans(actorId: string, communityId: string): Promise<BanView[]> {
		const access = await accessCommunity(this.#db, actorId, communityId);
		requirePermission(access, 'ban');
		const rows = await this.#db
			.select({
				reason: communityBans.reason,
				expiresAt: communityBans.expiresAt,
				createdAt: communityBans.createdAt,
				user: { id: banned.id, username: banned.username, displayName: banned.displayName },
				bannedBy: { id: banner.id, username: banner.username, displayName: banner.displayName }
			})
			.from(communityBans)
			.leftJoin(banned, eq(banned.id, communityBans.userId))
			.leftJoin(banner, eq(banner.id, communityBans.bannedBy))
			.where(eq(communityBans.communityId, communityId))
			.orderBy(desc(communityBans.createdAt));
		// A left join (drizzle's types turn an inner join after aliases into never); the user always exists (FK cascade).
		return rows.flatMap((r) =>
			r.user
				? [{ user: r.user, reason: r.reason, expiresAt: r.expiresAt?.toISOString() ?? null, bannedBy: r.bannedBy?.id ? r.bannedBy : null, createdAt: r.createdAt.toISOString() }]
				: []
		);
	}

	/** Stops a member from sending messages for `minutes` (0 ends a timeout early). */
	async timeout(actorId: string, communityId: string, targetId: string, input: { minutes: number; reason: string }): Promise<{ timedOutUntil: string | null }> {
		const access = await accessCommunity(this.#db, actorId, communityId);
		requirePermission(access, 'timeout');
		const until = input.minutes > 0 ? new Date(Date.now() + input.minutes * 60_000) : null;
		await this.#db.transaction(async (tx) => {
			const target = await memberOf(tx, communityId, targetId);
			if (!target) throw notFound('Member');
			requireOutranks(access, actorId, target);
			await tx
				.update(communityMembers)
				.set({ timedOutUntil: until })
				.where(and(eq(communityMembers.communityId, communityId), eq(communityMembers.userId, targetId)));
			await recordAudit(tx, {
				communityId,
				actorId,
				action: until ? 'member.timed_out' : 'member.timeout_cleared',
				targetUserId: targetId,
				data: { reason: input.reason, until: until?.toISOString() ?? null, minutes: input.minutes }
			});
		});
		return { timedOutUntil: until?.toISOString() ?? null };
	}
}

export function timedOutMessage(until: Date): string {
	return `You are timed out in this community until ${until.toISOString()}.`;
}

export const forbiddenTimedOut = (until: Date) => forbidden(timedOutMessage(until));
