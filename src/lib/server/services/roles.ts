// Community roles: the custom roles of a community (a name and a permission set) and who holds
// which role. Nobody can grant more than they hold: a custom role's permissions must be a subset of
// the actor's, and built-in roles can only be handed out below the actor's own rank.
import { and, asc, eq, sql } from 'drizzle-orm';
import type { CustomRoleView } from '#lib/shared/api-types.ts';
import { assignableRoles, PERMISSIONS, type CommunityRole, type Permission } from '#lib/shared/permissions.ts';
import type { Database } from '../db/open.ts';
import { communityMembers, communityRoles } from '../db/schema.ts';
import type { EventBus } from '../events/bus.ts';
import { accessCommunity, requireOutranks, requirePermission, type CommunityAccess } from '../access.ts';
import { conflict, forbidden, invalid, notFound } from '../errors.ts';
import { recordAudit } from './audit-log.ts';

type RoleRow = typeof communityRoles.$inferSelect;

function toView(row: RoleRow, memberCount: number): CustomRoleView {
	return {
		id: row.id,
		communityId: row.communityId,
		name: row.name,
		permissions: PERMISSIONS.filter((p) => row.permissions.includes(p)),
		memberCount,
		createdAt: row.createdAt.toISOString()
	};
}

/** Refuses permissions the actor does not hold themselves (no escalation through custom roles). */
function requireGrantable(access: CommunityAccess, permissions: readonly Permission[]) {
	const missing = permissions.filter((p) => !access.permissions.has(p));
	if (missing.length) throw forbidden('You cannot grant permissions you do not have yourself.');
}

function isUniqueViolation(error: unknown): boolean {
	const e = error as { code?: string; cause?: { code?: string } };
	return e?.code === '23505' || e?.cause?.code === '23505';
}

export class Roles {
	#db: Database;
	#bus: EventBus;

	constructor(deps: { db: Database; bus: EventBus }) {
		this.#db = deps.db;
		this.#bus = deps.bus;
	}

	/** Any member may see the roles (the member list shows them). */
	async list(userId: string, communityId: string): Promise<CustomRoleView[]> {
		await accessCommunity(this.#db, userId, communityId);
		const rows = await this.#db
			.select({
				role: communityRoles,
				memberCount: sql<number>`(select count(*)::int from ${communityMembers} where ${communityMembers.customRoleId} = ${communityRoles.id})`
			})
			.from(communityRoles)
			.where(eq(communityRoles.communityId, communityId))
			.orderBy(asc(communityRoles.name));
		return rows.map((r) => toView(r.role, r.memberCount));
	}

	async create(userId: string, communityId: string, input: { name: string; permissions: Permission[] }): Promise<CustomRoleView> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'manage_roles');
		requireGrantable(access, input.permissions);
		try {
			const row = await this.#db.transaction(async (tx) => {
				const [created] = await tx
					.insert(communityRoles)
					.values({ id: crypto.randomUUID(), communityId, name: input.name, permissions: [...new Set(input.permissions)] })
					.returning();
				await recordAudit(tx, { communityId, actorId: userId, action: 'role.created', targetId: created!.id, data: { name: input.name, permissions: created!.permissions } });
				return created!;
			});
			return toView(row, 0);
		} catch (error) {
			if (isUniqueViolation(error)) throw conflict(`A role named "${input.name}" already exists here.`);
			throw error;
		}
	}

	async update(userId: string, communityId: string, roleId: string, input: { name?: string; permissions?: Permission[] }): Promise<CustomRoleView> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'manage_roles');
		if (input.permissions) requireGrantable(access, input.permissions);
		try {
			const row = await this.#db.transaction(async (tx) => {
				const [existing] = await tx.select().from(communityRoles).where(and(eq(communityRoles.id, roleId), eq(communityRoles.communityId, communityId)));
				if (!existing) throw notFound('Role');
				// Taking away a permission the actor lacks would be as much an escalation as granting it.
				requireGrantable(access, existing.permissions.filter((p): p is Permission => (PERMISSIONS as readonly string[]).includes(p)));
				const patch: Partial<RoleRow> = {};
				if (input.name !== undefined) patch.name = input.name;
				if (input.permissions !== undefined) patch.permissions = [...new Set(input.permissions)];
				if (Object.keys(patch).length === 0) return existing;
				const [updated] = await tx.update(communityRoles).set(patch).where(eq(communityRoles.id, roleId)).returning();
				await recordAudit(tx, { communityId, actorId: userId, action: 'role.updated', targetId: roleId, data: { name: updated!.name, permissions: updated!.permissions } });
				return updated!;
			});
			const [count] = await this.#db.select({ n: sql<number>`count(*)::int` }).from(communityMembers).where(eq(communityMembers.customRoleId, roleId));
			this.#bus.publish([{ type: 'community.updated', communityId }]);
			return toView(row, count?.n ?? 0);
		} catch (error) {
			if (isUniqueViolation(error)) throw conflict(`A role named "${input.name}" already exists here.`);
			throw error;
		}
	}

	async delete(userId: string, communityId: string, roleId: string): Promise<void> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'manage_roles');
		await this.#db.transaction(async (tx) => {
			const [existing] = await tx.select().from(communityRoles).where(and(eq(communityRoles.id, roleId), eq(communityRoles.communityId, communityId)));
			if (!existing) throw notFound('Role');
			requireGrantable(access, existing.permissions.filter((p): p is Permission => (PERMISSIONS as readonly string[]).includes(p)));
			await tx.delete(communityRoles).where(eq(communityRoles.id, roleId));
			await recordAudit(tx, { communityId, actorId: userId, action: 'role.deleted', targetId: roleId, data: { name: existing.name } });
		});
		this.#bus.publish([{ type: 'community.updated', communityId }]);
	}

	/**
	 * Sets a member's built-in role and/or custom role. The actor must outrank the member, may only
	 * hand out built-in roles below their own, and only custom roles they could have created.
	 */
	async assign(userId: string, communityId: string, targetId: string, input: { role?: CommunityRole; customRoleId?: string | null }): Promise<void> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'manage_roles');
		await this.#db.transaction(async (tx) => {
			const [target] = await tx
				.select({ userId: communityMembers.userId, role: communityMembers.role, customRoleId: communityMembers.customRoleId })
				.from(communityMembers)
				.where(and(eq(communityMembers.communityId, communityId), eq(communityMembers.userId, targetId)));
			if (!target) throw notFound('Member');
			requireOutranks(access, userId, target);
			if (input.role !== undefined && !assignableRoles(access.role).includes(input.role)) {
				throw forbidden(input.role === 'owner' ? 'Ownership cannot be given this way.' : 'You can only give roles below your own.');
			}
			if (input.customRoleId) {
				const [role] = await tx
					.select()
					.from(communityRoles)
					.where(and(eq(communityRoles.id, input.customRoleId), eq(communityRoles.communityId, communityId)));
				if (!role) throw invalid('That role does not exist in this community.');
				requireGrantable(access, role.permissions.filter((p): p is Permission => (PERMISSIONS as readonly string[]).includes(p)));
			}
			const patch: { role?: CommunityRole; customRoleId?: string | null } = {};
			if (input.role !== undefined) patch.role = input.role;
			if (input.customRoleId !== undefined) patch.customRoleId = input.customRoleId;
			if (Object.keys(patch).length === 0) return;
			await tx.update(communityMembers).set(patch).where(and(eq(communityMembers.communityId, communityId), eq(communityMembers.userId, targetId)));
			await recordAudit(tx, {
				communityId,
				actorId: userId,
				action: 'member.role_changed',
				targetUserId: targetId,
				data: { from: { role: target.role, customRoleId: target.customRoleId }, to: patch }
			});
		});
		// Everyone's member list shows roles; the member's own client learns its new permissions.
		this.#bus.publish([{ type: 'community.updated', communityId }]);
	}
}
