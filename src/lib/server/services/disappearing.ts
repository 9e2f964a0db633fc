// Disappearing messages: a conversation's timer, and the expiry job that deletes what outlived it.
//
// The timer is a channel setting changed by those allowed (community: "manage channels"; DM: either
// person), announced in the conversation as a channel event. Messages get their expiry time when
// sent. The job runs at start (catching up on anything that expired while the server was down) and
// then every SWEEP_INTERVAL_MS: it deletes expired messages for good, turns every event that named
// them into a plain "message.deleted" (a client resuming from before never sees them), appends one
// "message.deleted" per message so connected clients drop them from the screen, their local search
// index and their key store, and deletes expired attachments.
import { and, asc, eq, inArray, isNotNull, lte } from 'drizzle-orm';
import { isDisappearingChoice, DISAPPEARING_CHOICES } from '#lib/shared/disappearing.ts';
import type { ChannelEvent, UserView } from '#lib/shared/protocol/frames.ts';
import type { Database } from '../db/open.ts';
import { attachments, channelEvents, channels, dmParticipants, messages, users } from '../db/schema.ts';
import { dropThreadReplies } from './threads.ts';
import type { BusNotice, ChannelScope } from '../events/bus.ts';
import { accessChannel, missingPermission } from '../access.ts';
import { forbidden, invalid } from '../errors.ts';
import { appendEvents } from './channel-events.ts';
import type { EventWriter } from './event-writer.ts';

/** How often the job looks for expired messages: the shortest timer is an hour, a minute late is fine. */
export const SWEEP_INTERVAL_MS = 60_000;
/** Messages deleted per transaction, so one sweep never holds channel locks for long. */
const SWEEP_BATCH = 500;
/** An attachment outlives its timer by this much: the time between uploading a file and sending its message. */
export const ATTACHMENT_EXPIRY_GRACE_MS = 60 * 60_000;

const userColumns = { id: users.id, username: users.username, displayName: users.displayName };

export class DisappearingMessages {
	#db: Database;
	#writer: EventWriter;
	#timer: ReturnType<typeof setInterval> | undefined;

	constructor(deps: { db: Database; writer: EventWriter }) {
		this.#db = deps.db;
		this.#writer = deps.writer;
	}

	/** Sets a conversation's timer (a no-op, without a notice, when it is already that). */
	async setTimer(userId: string, channelId: string, seconds: number): Promise<{ seq: number | null; seconds: number }> {
		if (!isDisappearingChoice(seconds)) throw invalid(`The timer must be one of ${DISAPPEARING_CHOICES.join(', ')} seconds (0 turns it off).`);
		return this.#writer.run(async (tx) => {
			const access = await accessChannel(tx, userId, channelId);
			if (access.channel.archivedAt) throw forbidden('This channel is archived: its settings cannot change.');
			if (access.scope.kind === 'community' && !access.permissions.has('manage_channels')) throw missingPermission('manage_channels');
			if (access.channel.disappearingSeconds === seconds) return { result: { seq: null as number | null, seconds }, notices: [] };
			const now = new Date();
			await tx.update(channels).set({ disappearingSeconds: seconds }).where(eq(channels.id, channelId));
			const [{ rows }, [actor]] = await Promise.all([
				appendEvents(tx, channelId, [{ type: 'disappearing.set', actorId: userId, userId, seconds }], now),
				tx.select(userColumns).from(users).where(eq(users.id, userId))
			]);
			const seq = rows[0]!.seq;
			const user: UserView = actor ?? { id: userId, username: 'deleted', displayName: 'Deleted user' };
			const event: ChannelEvent = { seq, at: now.toISOString(), actorId: userId, type: 'disappearing.set', seconds, user };
			return { result: { seq, seconds }, notices: [{ type: 'channel.event', channelId, scope: access.scope, event }] };
		});
	}

	/** Deletes everything expired at `now`; returns how many messages went. */
	async sweep(now = new Date()): Promise<{ messages: number; attachments: number }> {
		let deleted = 0;
		for (;;) {
			const due = await this.#db
				.select({ id: messages.id, channelId: messages.channelId })
				.from(messages)
				.where(and(isNotNull(messages.expiresAt), lte(messages.expiresAt, now)))
				.orderBy(asc(messages.expiresAt))
				.limit(SWEEP_BATCH);
			if (due.length === 0) break;
			const byChannel = new Map<string, string[]>();
			for (const row of due) byChannel.set(row.channelId, [...(byChannel.get(row.channelId) ?? []), row.id]);
			for (const [channelId, ids] of byChannel) await this.#expire(channelId, ids, now);
			deleted += due.length;
			if (due.length < SWEEP_BATCH) break;
		}
		const gone = await this.#db.delete(attachments).where(and(isNotNull(attachments.expiresAt), lte(attachments.expiresAt, now))).returning({ id: attachments.id });
		return { messages: deleted, attachments: gone.length };
	}

	#expire(channelId: string, due: string[], now: Date): Promise<void> {
		let ids = due;
		return this.#writer.run(async (tx) => {
			// Reactions, revisions and pins go with the rows (foreign keys cascade, pins are columns).
			// Only what this transaction deleted is announced: in a cluster every node sweeps, and the
			// row locks make a second sweep of the same rows find them gone.
			const goneRows = await tx.delete(messages).where(inArray(messages.id, ids)).returning({ id: messages.id, threadRootId: messages.threadRootId });
			if (goneRows.length === 0) return { result: undefined, notices: [] };
			ids = goneRows.map((row) => row.id);
			const rootOf = new Map(goneRows.filter((row) => row.threadRootId).map((row) => [row.id, row.threadRootId!]));
			// What the log said about them (created, edited, reacted, pinned) becomes "deleted": replayed
			// to a client that was away, it shows nothing of them, and no author or reactor is kept.
			await tx
				.update(channelEvents)
				.set({ type: 'message.deleted', actorId: null, data: {} })
				.where(and(eq(channelEvents.channelId, channelId), inArray(channelEvents.messageId, ids)));
			const { rows } = await appendEvents(
				tx,
				channelId,
				ids.map((messageId) => ({ type: 'message.deleted' as const, actorId: null, messageId })),
				now
			);
			// Expired thread replies leave their roots' counts (the channel is locked by appendEvents).
			const threads = await dropThreadReplies(tx, [...rootOf.values()]);
			const scope = await scopeOf(tx, channelId);
			const notices: BusNotice[] = rows.map((row) => {
				const thread = threads.get(rootOf.get(row.messageId!) ?? '');
				return {
					type: 'channel.event',
					channelId,
					scope,
					event: { seq: row.seq, at: now.toISOString(), actorId: null, type: 'message.deleted', messageId: row.messageId!, ...(thread ? { thread } : {}) }
				};
			});
			return { result: undefined, notices };
		});
	}

	/** Runs the job now and then every SWEEP_INTERVAL_MS until stop(). */
	start(onError: (error: unknown) => void, onSwept?: (counts: { messages: number; attachments: number }) => void): void {
		const run = () =>
			this.sweep()
				.then((counts) => onSwept?.(counts))
				.catch(onError);
		void run();
		this.#timer = setInterval(run, SWEEP_INTERVAL_MS);
		this.#timer.unref();
	}

	stop(): void {
		clearInterval(this.#timer);
	}
}

async function scopeOf(db: Parameters<typeof appendEvents>[0], channelId: string): Promise<ChannelScope> {
	const [channel] = await db.select({ communityId: channels.communityId }).from(channels).where(eq(channels.id, channelId));
	if (channel?.communityId) return { kind: 'community', communityId: channel.communityId };
	const participants = await db.select({ userId: dmParticipants.userId }).from(dmParticipants).where(eq(dmParticipants.channelId, channelId));
	return { kind: 'dm', userIds: participants.map((p) => p.userId) };
}
