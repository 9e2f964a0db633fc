// The event bus of cluster mode: the same notices as the in-process bus, shared by every node
// through Valkey/Redis. PostgreSQL stays the source of truth; Redis only carries notices, so
// losing its data loses nothing that cannot be read back.
//
// - Committed notices are appended (XADD) to one Redis Stream, one entry per notice carrying the
//   publishing node's id; each node reads it (XREAD) from its last entry id. Channel events go
//   through a ChannelSequencer: in seq order, once each, gaps and lost stream positions (a trimmed
//   stream, a Redis restart, a peer killed between commit and publish) filled from PostgreSQL.
// - Ephemeral notices (typing) use plain pub/sub: a missed one is harmless.
// - The publishing node delivers to its own sockets at once, so its clients are served as fast as
//   on a single node and keep being served while Redis is away. Notices for the other nodes wait in
//   a bounded outbox until Redis takes them, in order.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { safeError } from '../logger.ts';
import { EPHEMERAL_NOTICE_TYPES, LOCAL_ONLY_NOTICE_TYPES as LOCAL_ONLY, LocalEventBus, type BusListener, type BusNotice, type EventBus } from './bus.ts';
import { ChannelSequencer, type ChannelBackfill } from './channel-sequencer.ts';

export const STREAM_KEY = 'hearth:events';
export const EPHEMERAL_CHANNEL = 'hearth:ephemeral';

// The stream keeps about this many entries (MAXLEN ~, trimmed by whole macro nodes, cheap). A node
// that falls further behind than this (paused, partitioned) catches up from PostgreSQL instead, so
// the bound only decides how often that happens: ~10k notices is minutes of a busy instance, and
// at most some tens of MB in Redis (a notice is at most one message payload plus its metadata).
const STREAM_MAXLEN = 10_000;
// Entries per XREAD, and how long one blocks waiting for new ones (the loop then checks `closed`).
const READ_COUNT = 500;
const READ_BLOCK_MS = 2000;
// Pause before reading again after an error, so a Redis that is away is not polled in a hot loop.
const READ_RETRY_MS = 500;
// Notices waiting for Redis. Beyond this the oldest are dropped and the peers are told to re-check
// against PostgreSQL when Redis returns (see #flush); channel events are recovered by seq either way.
const OUTBOX_MAX = 50_000;
// XADDs per pipeline round trip when flushing the outbox.
const FLUSH_BATCH = 500;

export type RedisEventBusStatus = {
	/** Redis answers for publishing, reading and pub/sub. */
	reachable: boolean;
	/** Why not, when not. */
	reason: string | null;
	/** Notices waiting to be sent to the other nodes. */
	outbox: number;
	sequencer: ChannelSequencer['stats'];
};

export type RedisConnections = {
	/** Commands (XADD, PUBLISH, XINFO); offline queue off, so a failure surfaces at once. */
	command: Redis;
	/** Blocking XREAD only (a blocked connection can serve nothing else). */
	reader: Redis;
	/** Pub/sub only (a subscribed connection can serve nothing else). */
	subscriber: Redis;
};

export class RedisEventBus implements EventBus {
	readonly #redis: RedisConnections;
	readonly #nodeId: string;
	readonly #log: Logger;
	readonly #local: LocalEventBus;
	readonly #sequencer: ChannelSequencer;
	readonly #channelLastSeqs: () => Promise<Array<[string, number]>>;
	#outbox: string[] = [];
	#flushing = false;
	/** The outbox overflowed: once Redis is back, peers must re-check what they hold. */
	#dropped = 0;
	/** Notices ever dropped from the outbox's front (a flush in progress accounts for them). */
	#droppedTotal = 0;
	#lastId = '$';
	#closed = false;
	#reading: Promise<void> | undefined;
	/** Connections currently down, by name, with the first error seen. */
	#down = new Map<string, string>();
	/** Set when notices may have been missed; cleared by #recover once everything is back. */
	#mustRecover: string | null = null;
	#recovering = false;

	constructor(options: {
		redis: RedisConnections;
		nodeId: string;
		log: Logger;
		backfill: ChannelBackfill;
		channelLastSeqs: () => Promise<Array<[string, number]>>;
	}) {
		this.#redis = options.redis;
		this.#nodeId = options.nodeId;
		this.#log = options.log;
		this.#channelLastSeqs = options.channelLastSeqs;
		this.#local = new LocalEventBus((error) => this.#log.error({ err: safeError(error) }, 'event subscriber failed'));
		this.#sequencer = new ChannelSequencer({
			deliver: (notice) => this.#local.publish([notice]),
			resync: (resync) => this.#local.publish([{ type: 'channel.resync', ...resync }]),
			backfill: options.backfill,
			onError: (error, channelId) => this.#log.warn({ err: safeError(error), channelId }, 'backfilling a channel from the database failed; retrying')
		});
	}

	/**
	 * Starts reading from the stream's current end. The channels' seqs are read after the end is
	 * known, so any event not covered by them is in the stream after that point.
	 */
	async start(): Promise<void> {
		const last = (await this.#redis.command.xrevrange(STREAM_KEY, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
		this.#lastId = last[0]?.[0] ?? '0-0';
		this.#sequencer.seed(await this.#channelLastSeqs());
		for (const [name, connection] of Object.entries(this.#redis)) {
			connection.on('close', () => this.#connectionDown(name, 'connection closed'));
			connection.on('error', (error: Error) => this.#connectionDown(name, safeError(error).message));
			connection.on('ready', () => {
				// Pub/sub is back only once subscribed again (ioredis resubscribes too; this one is
				// idempotent and its reply tells when it took effect): announcements sent after the
				// recovery must not fall in between.
				if (connection === this.#redis.subscriber) {
					connection.subscribe(EPHEMERAL_CHANNEL).then(
						() => this.#connectionUp(name),
						(error: unknown) => this.#connectionDown(name, safeError(error).message)
					);
				} else this.#connectionUp(name);
			});
		}
		this.#redis.subscriber.on('message', (channel: string, text: string) => {
			if (channel === EPHEMERAL_CHANNEL) this.#receive(text);
		});
		await this.#redis.subscriber.subscribe(EPHEMERAL_CHANNEL);
		this.#reading = this.#readLoop();
	}

	publish(notices: BusNotice[]): void {
		for (const notice of notices) this.#deliverLocally(notice);
		let queued = false;
		for (const notice of notices) {
			if (LOCAL_ONLY.has(notice.type)) continue;
			const text = JSON.stringify({ node: this.#nodeId, notice });
			if (EPHEMERAL_NOTICE_TYPES.has(notice.type)) {
				// Best effort by design: typing while Redis is away is simply not seen on other nodes.
				if (this.#redis.command.status === 'ready') this.#redis.command.publish(EPHEMERAL_CHANNEL, text).catch(() => {});
				continue;
			}
			this.#outbox.push(text);
			queued = true;
		}
		if (this.#outbox.length > OUTBOX_MAX) {
			const excess = this.#outbox.length - OUTBOX_MAX;
			this.#outbox.splice(0, excess);
			if (this.#dropped === 0) this.#log.error({ limit: OUTBOX_MAX }, 'Redis has been unreachable too long: dropping the oldest notices for other nodes (they re-check against the database when it returns)');
			this.#dropped += excess;
			this.#droppedTotal += excess;
		}
		if (queued) void this.#flush();
	}

	subscribe(listener: BusListener): () => void {
		return this.#local.subscribe(listener);
	}

	status(): RedisEventBusStatus {
		const down = [...this.#down].map(([name, reason]) => `${name}: ${reason}`);
		return {
			reachable: down.length === 0,
			reason: down.length ? `Redis unreachable (${down.join('; ')})` : null,
			outbox: this.#outbox.length,
			sequencer: { ...this.#sequencer.stats }
		};
	}

	/**
	 * A peer stopped heartbeating. If it died between a commit and its publish, the other nodes
	 * never hear of that commit: catch up channels and re-check connections as after an outage.
	 */
	peerLost(peerId: string) {
		this.#local.publish([{ type: 'node.left', nodeId: peerId }]);
		this.#needsRecovery(`node ${peerId} left the cluster`);
		void this.#recover();
	}

	/** A peer started heartbeating: whoever shares state with peers (presence) tells it theirs. */
	peerJoined(peerId: string) {
		this.#local.publish([{ type: 'node.joined', nodeId: peerId }]);
	}

	/** Sends what is still queued (bounded by `timeoutMs`), then stops reading. */
	async close(timeoutMs = 2000): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		while (this.#outbox.length > 0 && Date.now() < deadline && this.#redis.command.status === 'ready') {
			await this.#flush();
			if (this.#outbox.length > 0) await new Promise((resolve) => setTimeout(resolve, 20));
		}
		if (this.#outbox.length > 0) this.#log.warn({ notices: this.#outbox.length }, 'stopping with notices not sent to the other nodes (they catch up from the database)');
		this.#closed = true;
		this.#sequencer.close();
		this.#redis.reader.disconnect();
		await this.#reading?.catch(() => {});
	}

	// ------------------------------------------------------------------------------------------

	#deliverLocally(notice: BusNotice) {
		if (notice.type === 'channel.event') this.#sequencer.offer(notice);
		else this.#local.publish([notice]);
	}

	/** A notice from another node (stream entry or pub/sub message). */
	#receive(text: string) {
		let parsed: { node: string; notice?: BusNotice; dropped?: number };
		try {
			parsed = JSON.parse(text) as typeof parsed;
		} catch {
			this.#log.warn('ignored an unreadable notice from Redis');
			return;
		}
		if (parsed.node === this.#nodeId) return; // delivered locally when published
		if (parsed.dropped) {
			this.#needsRecovery(`node ${parsed.node} dropped ${parsed.dropped} notices while Redis was unreachable`);
			void this.#recover();
			return;
		}
		if (parsed.notice && !LOCAL_ONLY.has(parsed.notice.type)) this.#deliverLocally(parsed.notice);
	}

	async #flush(): Promise<void> {
		if (this.#flushing || this.#redis.command.status !== 'ready') return;
		this.#flushing = true;
		try {
			while (this.#outbox.length > 0 && !this.#closed) {
				const batch = this.#outbox.slice(0, FLUSH_BATCH);
				const droppedBefore = this.#droppedTotal;
				const pipeline = this.#redis.command.pipeline();
				for (const text of batch) pipeline.xadd(STREAM_KEY, 'MAXLEN', '~', STREAM_MAXLEN, '*', 'n', text);
				const results = (await pipeline.exec()) ?? [];
				let sent = 0;
				while (sent < batch.length && results[sent] && !results[sent]![0]) sent += 1;
				// An overflow meanwhile dropped some of this batch from the front already.
				this.#outbox.splice(0, Math.max(0, sent - (this.#droppedTotal - droppedBefore)));
				if (sent < batch.length) throw results[sent]?.[0] ?? new Error('XADD failed');
			}
			if (this.#dropped > 0) {
				await this.#redis.command.xadd(STREAM_KEY, 'MAXLEN', '~', STREAM_MAXLEN, '*', 'n', JSON.stringify({ node: this.#nodeId, dropped: this.#dropped }));
				this.#dropped = 0;
			}
		} catch (error) {
			// Kept in the outbox. A lost connection sends it when ready again (#connectionUp); an error
			// on a live connection (Redis out of memory, say) is retried after a pause.
			if (this.#redis.command.status !== 'ready') this.#connectionDown('command', safeError(error).message);
			else {
				this.#log.warn({ err: safeError(error), outbox: this.#outbox.length }, 'sending notices to Redis failed; retrying');
				setTimeout(() => void this.#flush(), READ_RETRY_MS).unref();
			}
		} finally {
			this.#flushing = false;
		}
	}

	async #readLoop(): Promise<void> {
		while (!this.#closed) {
			let reply: Array<[string, Array<[string, string[]]>]> | null;
			const from = this.#lastId;
			try {
				reply = (await this.#redis.reader.xread('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', STREAM_KEY, from)) as typeof reply;
			} catch (error) {
				if (this.#closed) return;
				this.#connectionDown('reader', safeError(error).message);
				await new Promise((resolve) => setTimeout(resolve, READ_RETRY_MS));
				continue;
			}
			// Reading works again after an error that did not drop the connection (no 'ready' event then).
			if (this.#down.has('reader') && this.#redis.reader.status === 'ready') this.#connectionUp('reader');
			const entries = reply?.[0]?.[1] ?? [];
			for (const [id, fields] of entries) {
				this.#lastId = id;
				const text = fields[1];
				if (fields[0] === 'n' && text !== undefined) this.#receive(text);
			}
			// A full batch means this node is behind: entries after its position may have been trimmed.
			if (entries.length === READ_COUNT && (await this.#trimmedAfter(from))) {
				this.#needsRecovery('the event stream was trimmed past this node\'s position');
				void this.#recover();
			}
			if (this.#mustRecover) void this.#recover();
		}
	}

	/** Whether entries newer than `id` were trimmed away (XINFO STREAM's max-deleted-entry-id, Redis 7+). */
	async #trimmedAfter(id: string): Promise<boolean> {
		try {
			const info = (await this.#redis.command.xinfo('STREAM', STREAM_KEY)) as unknown[];
			const index = info.indexOf('max-deleted-entry-id');
			const maxDeleted = index >= 0 ? String(info[index + 1]) : '0-0';
			return compareStreamIds(maxDeleted, id) > 0;
		} catch {
			return true; // unsure: catching up costs a query, missing events costs correctness
		}
	}

	#connectionDown(name: string, reason: string) {
		if (this.#closed) return;
		if (!this.#down.has(name)) {
			this.#down.set(name, reason);
			this.#log.warn({ connection: name, reason }, 'Redis connection lost: serving this node\'s sockets only until it returns');
		}
		this.#needsRecovery('Redis was unreachable');
	}

	#connectionUp(name: string) {
		if (!this.#down.delete(name)) return;
		this.#log.info({ connection: name }, 'Redis connection restored');
		if (name === 'command') void this.#flush();
		if (this.#down.size === 0) void this.#recover();
	}

	#needsRecovery(reason: string) {
		this.#mustRecover ??= reason;
	}

	/** After notices may have been missed: channels catch up from PostgreSQL; connections re-check. */
	async #recover() {
		if (this.#recovering || !this.#mustRecover || this.#closed || this.#down.size > 0) return;
		this.#recovering = true;
		const reason = this.#mustRecover;
		this.#mustRecover = null;
		try {
			// A stream whose newest entry is older than this node's position (a replica promoted with
			// a clock behind, a restored snapshot) would hide new entries until its clock passes ours:
			// read from its end instead; the catch-up below covers what came before.
			const [newest] = (await this.#redis.command.xrevrange(STREAM_KEY, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
			const newestId = newest?.[0] ?? '0-0';
			if (compareStreamIds(newestId, this.#lastId) < 0) {
				this.#log.warn({ position: this.#lastId, newest: newestId }, 'the event stream is behind this node\'s position: reading from its end');
				this.#lastId = newestId;
			}
			this.#sequencer.catchUp(await this.#channelLastSeqs());
			this.#local.publish([{ type: 'notices.missed', reason }]);
			this.#log.info({ reason }, 'caught up from the database after possibly missed notices');
		} catch (error) {
			this.#log.warn({ err: safeError(error) }, 'catching up from the database failed; retrying');
			this.#needsRecovery(reason);
			setTimeout(() => void this.#recover(), READ_RETRY_MS).unref();
		} finally {
			this.#recovering = false;
		}
	}
}

/** Orders two stream ids ("ms-seq"). */
export function compareStreamIds(a: string, b: string): number {
	const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
	const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
	return aMs !== bMs ? aMs - bMs : aSeq - bSeq;
}
