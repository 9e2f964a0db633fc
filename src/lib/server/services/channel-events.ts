// The per-channel event log. Every persisted change in a channel gets the next sequence number of
// that channel: the channel row is locked (SELECT ... FOR UPDATE) for the rest of the transaction,
// so concurrent writers queue behind each other and a rolled-back transaction gives its numbers
// back. The result is gap-free and monotonically increasing per channel. (On PGlite the same holds
// without the row lock: see lockChannels.)
import type { ChannelOverrides } from '#lib/shared/permissions.ts';
import { and, asc, desc, eq, gt, inArray, is, lt, sql, type SQL } from 'drizzle-orm';
import { PgliteTransaction } from 'drizzle-orm/pglite';
import type { MemberNotice } from '#lib/shared/api-types.ts';
import type { ChannelEvent, MessageView, ThreadSummary, UserView } from '#lib/shared/protocol/frames.ts';
import { channelEvents, channels, dmParticipants, messages, reactions, users } from '../db/schema.ts';
import type { ChannelScope } from '../events/bus.ts';
import type { Executor, Transaction } from '../db/open.ts';
import { notFound } from '../errors.ts';
import { anyOf, insertFromJson, selectBuiltOnce } from '../db/built-once.ts';

export type EventDraft =
	| { type: 'message.created'; actorId: string; messageId: string }
	| { type: 'message.edited'; actorId: string; messageId: string }
	// actorId null: deleted by the expiry job (disappearing messages).
	| { type: 'message.deleted'; actorId: string | null; messageId: string }
	| { type: 'reaction.added' | 'reaction.removed'; actorId: string; messageId: string; key: string }
	| { type: 'member.joined' | 'member.left'; actorId: string | null; userId: string }
	// userId repeats the actor so that notices find who pinned with the same join as for members.
	| { type: 'message.pinned' | 'message.unpinned'; actorId: string; messageId: string; userId: string }
	| { type: 'disappearing.set'; actorId: string; userId: string; seconds: number };

export type LockedChannel = {
	id: string;
	lastSeq: number;
	communityId: string | null;
	kind: 'text' | 'voice' | 'dm';
	slowModeSeconds: number;
	disappearingSeconds: number;
	archivedAt: Date | null;
	permissionOverrides: ChannelOverrides;
};

// Built once (db/built-once.ts): the send path runs it for every batch.
const channelRowsQuery = (lock: boolean) =>
	selectBuiltOnce((db) => {
		const query = db
			.select({
				id: channels.id,
				lastSeq: channels.lastSeq,
				communityId: channels.communityId,
				kind: channels.kind,
				slowModeSeconds: channels.slowModeSeconds,
				disappearingSeconds: channels.disappearingSeconds,
				archivedAt: channels.archivedAt,
				permissionOverrides: channels.permissionOverrides
			})
			.from(channels)
			.where(anyOf(channels.id, 'ids'))
			.orderBy(asc(channels.id));
		return lock ? query.for('update') : query;
	});
const lockChannelsQuery = channelRowsQuery(true);
const readChannelsQuery = channelRowsQuery(false);

/**
 * Locks the channels (in id order, so two writers never deadlock) and returns their rows.
 *
 * On PGlite the rows are only read: PGlite has one connection and runs every statement and every
 * transaction one after another (its own mutex around each), so nothing else can touch the
 * channels before this transaction commits, and a row lock orders nothing. There, FOR UPDATE only
 * cost: it gives the transaction an id of its own, writes a lock record to the WAL and dirties
 * the channel's page, ~140 µs of CPU per transaction on the build machine (a tenth of a send).
 */
export async function lockChannels(tx: Transaction, channelIds: string[]): Promise<Map<string, LockedChannel>> {
	if (channelIds.length === 0) return new Map();
	const query = is(tx, PgliteTransaction) ? readChannelsQuery : lockChannelsQuery;
	const rows = await query(tx, { ids: [...new Set(channelIds)] });
	return new Map(rows.map((row) => [row.id, row]));
}

export type StoredEventRow = typeof channelEvents.$inferSelect;

/** Turns drafts into rows with consecutive sequence numbers after `channel.lastSeq` and advances it. */
export function numberEvents(channel: LockedChannel, drafts: EventDraft[], now: Date): StoredEventRow[] {
	return drafts.map((draft) => {
		channel.lastSeq += 1;
		const data: Record<string, unknown> = {};
		let messageId: string | null = null;
		if ('messageId' in draft) messageId = draft.messageId;
		if ('key' in draft) data.key = draft.key;
		if ('userId' in draft) data.userId = draft.userId;
		if ('seconds' in draft) data.seconds = draft.seconds;
		return {
			channelId: channel.id,
			seq: channel.lastSeq,
			type: draft.type,
			messageId,
			actorId: draft.actorId,
			data,
			createdAt: now
		};
	});
}

/**
 * Stores numbered events and advances their channels' last sequence numbers, in one statement
 * (the update runs as a data-modifying WITH of the insert), together with `alongWith`: other
 * writes of the same operation that read nothing back (the new messages of a send). On PGlite
 * each statement costs ~0.1–0.2 ms of CPU however small: a send used to pay three.
 *
 * Rows travel as JSON parameters (db/built-once.ts, insertFromJson), so a send's statement has the
 * same text whatever the batch holds: drizzle does not build it anew for each batch size and the
 * database runs it prepared.
 */
export async function storeEvents(tx: Transaction, lockedChannels: Iterable<LockedChannel>, rows: StoredEventRow[], alongWith: SQL[] = []) {
	if (rows.length === 0) return;
	const touchedIds = new Set(rows.map((row) => row.channelId));
	const lastSeqs = [...lockedChannels].filter((channel) => touchedIds.has(channel.id)).map((channel) => ({ id: channel.id, last_seq: channel.lastSeq }));
	// One update for all channels of a batch: a batch of sends spread over 100 channels must not pay 100 of them.
	const advance = sql`update ${channels} set ${sql.identifier(channels.lastSeq.name)} = v.last_seq from json_to_recordset(${JSON.stringify(lastSeqs)}::text::json) as v(id uuid, last_seq bigint) where ${channels.id} = v.id`;
	const writes = [...alongWith, advance].map((write, index) => sql`${sql.identifier(`write_${index}`)} as (${write})`);
	await tx.execute(sql`with ${sql.join(writes, sql`, `)} ${insertFromJson(channelEvents, rows)}`);
}

/** Appends events to one channel inside the caller's transaction. */
export async function appendEvents(tx: Transaction, channelId: string, drafts: EventDraft[], now = new Date()) {
	const locked = await lockChannels(tx, [channelId]);
	const channel = locked.get(channelId);
	if (!channel) throw notFound('Channel');
	const rows = numberEvents(channel, drafts, now);
	await storeEvents(tx, [channel], rows);
	return { channel, rows };
}

// ---------------------------------------------------------------------------------------------
// Reading events back (resume) and turning rows into wire events
// ---------------------------------------------------------------------------------------------

type MessageRow = typeof messages.$inferSelect;

export function toMessageView(row: MessageRow, reactionRows: { key: string; userId: string }[] = []): MessageView {
	const byKey = new Map<string, string[]>();
	for (const r of reactionRows) {
		const list = byKey.get(r.key);
		if (list) list.push(r.userId);
		else byKey.set(r.key, [r.userId]);
	}
	return {
		id: row.id,
		channelId: row.channelId,
		seq: row.seq,
		authorId: row.authorId,
		clientId: row.clientId,
		payload: row.deletedAt ? '' : row.payload,
		replyToId: row.replyToId,
		createdAt: row.createdAt.toISOString(),
		editedAt: row.editedAt ? row.editedAt.toISOString() : null,
		deletedAt: row.deletedAt ? row.deletedAt.toISOString() : null,
		reactions: [...byKey].map(([key, userIds]) => ({ key, userIds })),
		...(row.mentions && !row.deletedAt ? { mentions: row.mentions } : {}),
		...(row.pinnedAt && !row.deletedAt ? { pinnedAt: row.pinnedAt.toISOString() } : {}),
		...(row.expiresAt && !row.deletedAt ? { expiresAt: row.expiresAt.toISOString() } : {}),
		...(row.threadRootId ? { threadRootId: row.threadRootId } : {}),
		...(row.threadLastReplySeq !== null ? { thread: threadSummaryOf(row) } : {})
	};
}

/** A root's thread summary as stored on its row (kept by the send and delete paths). */
export function threadSummaryOf(row: Pick<MessageRow, 'threadReplyCount' | 'threadLastReplyAt' | 'threadLastReplySeq'>): ThreadSummary {
	return { replyCount: row.threadReplyCount, lastReplyAt: row.threadLastReplyAt?.toISOString() ?? null, lastReplySeq: row.threadLastReplySeq };
}

export async function reactionsFor(db: Executor, messageIds: string[]) {
	if (messageIds.length === 0) return new Map<string, { key: string; userId: string }[]>();
	const rows = await db
		.select({ messageId: reactions.messageId, key: reactions.key, userId: reactions.userId })
		.from(reactions)
		.where(inArray(reactions.messageId, messageIds))
		.orderBy(asc(reactions.createdAt));
	const map = new Map<string, { key: string; userId: string }[]>();
	for (const row of rows) {
		const list = map.get(row.messageId);
		if (list) list.push(row);
		else map.set(row.messageId, [row]);
	}
	return map;
}

type EventRow = typeof channelEvents.$inferSelect;

/**
 * Builds wire events from stored rows. Bodies come from the current message rows: an event replayed
 * after an edit or delete shows the message as it is now, which is the state the live client
 * reached anyway, and a deleted body is never replayed.
 */
export async function hydrateEvents(db: Executor, rows: EventRow[]): Promise<ChannelEvent[]> {
	const events: ChannelEvent[] = [];
	await hydrateEventRows(db, rows, (_row, event) => events.push(event));
	return events;
}

/** Events after `afterSeq` of several channels at once (resumes arriving together), each channel's in seq order. */
export async function eventsAfterPerChannel(db: Executor, cursors: ReadonlyArray<readonly [channelId: string, afterSeq: number]>, limit: number): Promise<Map<string, ChannelEvent[]>> {
	const byChannel = new Map<string, ChannelEvent[]>(cursors.map(([channelId]) => [channelId, []]));
	if (cursors.length === 0) return byChannel;
	const wanted = sql.join(
		cursors.map(([channelId, afterSeq]) => sql`(${channelId}::uuid, ${afterSeq}::bigint)`),
		sql`, `
	);
	const rows = await db
		.select({ event: channelEvents })
		.from(channelEvents)
		.innerJoin(sql`(values ${wanted}) as wanted(channel_id, after_seq)`, sql`wanted.channel_id = ${channelEvents.channelId} and ${channelEvents.seq} > wanted.after_seq and ${channelEvents.seq} <= wanted.after_seq + ${limit}`)
		.orderBy(asc(channelEvents.channelId), asc(channelEvents.seq));
	await hydrateEventRows(db, rows.map((r) => r.event), (row, event) => byChannel.get(row.channelId)!.push(event));
	return byChannel;
}

/** Turns event rows into wire events (with the messages, reactions and users they refer to), in row order. */
async function hydrateEventRows(db: Executor, rows: EventRow[], emit: (row: EventRow, event: ChannelEvent) => void): Promise<void> {
	const messageIds = [...new Set(rows.map((r) => r.messageId).filter((id): id is string => id !== null))];
	const userIds = [...new Set(rows.map((r) => (r.data as { userId?: string }).userId).filter((id): id is string => !!id))];
	const [messageRows, reactionMap, userRows] = await Promise.all([
		messageIds.length ? db.select().from(messages).where(inArray(messages.id, messageIds)) : Promise.resolve([]),
		reactionsFor(db, messageIds),
		userIds.length
			? db.select({ id: users.id, username: users.username, displayName: users.displayName }).from(users).where(inArray(users.id, userIds))
			: Promise.resolve([])
	]);
	const messageById = new Map(messageRows.map((m) => [m.id, m]));
	// Thread replies carry their root's summary; one more query, only when the events hold replies.
	// (Like bodies, the summary is the root's current one: the state a live client reached anyway.)
	const rootIds = [...new Set(messageRows.map((m) => m.threadRootId).filter((id): id is string => id !== null && !messageById.has(id)))];
	if (rootIds.length) for (const root of await db.select().from(messages).where(inArray(messages.id, rootIds))) messageById.set(root.id, root);
	const threadOf = (message: MessageRow | undefined) => {
		const root = message?.threadRootId ? messageById.get(message.threadRootId) : undefined;
		return root ? { thread: { rootId: root.id, ...threadSummaryOf(root) } } : {};
	};
	const userById = new Map<string, UserView>(userRows.map((u) => [u.id, u]));
	for (const row of rows) {
		const base = { seq: row.seq, at: row.createdAt.toISOString(), actorId: row.actorId };
		const message = row.messageId ? messageById.get(row.messageId) : undefined;
		const data = row.data as { key?: string; userId?: string };
		switch (row.type) {
			case 'message.created':
				// Messages are only ever soft-deleted, so the row exists; the fallback keeps the
				// sequence gap-free for the client even if it did not.
				if (message) emit(row, { ...base, type: row.type, message: toMessageView(message, reactionMap.get(message.id)), ...threadOf(message) });
				else emit(row, { ...base, type: 'message.deleted', messageId: row.messageId! });
				break;
			case 'message.edited':
				if (!message) emit(row, { ...base, type: 'message.deleted', messageId: row.messageId! });
				else
					emit(row, {
						...base,
						type: row.type,
						messageId: message.id,
						payload: message.deletedAt ? '' : message.payload,
						editedAt: (message.editedAt ?? row.createdAt).toISOString()
					});
				break;
			case 'message.deleted':
				emit(row, { ...base, type: row.type, messageId: row.messageId!, ...threadOf(message) });
				break;
			case 'reaction.added':
			case 'reaction.removed':
				emit(row, { ...base, type: row.type, messageId: row.messageId!, userId: row.actorId!, key: data.key ?? '' });
				break;
			case 'member.joined':
			case 'member.left': {
				const user = userById.get(data.userId ?? '') ?? { id: data.userId!, username: 'deleted', displayName: 'Deleted user' };
				emit(row, { ...base, type: row.type, user });
				break;
			}
			case 'message.pinned':
			case 'message.unpinned': {
				const user = userById.get(data.userId ?? '') ?? { id: data.userId!, username: 'deleted', displayName: 'Deleted user' };
				emit(row, { ...base, type: row.type, messageId: row.messageId!, user });
				break;
			}
			case 'disappearing.set': {
				const user = userById.get(data.userId ?? '') ?? { id: data.userId!, username: 'deleted', displayName: 'Deleted user' };
				emit(row, { ...base, type: row.type, seconds: (data as { seconds?: number }).seconds ?? 0, user });
				break;
			}
		}
	}
}

// A page shows at most this many join/leave notices; in a channel that is mostly joins (a large
// community's #general) the newest ones in the page's range are kept.
export const PAGE_NOTICES_MAX = 200;
const NOTICE_TYPES: Array<(typeof channelEvents.$inferSelect)['type']> = ['member.joined', 'member.left', 'message.pinned', 'message.unpinned', 'disappearing.set'];

/** Join, leave and pin events with lower < seq < upper, oldest first, with the users they are about. */
export async function memberNotices(db: Executor, channelId: string, lower: number, upper: number): Promise<MemberNotice[]> {
	const rows = await db
		.select({
			seq: channelEvents.seq,
			type: channelEvents.type,
			at: channelEvents.createdAt,
			messageId: channelEvents.messageId,
			data: channelEvents.data,
			id: users.id,
			username: users.username,
			displayName: users.displayName
		})
		.from(channelEvents)
		.innerJoin(users, eq(users.id, sql`(${channelEvents.data}->>'userId')::uuid`))
		.where(
			and(
				eq(channelEvents.channelId, channelId),
				inArray(channelEvents.type, NOTICE_TYPES),
				gt(channelEvents.seq, lower),
				lt(channelEvents.seq, upper)
			)
		)
		.orderBy(desc(channelEvents.seq))
		.limit(PAGE_NOTICES_MAX);
	return rows.reverse().map((row): MemberNotice => {
		const user = { id: row.id, username: row.username, displayName: row.displayName };
		const at = row.at.toISOString();
		if (row.type === 'message.pinned' || row.type === 'message.unpinned') return { seq: row.seq, type: row.type, user, at, messageId: row.messageId! };
		if (row.type === 'disappearing.set') return { seq: row.seq, type: row.type, user, at, seconds: (row.data as { seconds?: number }).seconds ?? 0 };
		return { seq: row.seq, type: row.type as 'member.joined' | 'member.left', user, at };
	});
}

/** Events after `afterSeq`, at most `limit`; `more` tells whether the log goes on. */
export async function eventsAfter(db: Executor, channelId: string, afterSeq: number, limit: number) {
	const rows = await db
		.select()
		.from(channelEvents)
		.where(and(eq(channelEvents.channelId, channelId), gt(channelEvents.seq, afterSeq)))
		.orderBy(asc(channelEvents.seq))
		.limit(limit + 1);
	const more = rows.length > limit;
	return { events: await hydrateEvents(db, rows.slice(0, limit)), more };
}

// ---------------------------------------------------------------------------------------------
// Catching a cluster node up (events/channel-sequencer.ts): the resume query, plus the audience
// ---------------------------------------------------------------------------------------------

/** Events after `afterSeq` with who may see them; null when the channel no longer exists. */
export async function eventsForBackfill(db: Executor, channelId: string, afterSeq: number, limit: number) {
	const [channel] = await db.select({ communityId: channels.communityId, lastSeq: channels.lastSeq }).from(channels).where(eq(channels.id, channelId));
	if (!channel) return null;
	let scope: ChannelScope;
	if (channel.communityId) scope = { kind: 'community', communityId: channel.communityId };
	else {
		const participants = await db.select({ userId: dmParticipants.userId }).from(dmParticipants).where(eq(dmParticipants.channelId, channelId));
		scope = { kind: 'dm', userIds: participants.map((p) => p.userId) };
	}
	// Too far behind: the caller has the sockets refetch instead of reading a thousand rows.
	if (channel.lastSeq - afterSeq > limit) return { scope, events: [], more: true, lastSeq: channel.lastSeq };
	const { events, more } = await eventsAfter(db, channelId, afterSeq, limit);
	return { scope, events, more, lastSeq: channel.lastSeq };
}

/** Every channel's last seq (a node's starting point, and its check after it may have missed events). */
export async function allChannelLastSeqs(db: Executor): Promise<Array<[string, number]>> {
	const rows = await db.select({ id: channels.id, lastSeq: channels.lastSeq }).from(channels);
	return rows.map((row) => [row.id, row.lastSeq]);
}
