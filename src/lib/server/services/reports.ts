// Reports of messages. The reporter's device forwards the content it shows (with end-to-end
// encryption the server cannot read the message), stored and shown labelled as forwarded by the
// reporter. Moderators (those who may delete others' messages) see the queue and resolve reports.
import { aliasedTable, and, desc, eq } from 'drizzle-orm';
import type { ReportView } from '#lib/shared/api-types.ts';
import type { Database } from '../db/open.ts';
import { messageReports, users } from '../db/schema.ts';
import { accessCommunity, accessMessage, requirePermission } from '../access.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import { recordAudit } from './audit-log.ts';
import type { Messages } from './messages.ts';

const reporter = aliasedTable(users, 'reporter');
const author = aliasedTable(users, 'author');
const resolver = aliasedTable(users, 'resolver');

export type ReportStatus = 'open' | 'resolved' | 'dismissed';

export class Reports {
	#db: Database;
	#messages: () => Messages;

	constructor(deps: { db: Database; messages: () => Messages }) {
		this.#db = deps.db;
		this.#messages = deps.messages;
	}

	/** Anyone who can see a community message may report it, once. */
	async create(userId: string, messageId: string, input: { reason: string; forwardedContent: string }): Promise<{ id: string }> {
		const { message, channel } = await accessMessage(this.#db, userId, messageId);
		if (channel.scope.kind !== 'community') throw invalid('Only messages in communities can be reported to their moderators.');
		if (message.authorId === userId) throw invalid('You cannot report your own message.');
		if (message.deletedAt) throw notFound('Message');
		const [existing] = await this.#db
			.select({ id: messageReports.id })
			.from(messageReports)
			.where(and(eq(messageReports.messageId, messageId), eq(messageReports.reporterId, userId), eq(messageReports.status, 'open')));
		if (existing) throw conflict('You have already reported this message; moderators will look at it.');
		const id = crypto.randomUUID();
		await this.#db.insert(messageReports).values({
			id,
			communityId: channel.scope.communityId,
			channelId: message.channelId,
			messageId,
			reporterId: userId,
			authorId: message.authorId,
			reason: input.reason,
			forwardedContent: input.forwardedContent
		});
		return { id };
	}

	async list(userId: string, communityId: string, status: ReportStatus | undefined): Promise<ReportView[]> {
		const access = await accessCommunity(this.#db, userId, communityId);
		requirePermission(access, 'delete_messages');
		const rows = await this.#db
			.select({
				report: messageReports,
				reporter: { id: reporter.id, username: reporter.username, displayName: reporter.displayName },
				author: { id: author.id, username: author.username, displayName: author.displayName },
				resolver: { id: resolver.id, username: resolver.username, displayName: resolver.displayName }
			})
			.from(messageReports)
			.leftJoin(reporter, eq(reporter.id, messageReports.reporterId))
			.leftJoin(author, eq(author.id, messageReports.authorId))
			.leftJoin(resolver, eq(resolver.id, messageReports.resolvedBy))
			.where(and(eq(messageReports.communityId, communityId), status ? eq(messageReports.status, status) : undefined))
			.orderBy(desc(messageReports.createdAt))
			.limit(500);
		return rows.map((r) => ({
			id: r.report.id,
			communityId: r.report.communityId,
			channelId: r.report.channelId,
			messageId: r.report.messageId,
			reporter: r.reporter?.id ? r.reporter : null,
			author: r.author?.id ? r.author : null,
			reason: r.report.reason,
			forwardedContent: r.report.forwardedContent,
			status: r.report.status,
			resolvedBy: r.resolver?.id ? r.resolver : null,
			resolvedAt: r.report.resolvedAt?.toISOString() ?? null,
			createdAt: r.report.createdAt.toISOString()
		}));
	}

	/**
	 * Closes a report as resolved (optionally deleting the message, which the deletion records in the
	 * audit log itself) or dismissed. A report of another community answers like a missing one.
	 */
	async resolve(userId: string, reportId: string, input: { status: 'resolved' | 'dismissed'; deleteMessage: boolean }): Promise<void> {
		const [report] = await this.#db.select().from(messageReports).where(eq(messageReports.id, reportId));
		if (!report) throw notFound('Report');
		let access;
		try {
			access = await accessCommunity(this.#db, userId, report.communityId);
		} catch {
			throw notFound('Report');
		}
		requirePermission(access, 'delete_messages');
		if (report.status !== 'open') throw conflict('This report was already handled.');
		if (input.deleteMessage) await this.#messages().delete(userId, report.messageId);
		await this.#db.transaction(async (tx) => {
			await tx.update(messageReports).set({ status: input.status, resolvedBy: userId, resolvedAt: new Date() }).where(eq(messageReports.id, reportId));
			await recordAudit(tx, {
				communityId: report.communityId,
				actorId: userId,
				action: input.status === 'resolved' ? 'report.resolved' : 'report.dismissed',
				targetUserId: report.authorId,
				targetId: reportId,
				data: { messageId: report.messageId, deletedMessage: input.deleteMessage, reason: report.reason }
			});
		});
	}
}
