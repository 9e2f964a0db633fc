// The audit log: who did what to whom, and when. Entries are written by `recordAudit` inside the
// transaction of the action they describe, so an action and its entry commit (or vanish) together.
// Reading is filtered (actor, action, target, time) and paged by time; old entries are purged after
// AUDIT_LOG_RETENTION_DAYS.
import { aliasedTable, and, desc, eq, gte, isNull, lt, lte, type SQL } from 'drizzle-orm';
import type { AuditEntryView } from '#lib/shared/api-types.ts';
import type { Database, Executor } from '../db/open.ts';
import { auditLog, users } from '../db/schema.ts';
import { accessCommunity, requireInstanceAdmin, requirePermission, type InstanceRole } from '../access.ts';

/** Every action the log knows, so filters and the UI can name them. */
export const AUDIT_ACTIONS = {
	'community.updated': 'Changed community settings',
	'channel.created': 'Created a channel',
	'channel.updated': 'Changed a channel',
	'channel.archived': 'Archived a channel',
	'channel.unarchived': 'Restored a channel',
	'channels.reordered': 'Reordered channels',
	'role.created': 'Created a role',
	'role.updated': 'Changed a role',
	'role.deleted': 'Deleted a role',
	'member.role_changed': "Changed a member's role",
	'member.kicked': 'Kicked a member',
	'member.banned': 'Banned a user',
	'member.unbanned': 'Lifted a ban',
	'member.timed_out': 'Timed out a member',
	'member.timeout_cleared': 'Ended a timeout',
	'message.deleted': "Deleted someone's message",
	'report.resolved': 'Resolved a report',
	'report.dismissed': 'Dismissed a report',
	'instance.settings_changed': 'Changed server settings',
	'user.disabled': 'Disabled an account',
	'user.enabled': 'Re-enabled an account',
	'user.deleted': 'Deleted an account',
	'user.sessions_revoked': "Signed out all of an account's sessions",
	'user.role_changed': "Changed an account's server role",
	'invite.created': 'Created a server invite',
	'invite.revoked': 'Revoked an invite'
} as const;
export type AuditAction = keyof typeof AUDIT_ACTIONS;

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
