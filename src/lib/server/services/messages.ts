// Messages: send (idempotent by client id, batched by the event writer), edit, delete, reactions,
// history pages, resume after a disconnect, and read markers.
import DataLoader from 'dataloader';
import { and, asc, desc, eq, gt, inArray, isNull, lt, max, sql } from 'drizzle-orm';
import { channelPermissionsOf, permissionsOf } from '#lib/shared/permissions.ts';
import { normalizeMentions, type Mentions } from '#lib/shared/mentions.ts';
import type { HistoryPage, MessageRevisions } from '#lib/shared/api-types.ts';
import { HISTORY_PAGE_MAX, MESSAGE_REVISIONS_MAX, RESUME_MAX_EVENTS } from '#lib/shared/limits.ts';
import type { ChannelEvent, MessageView, ThreadUpdate } from '#lib/shared/protocol/frames.ts';
import type { Database, Transaction } from '../db/open.ts';
import { anyOf, insertFromJson, selectBuiltOnce } from '../db/built-once.ts';
import { channels, communityMembers, communityRoles, dmParticipants, messageRevisions, messages, reactions, readStates, userBlocks } from '../db/schema.ts';
import type { BusNotice, ChannelScope, EventBus } from '../events/bus.ts';
import { accessChannel, accessMessage, missingPermission, requireAuthor, requireCanDelete } from '../access.ts';
import { AppError, conflict, forbidden, invalid, notFound, payloadTooLarge, rateLimited } from '../errors.ts';
import { recordAudit } from './audit-log.ts';
import { forbiddenTimedOut } from './moderation.ts';
import {
	appendEvents,
	eventsAfterPerChannel,
	lockChannels,
	numberEvents,
	memberNotices,
	reactionsFor,
	storeEvents,
	threadSummaryOf,
	toMessageView,
	type StoredEventRow
} from './channel-events.ts';
import type { BulkStep, EventWriter, OpOutcome } from './event-writer.ts';
import { dropThreadReplies, threadReplyWrites, threadRootProblem } from './threads.ts';

export type SendInput = {
	userId: string;
	channelId: string;
	clientId: string;
	payload: string;
	replyToId?: string | undefined;
	mentions?: Mentions | undefined;
	/** A thread reply: the root message (same channel, not itself a reply, not deleted). */
	threadRootId?: string | undefined;
};
export type SendResult = { message: MessageView; duplicate: boolean };
export type ResumeOutcome = { kind: 'events'; events: ChannelEvent[] } | { kind: 'resync'; lastSeq: number };
type ResumeRequest = { userId: string; channelId: string; afterSeq: number };

// Resumes that arrive in one turn of the event loop answered by at most this many at a time.
const RESUME_BATCH_MAX = 500;


function scopeOf(channel: { communityId: string | null }, dmUsers: Map<string, string[]>, channelId: string): ChannelScope {
	return channel.communityId
		? { kind: 'community', communityId: channel.communityId }
		: { kind: 'dm', userIds: dmUsers.get(channelId) ?? [] };
}

// The send path's selects that run for every batch, built once (db/built-once.ts).
/** The senders' memberships of the channels' communities, with what their roles may do. */
const sendersQuery = selectBuiltOnce((db) =>
	db
		.select({
			communityId: communityMembers.communityId,
			userId: communityMembers.userId,
			role: communityMembers.role,
			customRoleId: communityMembers.customRoleId,
			customPermissions: communityRoles.permissions,
			timedOutUntil: communityMembers.timedOutUntil
		})
		.from(communityMembers)
		.leftJoin(communityRoles, eq(communityRoles.id, communityMembers.customRoleId))
		.where(and(anyOf(communityMembers.communityId, 'communityIds'), anyOf(communityMembers.userId, 'userIds')))
);
/** Messages already stored under these (author, clientId) pairs: retries of a send whose ack was lost. */
const sentBeforeQuery = selectBuiltOnce((db) =>
	db
		.select()
		.from(messages)
		.where(and(anyOf(messages.authorId, 'authorIds'), anyOf(messages.clientId, 'clientIds')))
);

/** Who is in these DMs. */
const dmParticipantsQuery = selectBuiltOnce((db) =>
	db.select({ channelId: dmParticipants.channelId, userId: dmParticipants.userId }).from(dmParticipants).where(anyOf(dmParticipants.channelId, 'channelIds'))
);
/** Blocks made by someone in these DMs. */
const dmBlocksQuery = selectBuiltOnce((db) =>
	db
		.select({ channelId: dmParticipants.channelId, blockerId: userBlocks.blockerId, blockedId: userBlocks.blockedId })
		.from(userBlocks)
		.innerJoin(dmParticipants, eq(dmParticipants.userId, userBlocks.blockerId))
		.where(anyOf(dmParticipants.channelId, 'channelIds'))
);

/**
 * The batched send: for any number of queued sends, one lock query, two access queries, one
 * idempotency lookup, one reply lookup, and one statement that writes the messages, their events
 * and the channels' new sequence numbers.
 */
const sendStep: BulkStep<SendInput, SendResult> = {
	name: 'message.send',
	async run(tx: Transaction, items: SendInput[]) {
		const results: Array<OpOutcome<SendResult> | AppError> = new Array(items.length);
		const locked = await lockChannels(tx, items.map((i) => i.channelId));

		// Access: community channels through membership, DMs through participants.
		const userIds = [...new Set(items.map((i) => i.userId))];
		const communityIds = [...new Set([...locked.values()].map((c) => c.communityId).filter((id): id is string => !!id))];
		const dmChannelIds = [...locked.values()].filter((c) => c.kind === 'dm').map((c) => c.id);
		const [memberRows, participantRows, dmBlockRows] = await Promise.all([
			communityIds.length ? sendersQuery(tx, { communityIds, userIds }) : Promise.resolve([]),
			dmChannelIds.length ? dmParticipantsQuery(tx, { channelIds: dmChannelIds }) : Promise.resolve([]),
			// Blocks made by someone in these DMs (only sends to DMs pay for this query).
			dmChannelIds.length ? dmBlocksQuery(tx, { channelIds: dmChannelIds }) : Promise.resolve([])
		]);
		const members = new Map(memberRows.map((r) => [`${r.communityId}:${r.userId}`, r]));
		const dmUsers = new Map<string, string[]>();
		for (const row of participantRows) dmUsers.set(row.channelId, [...(dmUsers.get(row.channelId) ?? []), row.userId]);

		// Mentions name readers only: who of the people mentioned in community channels is a member
		// (one query, only when a send mentions someone). Others are dropped, not refused: a member
		// who left while the message waited in an outbox must not make it fail.
		const mentionedIds = [...new Set(items.flatMap((i) => (locked.get(i.channelId)?.communityId ? (i.mentions?.users ?? []) : [])))];
		const mentionedMembers = new Set(
			mentionedIds.length && communityIds.length
				? (
						await tx
							.select({ communityId: communityMembers.communityId, userId: communityMembers.userId })
							.from(communityMembers)
							.where(and(inArray(communityMembers.communityId, communityIds), inArray(communityMembers.userId, mentionedIds)))
					).map((r) => `${r.communityId}:${r.userId}`)
				: []
		);

		// Idempotency: sends already stored (a retry after a lost ack) answer with the stored message.
		const existing = await sentBeforeQuery(tx, { authorIds: userIds, clientIds: [...new Set(items.map((i) => i.clientId))] });
		const byKey = new Map(existing.map((m) => [`${m.authorId}:${m.clientId}`, m]));

		// Messages quoted by replies and thread roots, in one lookup (only when a send names one).
		const referencedIds = [...new Set(items.flatMap((i) => [i.replyToId, i.threadRootId]).filter((id): id is string => !!id))];
		const referencedRows = referencedIds.length
			? await tx
					.select({
						id: messages.id,
						channelId: messages.channelId,
						authorId: messages.authorId,
						threadRootId: messages.threadRootId,
						deletedAt: messages.deletedAt,
						threadReplyCount: messages.threadReplyCount,
						threadLastReplyAt: messages.threadLastReplyAt,
						threadLastReplySeq: messages.threadLastReplySeq
					})
					.from(messages)
					.where(inArray(messages.id, referencedIds))
			: [];
		const referenced = new Map(referencedRows.map((r) => [r.id, r]));
		// Thread roots this batch replies to, with their summaries as the batch moves them.
		const roots = new Map<string, (typeof referencedRows)[number]>();

		// Slow mode: when each sender last wrote in each slow channel (one query, only when slow mode is on).
		const slowChannelIds = [...locked.values()].filter((c) => c.slowModeSeconds > 0).map((c) => c.id);
		const lastSent = new Map<string, number>();
		if (slowChannelIds.length) {
			const rows = await tx
				.select({ channelId: messages.channelId, authorId: messages.authorId, at: max(messages.createdAt) })
				.from(messages)
				.where(and(inArray(messages.channelId, slowChannelIds), inArray(messages.authorId, userIds)))
				.groupBy(messages.channelId, messages.authorId);
			for (const row of rows) if (row.at) lastSent.set(`${row.channelId}:${row.authorId}`, new Date(row.at).getTime());
		}

		const now = new Date();
		const threadOf = new Map<string, ThreadUpdate>();
		const newMessages: (typeof messages.$inferSelect)[] = [];
		const eventRows: StoredEventRow[] = [];
		const fresh = new Map<string, { index: number; row: typeof messages.$inferSelect }>();

		items.forEach((item, index) => {
			const channel = locked.get(item.channelId);
			const member = channel?.communityId ? members.get(`${channel.communityId}:${item.userId}`) : undefined;
			const allowed = channel && (channel.communityId ? member !== undefined : (dmUsers.get(channel.id) ?? []).includes(item.userId));
			if (!channel || !allowed) {
				results[index] = notFound('Channel');
				return;
			}
			const key = `${item.userId}:${item.clientId}`;
			if (!channel.communityId && !byKey.has(key)) {
				const people = dmUsers.get(channel.id) ?? [];
				const block = dmBlockRows.find((b) => b.channelId === channel.id && people.includes(b.blockedId));
				if (block) {
					results[index] = forbidden(
						block.blockerId === item.userId ? 'You blocked this person: unblock them to send them messages.' : 'This person is not accepting your messages.'
					);
					return;
				}
			}
			// A retry of a message already stored is answered below even if the sender is now timed
			// out or the channel slowed: it was accepted before.
			const retry = byKey.has(key) || fresh.has(key);
			if (!retry && channel.archivedAt) {
				results[index] = forbidden('This channel is archived: it takes no new messages.');
				return;
			}
			if (!retry && member?.timedOutUntil && member.timedOutUntil.getTime() > now.getTime()) {
				results[index] = forbiddenTimedOut(member.timedOutUntil);
				return;
			}
			const permissions = member
				? channelPermissionsOf(member.role, member.customRoleId, permissionsOf(member.role, member.customPermissions ?? []), channel.permissionOverrides)
				: null;
			if (!retry && permissions && !permissions.has('send_messages')) {
				results[index] = forbidden('Your role cannot post in this channel.');
				return;
			}
			if (!retry && permissions && channel.slowModeSeconds > 0) {
				// Staff who can delete messages here are not slowed down: they may need to step in.
				const exempt = permissions.has('delete_messages');
				const last = lastSent.get(`${channel.id}:${item.userId}`);
				const wait = last === undefined ? 0 : last + channel.slowModeSeconds * 1000 - now.getTime();
				if (!exempt && wait > 0) {
					results[index] = rateLimited(wait, `Slow mode is on: you can send another message here in ${Math.ceil(wait / 1000)} s.`);
					return;
				}
			}
			const asked = normalizeMentions(item.mentions);
			if (!retry && asked && (asked.everyone || asked.here) && permissions && !permissions.has('mention_everyone')) {
				results[index] = missingPermission('mention_everyone');
				return;
			}
			const stored = byKey.get(key) ?? fresh.get(key)?.row;
			if (stored) {
				results[index] =
					stored.channelId === item.channelId
						? { result: { message: toMessageView(stored), duplicate: true }, notices: [] }
						: conflict('That clientId was already used for a message in another channel.');
				return;
			}
			if (item.replyToId && referenced.get(item.replyToId)?.channelId !== item.channelId) {
				results[index] = invalid('The message you reply to is not in this channel.');
				return;
			}
			const root = item.threadRootId ? (roots.get(item.threadRootId) ?? referenced.get(item.threadRootId)) : undefined;
			if (item.threadRootId) {
				const problem = threadRootProblem(root, item.channelId);
				if (problem) {
					results[index] = invalid(problem);
					return;
				}
			}
			const readers = channel.communityId ? null : new Set(dmUsers.get(channel.id) ?? []);
			const mentions = normalizeMentions(
				asked && { ...asked, users: asked.users?.filter((userId) => (readers ? readers.has(userId) : mentionedMembers.has(`${channel.communityId}:${userId}`))) }
			);
			const id = crypto.randomUUID();
			const [eventRow] = numberEvents(channel, [{ type: 'message.created', actorId: item.userId, messageId: id }], now);
			if (root) {
				roots.set(root.id, { ...root, threadReplyCount: root.threadReplyCount + 1, threadLastReplyAt: now, threadLastReplySeq: eventRow!.seq });
				threadOf.set(id, { rootId: root.id, ...threadSummaryOf(roots.get(root.id)!) });
			}
			const row = {
				id,
				channelId: channel.id,
				seq: eventRow!.seq,
				authorId: item.userId,
				clientId: item.clientId,
				payload: item.payload,
				replyToId: item.replyToId ?? null,
				mentions,
				createdAt: now,
				editedAt: null,
				deletedAt: null,
				pinnedAt: null,
				pinnedBy: null,
				// The timer in force when it was sent decides; changing it later does not move this.
				expiresAt: channel.disappearingSeconds > 0 ? new Date(now.getTime() + channel.disappearingSeconds * 1000) : null,
				threadRootId: root?.id ?? null,
				threadReplyCount: 0,
				threadLastReplyAt: null,
				threadLastReplySeq: null
			};
			newMessages.push(row);
			eventRows.push(eventRow!);
			fresh.set(key, { index, row });
			lastSent.set(`${channel.id}:${item.userId}`, now.getTime());
		});

		if (newMessages.length) {
			const threadWrites = threadReplyWrites(
				tx,
				roots,
				newMessages.filter((m) => m.threadRootId).map((m) => ({ userId: m.authorId, rootId: m.threadRootId!, channelId: m.channelId, seq: m.seq }))
			);
			await storeEvents(tx, locked.values(), eventRows, [insertFromJson(messages, newMessages), ...threadWrites]);
		}
		for (const { index, row } of fresh.values()) {
			const message = toMessageView(row);
			const thread = threadOf.get(row.id);
			const event: ChannelEvent = { seq: row.seq, at: now.toISOString(), actorId: row.authorId, type: 'message.created', message, ...(thread ? { thread } : {}) };
			results[index] = {
				result: { message, duplicate: false },
				notices: [{ type: 'channel.event', channelId: row.channelId, scope: scopeOf(locked.get(row.channelId)!, dmUsers, row.channelId), event }]
			};
		}
		return results;
	}
};

export class Messages {
	#db: Database;
	#bus: EventBus;
	#writer: EventWriter;
	/** The instance's current message size limit (a setting admins change at run time). */
	#maxPayloadBytes: () => number;

	constructor(deps: { db: Database; bus: EventBus; writer: EventWriter; maxPayloadBytes: () => number }) {
		this.#db = deps.db;
		this.#bus = deps.bus;
		this.#writer = deps.writer;
		this.#maxPayloadBytes = deps.maxPayloadBytes;
		this.#resumes = new DataLoader((requests) => this.#resumeMany(requests), {
			cache: false,
			batchScheduleFn: (run) => setImmediate(run),
			maxBatchSize: RESUME_BATCH_MAX
		});
	}

	/**
	 * Resumes arriving together (every socket of a restarted node, or of a community's members
	 * after a network blip) are answered by four statements per batch instead of five or six per
	 * socket: the channels, the memberships, the events from each channel's lowest cursor, and their
	 * messages; each socket then gets its own slice. A profile of a 5,000-socket storm had most of
	 * its CPU in building and writing those per-socket statements.
	 */
	#resumes: DataLoader<ResumeRequest, ResumeOutcome>;

	#checkPayload(payload: string) {
		if (payload.length === 0) throw invalid('A message cannot be empty.');
		const max = this.#maxPayloadBytes();
		if (Buffer.byteLength(payload, 'utf8') > max) {
			throw payloadTooLarge(`Messages can be at most ${max} bytes.`);
		}
	}

	/** Durable when it resolves: the message is committed and has its sequence number. */
	async send(input: SendInput): Promise<SendResult> {
		this.#checkPayload(input.payload);
		return this.#writer.runBulk(sendStep, input);
	}

	async edit(userId: string, messageId: string, payload: string): Promise<{ seq: number | null }> {
		this.#checkPayload(payload);
		return this.#writer.run(async (tx) => {
			const { message, channel } = await accessMessage(tx, userId, messageId);
			requireAuthor(message, userId);
			if (message.deletedAt) throw notFound('Message');
			// Re-sending the same edit (a retry) changes nothing and creates no event.
			if (message.payload === payload) return { result: { seq: null as number | null }, notices: [] };
			const now = new Date();
			// The version being replaced is kept (still ciphertext) for the "edited" marker's history.
			await tx.insert(messageRevisions).values({ messageId, payload: message.payload, writtenAt: message.editedAt ?? message.createdAt, replacedAt: now });
			await tx.update(messages).set({ payload, editedAt: now }).where(eq(messages.id, messageId));
			const { rows } = await appendEvents(tx, message.channelId, [{ type: 'message.edited', actorId: userId, messageId }], now);
			const seq = rows[0]!.seq;
			const event: ChannelEvent = { seq, at: now.toISOString(), actorId: userId, type: 'message.edited', messageId, payload, editedAt: now.toISOString() };
			return { result: { seq }, notices: [{ type: 'channel.event', channelId: message.channelId, scope: channel.scope, event }] };
		});
	}

	delete(userId: string, messageId: string): Promise<{ seq: number | null }> {
		return this.#writer.run(async (tx) => {
			const { message, channel } = await accessMessage(tx, userId, messageId);
			requireCanDelete(message, userId, channel);
			if (message.deletedAt) return { result: { seq: null as number | null }, notices: [] };
			const now = new Date();
			if (message.authorId !== userId && channel.scope.kind === 'community') {
				await recordAudit(tx, {
					communityId: channel.scope.communityId,
					actorId: userId,
					action: 'message.deleted',
					targetUserId: message.authorId,
					targetId: messageId,
					data: { channelId: message.channelId, channelName: channel.channel.name }
				});
			}
			// The body is erased, not hidden: nothing of it stays in the database.
			// A deleted message leaves the pinned list too (no unpin notice: the deletion says it all).
			await tx.update(messages).set({ payload: '', deletedAt: now, pinnedAt: null, pinnedBy: null }).where(eq(messages.id, messageId));
			await tx.delete(reactions).where(eq(reactions.messageId, messageId));
			await tx.delete(messageRevisions).where(eq(messageRevisions.messageId, messageId));
			const { rows } = await appendEvents(tx, message.channelId, [{ type: 'message.deleted', actorId: userId, messageId }], now);
			const seq = rows[0]!.seq;
			// A deleted thread reply leaves its root's count (under the channel lock appendEvents took).
			const thread = message.threadRootId ? await dropThreadReplies(tx, [message.threadRootId]) : new Map<string, ThreadUpdate>();
			const update = message.threadRootId ? thread.get(message.threadRootId) : undefined;
			const event: ChannelEvent = { seq, at: now.toISOString(), actorId: userId, type: 'message.deleted', messageId, ...(update ? { thread: update } : {}) };
			return { result: { seq }, notices: [{ type: 'channel.event', channelId: message.channelId, scope: channel.scope, event }] };
		});
	}

	react(userId: string, messageId: string, key: string, add: boolean): Promise<{ seq: number | null }> {
		return this.#writer.run(async (tx) => {
			const { message, channel } = await accessMessage(tx, userId, messageId);
			if (message.deletedAt) throw notFound('Message');
			let changed: boolean;
			if (add) {
				const inserted = await tx.insert(reactions).values({ messageId, userId, key }).onConflictDoNothing().returning({ key: reactions.key });
				changed = inserted.length > 0;
			} else {
				const deleted = await tx
					.delete(reactions)
					.where(and(eq(reactions.messageId, messageId), eq(reactions.userId, userId), eq(reactions.key, key)))
					.returning({ key: reactions.key });
				changed = deleted.length > 0;
			}
			// Adding a reaction twice (or removing one that is not there) is a no-op: no event.
			if (!changed) return { result: { seq: null as number | null }, notices: [] };
			const type = add ? 'reaction.added' : 'reaction.removed';
			const now = new Date();
			const { rows } = await appendEvents(tx, message.channelId, [{ type, actorId: userId, messageId, key }], now);
			const seq = rows[0]!.seq;
			const event: ChannelEvent = { seq, at: now.toISOString(), actorId: userId, type, messageId, userId, key };
			return { result: { seq }, notices: [{ type: 'channel.event', channelId: message.channelId, scope: channel.scope, event }] };
		});
	}

	/**
	 * The earlier versions of an edited message, oldest first (each the ciphertext an edit replaced,
	 * decrypted by the reader's browser). Readers of the channel may see them, as on other chats.
	 */
	async revisions(userId: string, messageId: string): Promise<MessageRevisions> {
		const { message } = await accessMessage(this.#db, userId, messageId);
		if (message.deletedAt) throw notFound('Message');
		const rows = await this.#db
			.select({ payload: messageRevisions.payload, writtenAt: messageRevisions.writtenAt, replacedAt: messageRevisions.replacedAt })
			.from(messageRevisions)
			.where(eq(messageRevisions.messageId, messageId))
			.orderBy(desc(messageRevisions.id))
			.limit(MESSAGE_REVISIONS_MAX);
		return {
			revisions: rows.reverse().map((row) => ({ payload: row.payload, writtenAt: row.writtenAt.toISOString(), replacedAt: row.replacedAt.toISOString() })),
			current: { payload: message.payload, writtenAt: (message.editedAt ?? message.createdAt).toISOString() }
		};
	}

	/**
	 * A page of history. Without cursors: the newest page. `before`: older than that seq (scrolling
	 * back). `after`: newer than that seq (catching up from a read marker).
	 */
	async history(userId: string, channelId: string, options: { before?: number; after?: number; limit: number }): Promise<HistoryPage> {
		const access = await accessChannel(this.#db, userId, channelId);
		const limit = Math.min(Math.max(options.limit, 1), HISTORY_PAGE_MAX);
		// The channel's own messages: thread replies show in their thread (the root carries their summary).
		const conditions = [eq(messages.channelId, channelId), isNull(messages.threadRootId)];
		let rows: (typeof messages.$inferSelect)[];
		if (options.after !== undefined) {
			conditions.push(gt(messages.seq, options.after));
			rows = await this.#db.select().from(messages).where(and(...conditions)).orderBy(asc(messages.seq)).limit(limit + 1);
		} else {
			if (options.before !== undefined) conditions.push(lt(messages.seq, options.before));
			rows = await this.#db.select().from(messages).where(and(...conditions)).orderBy(desc(messages.seq)).limit(limit + 1);
		}
		const more = rows.length > limit;
		rows = rows.slice(0, limit);
		if (options.after === undefined) rows.reverse();
		let hasMoreBefore = more;
		if (options.after !== undefined) {
			// Message seqs have gaps (edits, reactions and member events take numbers too), so a first
			// seq above 1 does not mean older messages exist: look for one.
			const bound = rows[0]?.seq ?? options.after + 1;
			const [older] = await this.#db
				.select({ id: messages.id })
				.from(messages)
				.where(and(eq(messages.channelId, channelId), isNull(messages.threadRootId), lt(messages.seq, bound)))
				.limit(1);
			hasMoreBefore = older !== undefined;
		}
		const hasMoreAfter = options.after !== undefined ? more : false;
		// The notices that belong between this page's messages, as an open interval of seqs: from the
		// reader's cursor (after=), its oldest message, or the channel's start when nothing is older,
		// up to its newest message, or past the channel's last seq on the newest page.
		const lower = options.after ?? (hasMoreBefore ? rows[0]!.seq : 0);
		const upper = hasMoreAfter ? rows.at(-1)!.seq : Math.min(options.before ?? Infinity, access.channel.lastSeq + 1);
		const [reactionMap, notices] = await Promise.all([
			reactionsFor(this.#db, rows.map((r) => r.id)),
			memberNotices(this.#db, channelId, lower, upper)
		]);
		return {
			messages: rows.map((row) => toMessageView(row, reactionMap.get(row.id))),
			notices,
			lastSeq: access.channel.lastSeq,
			hasMoreBefore,
			hasMoreAfter
		};
	}

	/**
	 * What a client missed in a channel since `afterSeq`: the events in order, or `resync` when it
	 * is too far behind (or claims to be ahead, e.g. after a database restore).
	 */
	resume(userId: string, channelId: string, afterSeq: number): Promise<ResumeOutcome> {
		return this.#resumes.load({ userId, channelId, afterSeq });
	}

	async #resumeMany(requests: readonly ResumeRequest[]): Promise<Array<ResumeOutcome | Error>> {
		const db = this.#db;
		const channelIds = [...new Set(requests.map((r) => r.channelId))];
		const channelRows = await db
			.select({ id: channels.id, communityId: channels.communityId, lastSeq: channels.lastSeq })
			.from(channels)
			.where(inArray(channels.id, channelIds));
		const channelById = new Map(channelRows.map((c) => [c.id, c]));
		const userIds = [...new Set(requests.map((r) => r.userId))];
		const communityIds = [...new Set(channelRows.map((c) => c.communityId).filter((id): id is string => id !== null))];
		const dmChannelIds = channelRows.filter((c) => c.communityId === null).map((c) => c.id);
		const [memberRows, participantRows] = await Promise.all([
			communityIds.length
				? db
						.select({ communityId: communityMembers.communityId, userId: communityMembers.userId })
						.from(communityMembers)
						.where(and(inArray(communityMembers.communityId, communityIds), inArray(communityMembers.userId, userIds)))
				: Promise.resolve([]),
			dmChannelIds.length
				? db
						.select({ channelId: dmParticipants.channelId, userId: dmParticipants.userId })
						.from(dmParticipants)
						.where(and(inArray(dmParticipants.channelId, dmChannelIds), inArray(dmParticipants.userId, userIds)))
				: Promise.resolve([])
		]);
		const readers = new Set([...memberRows.map((m) => `${m.communityId} ${m.userId}`), ...participantRows.map((p) => `${p.channelId} ${p.userId}`)]);

		// Each channel's events are read once, from the lowest cursor any socket resumes it from.
		const lowest = new Map<string, number>();
		const outcomes = requests.map((request): ResumeOutcome | Error | null => {
			const channel = channelById.get(request.channelId);
			// Not (or no longer) a reader: the same answer as a channel that does not exist.
			if (!channel || !readers.has(`${channel.communityId ?? channel.id} ${request.userId}`)) return notFound('Channel');
			const lastSeq = channel.lastSeq;
			if (request.afterSeq > lastSeq || lastSeq - request.afterSeq > RESUME_MAX_EVENTS) return { kind: 'resync', lastSeq };
			if (request.afterSeq === lastSeq) return { kind: 'events', events: [] };
			lowest.set(request.channelId, Math.min(lowest.get(request.channelId) ?? request.afterSeq, request.afterSeq));
			return null;
		});
		if (lowest.size === 0) return outcomes as Array<ResumeOutcome | Error>;
		const eventsOf = await eventsAfterPerChannel(db, [...lowest], RESUME_MAX_EVENTS);
		return outcomes.map((outcome, i) => {
			if (outcome !== null) return outcome;
			const { channelId, afterSeq } = requests[i]!;
			const events = eventsOf.get(channelId)!.filter((event) => event.seq > afterSeq && event.seq <= afterSeq + RESUME_MAX_EVENTS);
			return { kind: 'events', events };
		});
	}

	/** Moves the read marker forward (never back) and tells the user's other tabs and devices. */
	async markRead(userId: string, channelId: string, seq: number): Promise<number> {
		const access = await accessChannel(this.#db, userId, channelId);
		const target = Math.min(seq, access.channel.lastSeq);
		const [row] = await this.#db
			.insert(readStates)
			.values({ userId, channelId, lastReadSeq: target })
			.onConflictDoUpdate({
				target: [readStates.userId, readStates.channelId],
				set: { lastReadSeq: sql`greatest(${readStates.lastReadSeq}, excluded.last_read_seq)`, updatedAt: new Date() }
			})
			.returning({ lastReadSeq: readStates.lastReadSeq });
		const marker = row?.lastReadSeq ?? target;
		const notices: BusNotice[] = [{ type: 'read', userId, channelId, seq: marker }];
		this.#bus.publish(notices);
		return marker;
	}

	/** Current last sequence numbers of channels (for the client's resume bookkeeping). */
	async lastSeqs(channelIds: string[]): Promise<Map<string, number>> {
		if (channelIds.length === 0) return new Map();
		const rows = await this.#db.select({ id: channels.id, lastSeq: channels.lastSeq }).from(channels).where(inArray(channels.id, channelIds));
		return new Map(rows.map((r) => [r.id, r.lastSeq]));
	}
}
