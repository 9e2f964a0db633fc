// In cluster mode a node receives channel events from three sources: its own writer (at once),
// the Redis Stream (other nodes' commits, in the order they were published, not committed), and
// PostgreSQL (backfill). This puts them back in line: per channel, each event reaches the local
// sockets once and in sequence order. An event past a gap waits while the missing ones are read
// from the database by seq (the resume path's query, see backfill.ts), the way Synapse and
// Centrifugo recover a stream position.
import type { ChannelEvent } from '#lib/shared/protocol/frames.ts';
import { RESUME_MAX_EVENTS } from '#lib/shared/limits.ts';
import type { BusNotice, ChannelScope } from './bus.ts';

export type ChannelEventNotice = Extract<BusNotice, { type: 'channel.event' }>;

/** What backfill reads from the database: events after a seq, or null when the channel is gone. */
export type ChannelBackfill = (
	channelId: string,
	afterSeq: number,
	limit: number
) => Promise<{ scope: ChannelScope; events: ChannelEvent[]; more: boolean; lastSeq: number } | null>;

/** Told when a channel was too far behind to replay (its sockets are told to refetch it). */
export type ChannelResync = { channelId: string; scope: ChannelScope; lastSeq: number };

// A backfill that fails (database away) is retried after this long; events keep queueing meanwhile.
const BACKFILL_RETRY_MS = 1000;
// Backfill queries in flight at once. After an outage every busy channel lags at the same moment;
// the database pool (10 connections by default) also serves the writer, so catching up must not
// take all of it: the sends of the people online would wait behind a thousand history reads.
const BACKFILL_CONCURRENCY = 3;

export class ChannelSequencer {
	/** The last seq handed to local sockets, per channel. A channel never seen starts at 0: see seed(). */
	#delivered = new Map<string, number>();
	/** Channels being backfilled, with the events that arrived meanwhile. */
	#waiting = new Map<string, ChannelEventNotice[]>();
	#deliver: (notice: ChannelEventNotice) => void;
	#resync: (resync: ChannelResync) => void;
	#backfill: ChannelBackfill;
	#onError: (error: unknown, channelId: string) => void;
	#closed = false;
	#loading = 0;
	#slotWaiters: Array<() => void> = [];
	/** Counters for /metrics and tests. */
	readonly stats = { delivered: 0, duplicates: 0, gaps: 0, backfilled: 0, resyncs: 0 };

	constructor(options: {
		deliver: (notice: ChannelEventNotice) => void;
		resync: (resync: ChannelResync) => void;
		backfill: ChannelBackfill;
		onError: (error: unknown, channelId: string) => void;
	}) {
		this.#deliver = options.deliver;
		this.#resync = options.resync;
		this.#backfill = options.backfill;
		this.#onError = options.onError;
	}

	/**
	 * The channels' last seqs at a moment when no event after them was delivered yet (start-up,
	 * before the stream is read): events at or below them are not replayed. Channels created later
	 * begin at seq 0, which is what an unseen channel means.
	 */
	seed(lastSeqs: Iterable<[string, number]>) {
		for (const [channelId, seq] of lastSeqs) if (seq > (this.#delivered.get(channelId) ?? 0)) this.#delivered.set(channelId, seq);
	}

	delivered(channelId: string): number {
		return this.#delivered.get(channelId) ?? 0;
	}

	/** An event from any source: delivered now, dropped as a duplicate, or held behind a gap. */
	offer(notice: ChannelEventNotice) {
		if (this.#closed) return;
		const channelId = notice.channelId;
		const waiting = this.#waiting.get(channelId);
		if (waiting) {
			waiting.push(notice);
			return;
		}
		const last = this.delivered(channelId);
		const seq = notice.event.seq;
		if (seq <= last) {
			this.stats.duplicates += 1;
			return;
		}
		if (seq === last + 1) {
			this.#hand(notice);
			return;
		}
		this.stats.gaps += 1;
		this.#waiting.set(channelId, [notice]);
		void this.#fill(channelId);
	}

	/**
	 * Catches up channels whose database seq is ahead of what was delivered (after Redis was away
	 * or a peer died before publishing): what a gap would trigger, without waiting for a next event.
	 */
	catchUp(lastSeqs: Iterable<[string, number]>) {
		for (const [channelId, seq] of lastSeqs) {
			if (this.#waiting.has(channelId) || seq <= this.delivered(channelId)) continue;
			this.stats.gaps += 1;
			this.#waiting.set(channelId, []);
			void this.#fill(channelId);
		}
	}

	/** Resolves when no channel is being backfilled (tests, shutdown). */
	async idle(): Promise<void> {
		while (this.#waiting.size > 0 && !this.#closed) await new Promise((resolve) => setTimeout(resolve, 20));
	}

	close() {
		this.#closed = true;
		this.#waiting.clear();
	}

	async #takeSlot() {
		if (this.#loading < BACKFILL_CONCURRENCY) {
			this.#loading += 1;
			return;
		}
		await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
	}

	/** Hands the slot to the next waiting backfill, if any. */
	#releaseSlot() {
		const next = this.#slotWaiters.shift();
		if (next) next();
		else this.#loading -= 1;
	}

	#hand(notice: ChannelEventNotice) {
		this.#delivered.set(notice.channelId, notice.event.seq);
		this.stats.delivered += 1;
		this.#deliver(notice);
	}

	/** Reads the missing events from the database until the held ones line up, then delivers them. */
	async #fill(channelId: string) {
		while (!this.#closed) {
			const held = this.#waiting.get(channelId);
			if (!held) return;
			let loaded: Awaited<ReturnType<ChannelBackfill>>;
			await this.#takeSlot();
			try {
				loaded = await this.#backfill(channelId, this.delivered(channelId), RESUME_MAX_EVENTS);
			} catch (error) {
				this.#releaseSlot(); // not held through the pause
				this.#onError(error, channelId);
				await new Promise((resolve) => setTimeout(resolve, BACKFILL_RETRY_MS));
				continue;
			}
			this.#releaseSlot();
			if (this.#closed) return;
			const before = this.delivered(channelId);
			if (!loaded) {
				// The channel was deleted: nothing more will come for it.
				this.#waiting.delete(channelId);
				return;
			}
			if (loaded.more) {
				// Too far behind to replay event by event: the sockets refetch the channel instead.
				this.stats.resyncs += 1;
				this.#delivered.set(channelId, loaded.lastSeq);
				this.#resync({ channelId, scope: loaded.scope, lastSeq: loaded.lastSeq });
			} else {
				for (const event of loaded.events) {
					if (event.seq <= this.delivered(channelId)) continue;
					this.stats.backfilled += 1;
					this.#hand({ type: 'channel.event', channelId, scope: loaded.scope, event });
				}
			}
			// The held events (and any that arrived during the query), in seq order.
			const pending = this.#waiting.get(channelId) ?? [];
			pending.sort((a, b) => a.event.seq - b.event.seq);
			let gap = false;
			let index = 0;
			for (; index < pending.length; index += 1) {
				const notice = pending[index]!;
				const last = this.delivered(channelId);
				if (notice.event.seq <= last) {
					this.stats.duplicates += 1;
					continue;
				}
				if (notice.event.seq !== last + 1) {
					gap = true;
					break;
				}
				this.#hand(notice);
			}
			if (!gap) {
				this.#waiting.delete(channelId);
				return;
			}
			// Still a hole (an event committed after the query started): read again, pausing first if
			// this round moved nothing (the database should never lack an event a peer published).
			this.#waiting.set(channelId, pending.slice(index));
			if (this.delivered(channelId) === before) await new Promise((resolve) => setTimeout(resolve, BACKFILL_RETRY_MS));
		}
	}
}
