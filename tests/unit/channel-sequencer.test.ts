// The per-channel ordering of a cluster node (src/lib/server/events/channel-sequencer.ts): events
// from its own writer, the Redis Stream and database backfill reach sockets once each, in seq order.
import { describe, expect, it } from 'vitest';
import type { ChannelEvent } from '#lib/shared/protocol/frames.ts';
import type { ChannelScope } from '#lib/server/events/bus.ts';
import { ChannelSequencer, type ChannelEventNotice, type ChannelResync } from '#lib/server/events/channel-sequencer.ts';

const scope: ChannelScope = { kind: 'community', communityId: 'c1' };

function event(seq: number): ChannelEvent {
	return { seq, at: new Date(0).toISOString(), actorId: 'u1', type: 'message.deleted', messageId: `m${seq}` };
}
const notice = (channelId: string, seq: number): ChannelEventNotice => ({ type: 'channel.event', channelId, scope, event: event(seq) });

/** A sequencer whose "database" holds events 1..lastSeq of every channel. */
function setUp(database: Map<string, number>, options: { failFirst?: number } = {}) {
	const delivered: Array<[string, number]> = [];
	const resyncs: ChannelResync[] = [];
	const queries: Array<[string, number]> = [];
	let failures = options.failFirst ?? 0;
	const sequencer = new ChannelSequencer({
		deliver: (n) => delivered.push([n.channelId, n.event.seq]),
		resync: (r) => resyncs.push(r),
		onError: () => {},
		backfill: async (channelId, afterSeq, limit) => {
			queries.push([channelId, afterSeq]);
			if (failures > 0) {
				failures -= 1;
				throw new Error('database away');
			}
			const lastSeq = database.get(channelId);
			if (lastSeq === undefined) return null;
			if (lastSeq - afterSeq > limit) return { scope, events: [], more: true, lastSeq };
			const events = [];
			for (let seq = afterSeq + 1; seq <= lastSeq; seq += 1) events.push(event(seq));
			return { scope, events, more: false, lastSeq };
		}
	});
	return { sequencer, delivered, resyncs, queries };
}

describe('the channel sequencer', () => {
	it('delivers consecutive events at once and drops ones already delivered', () => {
		const { sequencer, delivered, queries } = setUp(new Map());
		sequencer.seed([['a', 4]]);
		for (const seq of [5, 6, 6, 4, 7]) sequencer.offer(notice('a', seq));
		expect(delivered).toEqual([['a', 5], ['a', 6], ['a', 7]]);
		expect(queries).toEqual([]);
		expect(sequencer.stats.duplicates).toBe(2);
	});

	it('fills a gap from the database before delivering the event after it, and then drops the late copies', async () => {
		const database = new Map([['a', 6]]);
		const { sequencer, delivered, queries } = setUp(database);
		sequencer.seed([['a', 2]]);
		sequencer.offer(notice('a', 6)); // 3..5 were published by other nodes but not received yet
		sequencer.offer(notice('b', 1)); // another channel is not held up
		await sequencer.idle();
		sequencer.offer(notice('a', 3));
		sequencer.offer(notice('a', 5));
		expect(delivered).toEqual([['b', 1], ['a', 3], ['a', 4], ['a', 5], ['a', 6]]);
		expect(queries).toEqual([['a', 2]]);
	});

	it('holds events that arrive during a backfill and delivers them in order after it', async () => {
		const database = new Map([['a', 3]]);
		const { sequencer, delivered } = setUp(database);
		sequencer.offer(notice('a', 3));
		database.set('a', 5);
		sequencer.offer(notice('a', 5));
		sequencer.offer(notice('a', 4));
		await sequencer.idle();
		expect(delivered).toEqual([['a', 1], ['a', 2], ['a', 3], ['a', 4], ['a', 5]]);
	});

	it('retries a backfill the database failed, without losing the held events', async () => {
		const { sequencer, delivered, queries } = setUp(new Map([['a', 2]]), { failFirst: 1 });
		sequencer.offer(notice('a', 2));
		await sequencer.idle();
		expect(delivered).toEqual([['a', 1], ['a', 2]]);
		expect(queries).toEqual([['a', 0], ['a', 0]]);
	});

	it('has the sockets refetch a channel too far behind to replay', async () => {
		const { sequencer, delivered, resyncs } = setUp(new Map([['a', 5000]]));
		sequencer.offer(notice('a', 5000));
		await sequencer.idle();
		expect(resyncs).toEqual([{ channelId: 'a', scope, lastSeq: 5000 }]);
		expect(delivered).toEqual([]);
		sequencer.offer(notice('a', 5001));
		expect(delivered).toEqual([['a', 5001]]);
	});

	it('catches up channels the database is ahead in, without waiting for their next event', async () => {
		const { sequencer, delivered } = setUp(new Map([['a', 3], ['b', 1]]));
		sequencer.seed([['a', 1], ['b', 1]]);
		sequencer.catchUp([['a', 3], ['b', 1]]);
		await sequencer.idle();
		expect(delivered).toEqual([['a', 2], ['a', 3]]);
	});

	it('reads at most three channels from the database at once, however many lag', async () => {
		const database = new Map(Array.from({ length: 20 }, (_, i) => [`c${i}`, 2] as [string, number]));
		let inFlight = 0;
		let most = 0;
		const delivered: string[] = [];
		const sequencer = new ChannelSequencer({
			deliver: (n) => delivered.push(`${n.channelId}:${n.event.seq}`),
			resync: () => {},
			onError: () => {},
			backfill: async (channelId, afterSeq) => {
				inFlight += 1;
				most = Math.max(most, inFlight);
				await new Promise((resolve) => setTimeout(resolve, 5));
				inFlight -= 1;
				const events = [];
				for (let seq = afterSeq + 1; seq <= database.get(channelId)!; seq += 1) events.push(event(seq));
				return { scope, events, more: false, lastSeq: database.get(channelId)! };
			}
		});
		sequencer.catchUp(database);
		await sequencer.idle();
		expect(most).toBe(3);
		expect(delivered).toHaveLength(40);
	});

	it('forgets a channel deleted while its gap was being filled', async () => {
		const { sequencer, delivered } = setUp(new Map());
		sequencer.offer(notice('gone', 3));
		await sequencer.idle();
		expect(delivered).toEqual([]);
	});
});
