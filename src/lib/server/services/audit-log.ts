// The audit log: who did what to whom, and when. Entries are written by `recordAudit` inside the
// transaction of the action they describe, so an action and its entry commit (or vanish) together.
// Reading is filtered (actor, action, target, time) and paged by time; old entries are purged after
// AUDIT_LOG_RETENTION_DAYS.
import { aliasedTable, and, desc, eq, gte, isNull, lt, lte, type SQL } from 'drizzle-orm';
import type { AuditEntryView } from '#lib/shared/api-types.ts';
import { AUDIT_ACTIONS, type AuditAction } from '#lib/shared/audit-actions.ts';
import type { Database, Executor } from '../db/open.ts';
import { auditLog, users } from '../db/schema.ts';
import { accessCommunity, requireInstanceAdmin, requirePermission, type InstanceRole } from '../access.ts';

export { AUDIT_ACTIONS, type AuditAction };


export type AuditEntry = {
	communityId: string | null;
	actorId: string;
	action: AuditAction;
	targetUserId?: string | null;
	targetId?: string | null;
	data?: Record<string, unknown>;
};

/** Writes one entry; call it with the transaction of the action itself. */
export async function recordAudit(tx: Executor, entry: AuditEntry): Promise<void> {
	await tx.insert(auditLog).values({
		id: crypto.randomUUID(),
		communityId: entry.communityId,
		actorId: entry.actorId,
		action: entry.action,
		targetUserId: entry.targetUserId ?? null,
		targetId: entry.targetId ?? null,
		data: entry.data ?? {}
	});
}

export type AuditFilter = {
	actorId?: string | undefined;
	action?: string | undefined;
	targetUserId?: string | undefined;
	/** Only entries at or after this time. */
	since?: Date | undefined;
	/** Only entries at or before this time. */
	until?: Date | undefined;
	/** Paging: only entries strictly older than this time. */
	before?: Date | undefined;
	limit: number;
};

const actor = aliasedTable(users, 'actor');
const target = aliasedTable(users, 'target');

export class AuditLog {
	#db: Database;
	#retentionDays: number;

	constructor(deps: { db: Database; retentionDays: number }) {
		this.#db = deps.db;
		this.#retentionDays = deps.retentionDays;
	}

	async listForCommunity(userId: string, communityId: string, filter: AuditFilter): Promise<AuditEntryView[]> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'view_audit_log');
		return this.#list(eq(auditLog.communityId, communityId), filter);
	}

	/** Instance-level entries (server settings, accounts, server invites). */
	async listForInstance(caller: { instanceRole: InstanceRole }, filter: AuditFilter): Promise<AuditEntryView[]> {
		requireInstanceAdmin(caller);
		return this.#list(isNull(auditLog.communityId), filter);
	}

	async #list(scope: SQL, filter: AuditFilter): Promise<AuditEntryView[]> {
		const conditions: (SQL | undefined)[] = [
			scope,
			filter.actorId ? eq(auditLog.actorId, filter.actorId) : undefined,
			filter.action ? eq(auditLog.action, filter.action) : undefined,
			filter.targetUserId ? eq(auditLog.targetUserId, filter.targetUserId) : undefined,
			filter.since ? gte(auditLog.createdAt, filter.since) : undefined,
			filter.until ? lte(auditLog.createdAt, filter.until) : undefined,
			filter.before ? lt(auditLog.createdAt, filter.before) : undefined
		];
		const rows = await this.#db
			.select({
				entry: auditLog,
				actor: { id: actor.id, username: actor.username, displayName: actor.displayName },
				target: { id: target.id, username: target.username, displayName: target.displayName }
			})
			.from(auditLog)
			.leftJoin(actor, eq(actor.id, auditLog.actorId))
			.leftJoin(target, eq(target.id, auditLog.targetUserId))
			.where(and(...conditions))
			.orderBy(desc(auditLog.createdAt), desc(auditLog.id))
			.limit(filter.limit);
		return rows.map((r) => ({
			id: r.entry.id,
			communityId: r.entry.communityId,
			action: r.entry.action,
			actor: r.actor?.id ? r.actor : null,
			targetUser: r.target?.id ? r.target : null,
			targetId: r.entry.targetId,
			data: r.entry.data,
			createdAt: r.entry.createdAt.toISOString()
		}));
	}

	/** Deletes entries older than the retention period; returns how many. 0 days keeps everything. */
	async purge(now = new Date()): Promise<number> {
		if (this.#retentionDays <= 0) return 0;
		const cutoff = new Date(now.getTime() - this.#retentionDays * 86_400_000);
		const deleted = await this.#db.delete(auditLog).where(lt(auditLog.createdAt, cutoff)).returning({ id: auditLog.id });
		return deleted.length;
	}
}
