// Pins: a channel's short list of messages worth finding again. Pinning is a channel event (it takes
// a sequence number through the event writer, so a reconnecting client replays it like any other
// change) shown in the channel as a notice naming who pinned. The server learns only which message
// was pinned, by whom, when: the message itself stays ciphertext.
import { and, count, desc, eq, inArray, isNotNull, isNull } from 'drizzle-orm';
import type { PinnedList } from '#lib/shared/api-types.ts';
import { PINS_PER_CHANNEL_MAX } from '#lib/shared/limits.ts';
import type { ChannelEvent, UserView } from '#lib/shared/protocol/frames.ts';
import type { Database } from '../db/open.ts';
import { messages, users } from '../db/schema.ts';
import { accessChannel, accessMessage, requireCanPin } from '../access.ts';
import { conflict, notFound } from '../errors.ts';
import { appendEvents, lockChannels, reactionsFor, toMessageView } from './channel-events.ts';
import type { EventWriter } from './event-writer.ts';

const userColumns = { id: users.id, username: users.username, displayName: users.displayName };

export class Pins {
	#db: Database;
	#writer: EventWriter;

	constructor(deps: { db: Database; writer: EventWriter }) {
		this.#db = deps.db;
		this.#writer = deps.writer;
	}

	/** Pins (or unpins) a message. Pinning what is pinned, or unpinning what is not, is a no-op: no event. */
	set(userId: string, messageId: string, pinned: boolean): Promise<{ seq: number | null }> {
		return this.#writer.run(async (tx) => {
			const { message, channel } = await accessMessage(tx, userId, messageId);
			if (message.deletedAt) throw notFound('Message');
			requireCanPin(channel);
			// The channel lock orders concurrent pins, so the count below cannot be overtaken.
			await lockChannels(tx, [message.channelId]);
			const now = new Date();
			if (pinned) {
				const [pins] = await tx
					.select({ n: count() })
					.from(messages)
					.where(and(eq(messages.channelId, message.channelId), isNotNull(messages.pinnedAt), isNull(messages.deletedAt)));
				if ((pins?.n ?? 0) >= PINS_PER_CHANNEL_MAX && !message.pinnedAt) {
					throw conflict(`A channel can have at most ${PINS_PER_CHANNEL_MAX} pinned messages: unpin one first.`);
				}
			}
			// Conditional on the current state, so two people pinning at once make one event.
			const changed = await tx
				.update(messages)
				.set(pinned ? { pinnedAt: now, pinnedBy: userId } : { pinnedAt: null, pinnedBy: null })
				.where(and(eq(messages.id, messageId), pinned ? isNull(messages.pinnedAt) : isNotNull(messages.pinnedAt)))
				.returning({ id: messages.id });
			if (changed.length === 0) return { result: { seq: null as number | null }, notices: [] };
			const type = pinned ? 'message.pinned' : 'message.unpinned';
			const [{ rows }, [actor]] = await Promise.all([
				appendEvents(tx, message.channelId, [{ type, actorId: userId, messageId, userId }], now),
				tx.select(userColumns).from(users).where(eq(users.id, userId))
			]);
			const seq = rows[0]!.seq;
			const user: UserView = actor ?? { id: userId, username: 'deleted', displayName: 'Deleted user' };
			const event: ChannelEvent = { seq, at: now.toISOString(), actorId: userId, type, messageId, user };
			return { result: { seq }, notices: [{ type: 'channel.event', channelId: message.channelId, scope: channel.scope, event }] };
		});
	}

	/** The channel's pinned messages, newest pin first, with who pinned each. */
	async list(userId: string, channelId: string): Promise<PinnedList> {
		await accessChannel(this.#db, userId, channelId);
		const rows = await this.#db
			.select()
			.from(messages)
			.where(and(eq(messages.channelId, channelId), isNotNull(messages.pinnedAt), isNull(messages.deletedAt)))
			.orderBy(desc(messages.pinnedAt))
			.limit(PINS_PER_CHANNEL_MAX);
		const pinnerIds = [...new Set(rows.map((row) => row.pinnedBy).filter((id): id is string => id !== null))];
		const [reactionMap, pinners] = await Promise.all([
			reactionsFor(this.#db, rows.map((row) => row.id)),
			pinnerIds.length ? this.#db.select(userColumns).from(users).where(inArray(users.id, pinnerIds)) : Promise.resolve([])
		]);
		const pinnerById = new Map(pinners.map((user) => [user.id, user]));
		return {
			pins: rows.map((row) => ({
				message: toMessageView(row, reactionMap.get(row.id)),
				pinnedAt: row.pinnedAt!.toISOString(),
				pinnedBy: row.pinnedBy ? (pinnerById.get(row.pinnedBy) ?? null) : null
			})),
			max: PINS_PER_CHANNEL_MAX
		};
	}
}
