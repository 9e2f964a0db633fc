// Instance user management for owners and admins: list and search accounts (with last seen and
// session count), disable or re-enable, delete, revoke all sessions, change the server role. The
// risky ones (disable, delete, change role) need the admin's current password (auth/reauth.ts).
// Admins act only on accounts below their own server role; nobody acts on themselves here.
import { and, asc, eq, gt, ilike, or, sql } from 'drizzle-orm';
import type { AdminUserView } from '#lib/shared/api-types.ts';
import type { Database } from '../db/open.ts';
import { communities, sessions, users } from '../db/schema.ts';
import type { EventBus } from '../events/bus.ts';
import { requireInstanceAdmin, type InstanceRole } from '../access.ts';
import { conflict, forbidden, notFound } from '../errors.ts';
import { requireReauthentication } from '../auth/reauth.ts';
import type { SignInThrottle } from '../auth/throttle.ts';
import { recordAudit } from './audit-log.ts';
import { removeSecondFactor } from './two-factor.ts';
import { revokeDevicesOfSessions } from './devices.ts';
import type { BusNotice } from '../events/bus.ts';

export type AdminActor = { id: string; instanceRole: InstanceRole; ip: string };

const INSTANCE_RANK: Record<InstanceRole, number> = { owner: 2, admin: 1, member: 0 };
const USER_LIST_MAX = 200;

function requireAbove(actor: AdminActor, target: { id: string; instanceRole: InstanceRole }) {
	if (target.id === actor.id) throw forbidden('You cannot do that to your own account here.');
	if (INSTANCE_RANK[actor.instanceRole] > INSTANCE_RANK[target.instanceRole]) return;
	throw forbidden('You can only manage accounts below your own server role.');
}

export class UserAdmin {
	#db: Database;
	#bus: EventBus;
	#throttle: () => SignInThrottle;

	constructor(deps: { db: Database; bus: EventBus; throttle: () => SignInThrottle }) {
		this.#db = deps.db;
		this.#bus = deps.bus;
		this.#throttle = deps.throttle;
	}

	/** Accounts matching `query` (username or display name), by username; at most USER_LIST_MAX. */
	async list(actor: AdminActor, query: string): Promise<AdminUserView[]> {
		requireInstanceAdmin(actor);
		const pattern = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
		const now = new Date();
		const rows = await this.#db
			.select({
				user: users,
				lastSeenAt: sql<Date | string | null>`max(${sessions.lastSeenAt})`,
				sessionCount: sql<number>`count(${sessions.id})::int`
			})
			.from(users)
			.leftJoin(sessions, and(eq(sessions.userId, users.id), gt(sessions.expiresAt, now)))
			.where(query ? or(ilike(users.username, pattern), ilike(users.displayName, pattern)) : undefined)
			.groupBy(users.id)
			.orderBy(asc(users.username))
			.limit(USER_LIST_MAX);
		return rows.map((r) => ({
			id: r.user.id,
			username: r.user.username,
			displayName: r.user.displayName,
			instanceRole: r.user.instanceRole,
			createdAt: r.user.createdAt.toISOString(),
			disabled: r.user.disabledAt !== null,
			lastSeenAt: r.lastSeenAt ? new Date(r.lastSeenAt).toISOString() : null,
			sessionCount: r.sessionCount,
			twoFactor: r.user.twoFactorEnabledAt !== null
		}));
	}

	async #target(id: string) {
		const [row] = await this.#db.select().from(users).where(eq(users.id, id));
		if (!row) throw notFound('User');
		return row;
	}

	/** Deletes every session of the account; its open sockets close at once (sessions.revoked). */
	async revokeSessions(actor: AdminActor, targetId: string): Promise<number> {
		requireInstanceAdmin(actor);
		const target = await this.#target(targetId);
		requireAbove(actor, target);
		const revoked = await this.#db.transaction(async (tx) => {
			const deleted = await tx.delete(sessions).where(eq(sessions.userId, targetId)).returning({ id: sessions.id, deviceId: sessions.deviceId });
			await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'user.sessions_revoked', targetUserId: targetId, data: { count: deleted.length } });
			return { deleted, notices: (await revokeDevicesOfSessions(tx, deleted)).notices };
		});
		this.#publishRevoked(revoked);
		return revoked.deleted.length;
	}

	/** A disabled account cannot sign in; its sessions are revoked and its sockets closed now. */
	async setDisabled(actor: AdminActor, targetId: string, disabled: boolean, password: string | undefined): Promise<void> {
		requireInstanceAdmin(actor);
		const target = await this.#target(targetId);
		requireAbove(actor, target);
		await requireReauthentication(this.#db, this.#throttle(), actor, password);
		const revoked = await this.#db.transaction(async (tx) => {
			await tx.update(users).set({ disabledAt: disabled ? new Date() : null }).where(eq(users.id, targetId));
			const deleted = disabled ? await tx.delete(sessions).where(eq(sessions.userId, targetId)).returning({ id: sessions.id, deviceId: sessions.deviceId }) : [];
			await recordAudit(tx, { communityId: null, actorId: actor.id, action: disabled ? 'user.disabled' : 'user.enabled', targetUserId: targetId, data: { username: target.username } });
			// Disabling revokes the account's encryption devices too: re-enabled, it registers new ones.
			return { deleted, notices: (await revokeDevicesOfSessions(tx, deleted)).notices };
		});
		this.#publishRevoked(revoked);
	}

	#publishRevoked({ deleted, notices }: { deleted: { id: string }[]; notices: BusNotice[] }) {
		const all: BusNotice[] = deleted.length ? [{ type: 'sessions.revoked', sessionIds: deleted.map((r) => r.id) }, ...notices] : notices;
		if (all.length) this.#bus.publish(all);
	}

	/** Owners may make members admins and back; nobody hands out "owner" here. */
	async setRole(actor: AdminActor, targetId: string, role: Exclude<InstanceRole, 'owner'>, password: string | undefined): Promise<void> {
		requireInstanceAdmin(actor);
		const target = await this.#target(targetId);
		requireAbove(actor, target);
		if (INSTANCE_RANK[role] >= INSTANCE_RANK[actor.instanceRole]) throw forbidden('You can only give server roles below your own.');
		await requireReauthentication(this.#db, this.#throttle(), actor, password);
		await this.#db.transaction(async (tx) => {
			await tx.update(users).set({ instanceRole: role }).where(eq(users.id, targetId));
			await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'user.role_changed', targetUserId: targetId, data: { from: target.instanceRole, to: role, username: target.username } });
		});
	}

	/**
	 * Removes the account's second factor (authenticator app and recovery codes), for someone who
	 * lost both: they sign in with the password alone next time and set it up again (led to by the
	 * instance's requirement, if any). Its sessions stay. Needs the admin's password.
	 */
	async resetTwoFactor(actor: AdminActor, targetId: string, password: string | undefined): Promise<void> {
		requireInstanceAdmin(actor);
		const target = await this.#target(targetId);
		requireAbove(actor, target);
		await requireReauthentication(this.#db, this.#throttle(), actor, password);
		const removed = await this.#db.transaction(async (tx) => {
			const removed = await removeSecondFactor(tx, targetId);
			if (removed) await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'user.two_factor_reset', targetUserId: targetId, data: { username: target.username } });
			return removed;
		});
		if (!removed) throw conflict('This account has no second factor to reset.');
	}

	/**
	 * Deletes the account with its messages, reactions and memberships. Owners of communities must
	 * hand them over or delete them first: a community is never left without an owner.
	 */
	async delete(actor: AdminActor, targetId: string, password: string | undefined): Promise<void> {
		requireInstanceAdmin(actor);
		const target = await this.#target(targetId);
		requireAbove(actor, target);
		await requireReauthentication(this.#db, this.#throttle(), actor, password);
		const revoked = await this.#db.transaction(async (tx) => {
			const [owned] = await tx.select({ name: communities.name }).from(communities).where(eq(communities.ownerId, targetId)).limit(1);
			if (owned) throw conflict(`This account owns the community "${owned.name}"; delete that community first.`);
			const deleted = await tx.delete(sessions).where(eq(sessions.userId, targetId)).returning({ id: sessions.id, deviceId: sessions.deviceId });
			// Before the account goes: its contacts (read now, while memberships exist) hear its devices are gone.
			const { notices } = await revokeDevicesOfSessions(tx, deleted);
			// Written before the delete: the entry keeps the name once the account (and the id's join) is gone.
			await recordAudit(tx, { communityId: null, actorId: actor.id, action: 'user.deleted', targetUserId: targetId, data: { username: target.username, displayName: target.displayName } });
			await tx.delete(users).where(eq(users.id, targetId));
			return { deleted, notices };
		});
		this.#publishRevoked(revoked);
	}
}
