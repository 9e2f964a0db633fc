// Threads: replies to a channel message kept beside the channel instead of in it. A reply is an
// ordinary channel message (same encryption, same per-channel seq, so resume replays replies like
// anything else) with one routing field, `thread_root_id`. The root row keeps the thread's summary
// (reply count, newest reply's time and seq) so the channel shows it without counting; the send path
// moves it in the same statement that stores the reply. Following and read markers of threads are
// per person (thread_follows). The server learns who replied where and when, never what.
import { and, asc, desc, eq, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { FollowedThreads, ThreadPage } from '#lib/shared/api-types.ts';
import { THREAD_LIST_MAX, THREAD_PAGE_MAX } from '#lib/shared/limits.ts';
import type { ThreadUpdate } from '#lib/shared/protocol/frames.ts';
import type { Database, Transaction } from '../db/open.ts';
import type { EventBus } from '../events/bus.ts';
import { messages, threadFollows } from '../db/schema.ts';
import { accessChannel, accessMessage } from '../access.ts';
import { invalid } from '../errors.ts';
import { reactionsFor, threadSummaryOf, toMessageView } from './channel-events.ts';

/** Why a thread reply cannot go under this root, or null when it can. */
export function threadRootProblem(
	root: { channelId: string; threadRootId: string | null; deletedAt: Date | null } | undefined,
	channelId: string
): string | null {
	if (!root) return 'The thread you reply in does not exist: its first message was not found.';
	if (root.channelId !== channelId) return 'The thread you reply in belongs to another channel.';
	if (root.threadRootId !== null) return 'Threads cannot be nested: reply in the thread of the first message instead.';
	if (root.deletedAt) return 'The message this thread started from was deleted: its thread takes no new replies.';
	return null;
}

/**
 * The writes a batch of thread replies adds to the send statement (they read nothing back): the
 * roots' new summaries, repliers following the thread and having read it up to their reply, and
 * roots' authors following the thread their message started (unless they unfollowed it before).
 */
export function threadReplyWrites(
	tx: Transaction,
	roots: Map<string, { id: string; authorId: string; channelId: string; threadReplyCount: number; threadLastReplyAt: Date | null; threadLastReplySeq: number | null }>,
	replies: Array<{ userId: string; rootId: string; channelId: string; seq: number }>
): SQL[] {
	if (roots.size === 0) return [];
	const summaries = sql`update ${messages} set thread_reply_count = v.n, thread_last_reply_at = v.at, thread_last_reply_seq = v.seq from (values ${sql.join(
		[...roots.values()].map(
			(r) => sql`(${r.id}::uuid, ${r.threadReplyCount}::int, ${r.threadLastReplyAt!.toISOString()}::timestamptz, ${r.threadLastReplySeq}::bigint)`
		),
		sql`, `
	)}) as v(id, n, at, seq) where ${messages.id} = v.id`;
	// One row per person and thread: one statement cannot upsert the same row twice.
	const repliers = new Map<string, { userId: string; rootId: string; channelId: string; lastReadSeq: number }>();
	for (const reply of replies) {
		const key = `${reply.userId}:${reply.rootId}`;
		const known = repliers.get(key);
		repliers.set(key, { userId: reply.userId, rootId: reply.rootId, channelId: reply.channelId, lastReadSeq: Math.max(known?.lastReadSeq ?? 0, reply.seq) });
	}
	const starters = new Map<string, { userId: string; rootId: string; channelId: string }>();
	for (const root of roots.values()) {
		const key = `${root.authorId}:${root.id}`;
		if (!repliers.has(key)) starters.set(key, { userId: root.authorId, rootId: root.id, channelId: root.channelId });
	}
	const writes: SQL[] = [
		summaries,
		tx
			.insert(threadFollows)
			.values([...repliers.values()].map((r) => ({ ...r, following: true })))
			.onConflictDoUpdate({
				target: [threadFollows.userId, threadFollows.rootId],
				set: { following: true, lastReadSeq: sql`greatest(${threadFollows.lastReadSeq}, excluded.last_read_seq)`, updatedAt: new Date() }
			})
			.getSQL()
	];
	if (starters.size) writes.push(tx.insert(threadFollows).values([...starters.values()]).onConflictDoNothing().getSQL());
	return writes;
}

/**
 * Recounts the replies of thread roots after replies were deleted (by their authors, moderators or
 * the expiry job) and returns their new summaries. The caller holds the roots' channel lock.
 * (Three small subqueries over the thread's index, only on the rare deletion of a reply.)
 */
export async function dropThreadReplies(tx: Transaction, rootIds: string[]): Promise<Map<string, ThreadUpdate>> {
	if (rootIds.length === 0) return new Map();
	const rows = await tx
		.update(messages)
		// The newest remaining reply becomes the last one: a deleted reply neither counts nor keeps the
		// thread unread for its followers.
		.set({
			threadReplyCount: sql`(select count(*)::int from ${messages} as r where r.thread_root_id = ${messages.id} and r.deleted_at is null)`,
			threadLastReplyAt: sql`(select max(r.created_at) from ${messages} as r where r.thread_root_id = ${messages.id} and r.deleted_at is null)`,
			threadLastReplySeq: sql`(select max(r.seq) from ${messages} as r where r.thread_root_id = ${messages.id} and r.deleted_at is null)`
		})
		.where(inArray(messages.id, [...new Set(rootIds)]))
		.returning({
			id: messages.id,
			threadReplyCount: messages.threadReplyCount,
			threadLastReplyAt: messages.threadLastReplyAt,
			threadLastReplySeq: messages.threadLastReplySeq
		});
	return new Map(rows.map((row) => [row.id, { rootId: row.id, ...threadSummaryOf(row) }]));
}

export class Threads {
	#db: Database;
	#bus: EventBus;

	constructor(deps: { db: Database; bus: EventBus }) {
		this.#db = deps.db;
		this.#bus = deps.bus;
	}

	/** Tells the user's other tabs and devices where they stand in a thread now. */
	#announce(userId: string, channelId: string, rootId: string, mark: { following: boolean; lastReadSeq: number }) {
		this.#bus.publish([{ type: 'thread.mark', userId, channelId, rootId, ...mark }]);
	}

	/** A root the caller can read, refusing thread replies (they have no thread of their own). */
	async #accessRoot(userId: string, rootId: string) {
		const access = await accessMessage(this.#db, userId, rootId);
		if (access.message.threadRootId !== null) throw invalid('That message is a reply in a thread: open the thread of its first message.');
		return access;
	}

	/** The root and the newest replies (or those before `before`), with the caller's follow state. */
	async page(userId: string, rootId: string, options: { before?: number | undefined; limit?: number | undefined } = {}): Promise<ThreadPage> {
		const { message: root, channel } = await this.#accessRoot(userId, rootId);
		const limit = Math.min(Math.max(options.limit ?? THREAD_PAGE_MAX, 1), THREAD_PAGE_MAX);
		const conditions = [eq(messages.threadRootId, rootId)];
		if (options.before !== undefined) conditions.push(lt(messages.seq, options.before));
		const [rows, [follow]] = await Promise.all([
			this.#db.select().from(messages).where(and(...conditions)).orderBy(desc(messages.seq)).limit(limit + 1),
			this.#db
				.select({ following: threadFollows.following, lastReadSeq: threadFollows.lastReadSeq })
				.from(threadFollows)
				.where(and(eq(threadFollows.userId, userId), eq(threadFollows.rootId, rootId)))
		]);
		const hasMoreBefore = rows.length > limit;
		const replies = rows.slice(0, limit).reverse();
		const reactionMap = await reactionsFor(this.#db, [root.id, ...replies.map((r) => r.id)]);
		return {
			root: toMessageView(root, reactionMap.get(root.id)),
			replies: replies.map((row) => toMessageView(row, reactionMap.get(row.id))),
			hasMoreBefore,
			lastSeq: channel.channel.lastSeq,
			following: follow?.following ?? false,
			lastReadSeq: follow?.lastReadSeq ?? 0
		};
	}

	/** Follows or unfollows a thread (idempotent); the read marker is kept. */
	async follow(userId: string, rootId: string, following: boolean): Promise<{ following: boolean }> {
		const { message: root } = await this.#accessRoot(userId, rootId);
		const [row] = await this.#db
			.insert(threadFollows)
			.values({ userId, rootId, channelId: root.channelId, following, lastReadSeq: 0 })
			.onConflictDoUpdate({ target: [threadFollows.userId, threadFollows.rootId], set: { following, updatedAt: new Date() } })
			.returning({ lastReadSeq: threadFollows.lastReadSeq });
		this.#announce(userId, root.channelId, rootId, { following, lastReadSeq: row?.lastReadSeq ?? 0 });
		return { following };
	}

	/** Moves the caller's read marker in a thread forward (never back, never past its newest reply). */
	async markRead(userId: string, rootId: string, seq: number): Promise<{ lastReadSeq: number }> {
		const { message: root } = await this.#accessRoot(userId, rootId);
		const target = Math.min(seq, root.threadLastReplySeq ?? 0);
		// Reading a thread does not follow it: a new row starts unfollowed.
		const [row] = await this.#db
			.insert(threadFollows)
			.values({ userId, rootId, channelId: root.channelId, following: false, lastReadSeq: target })
			.onConflictDoUpdate({
				target: [threadFollows.userId, threadFollows.rootId],
				set: { lastReadSeq: sql`greatest(${threadFollows.lastReadSeq}, excluded.last_read_seq)`, updatedAt: new Date() }
			})
			.returning({ lastReadSeq: threadFollows.lastReadSeq, following: threadFollows.following });
		const lastReadSeq = row?.lastReadSeq ?? target;
		this.#announce(userId, root.channelId, rootId, { following: row?.following ?? false, lastReadSeq });
		return { lastReadSeq };
	}

	/** The threads of a channel the caller follows, most recently active first, with which are unread. */
	async followed(userId: string, channelId: string): Promise<FollowedThreads> {
		await accessChannel(this.#db, userId, channelId);
		const rows = await this.#db
			.select({ root: messages, lastReadSeq: threadFollows.lastReadSeq })
			.from(threadFollows)
			.innerJoin(messages, eq(messages.id, threadFollows.rootId))
			.where(and(eq(threadFollows.userId, userId), eq(threadFollows.channelId, channelId), eq(threadFollows.following, true)))
			.orderBy(sql`${messages.threadLastReplySeq} desc nulls last`, asc(messages.seq))
			.limit(THREAD_LIST_MAX);
		const reactionMap = await reactionsFor(this.#db, rows.map((r) => r.root.id));
		return {
			threads: rows
				.filter((r) => r.root.threadLastReplySeq !== null || r.root.threadReplyCount > 0)
				.map((r) => ({
					root: toMessageView(r.root, reactionMap.get(r.root.id)),
					lastReadSeq: r.lastReadSeq,
					unread: (r.root.threadLastReplySeq ?? 0) > r.lastReadSeq
				}))
		};
	}
}
