// One handler per client frame type. Each reads as: authorize (inside the service) → act → answer.
// Handlers never see unvalidated input: frames are parsed against the shared schemas first.
import { AppError } from '#lib/server/errors.ts';
import type { ChannelEvent, ClientFrameOf, ClientFrameType } from '#lib/shared/protocol/frames.ts';
import type { AppContext } from '#lib/server/context.ts';
import type { Connection } from './connection.ts';
import type { Hub } from './hub.ts';
import type { CallService } from '../calls/call-service.ts';

export type HandlerContext = { app: AppContext; hub: Hub; conn: Connection; calls: CallService };

// Call frames of one connection run one after another, in the order sent: a call.leave sent right
// after a call.join (the person clicked twice) must find the peer that join creates, not overtake
// it while the join waits for the database and leave a peer nobody owns until the socket closes.
const callQueues = new WeakMap<Connection, Promise<unknown>>();
function inCallOrder<T>(conn: Connection, action: () => Promise<T> | T): Promise<T> {
	const previous = callQueues.get(conn) ?? Promise.resolve();
	const next = previous.catch(() => {}).then(action);
	callQueues.set(conn, next);
	return next;
}
type Handler<K extends ClientFrameType> = (ctx: HandlerContext, frame: ClientFrameOf<K>) => Promise<void> | void;

// Replayed events go out in frames of at most this many, so one frame stays well under client limits.
const RESUME_CHUNK = 200;
// Channels of one resume frame whose missed events are loaded together (bounds the memory one frame holds).
const RESUME_CURSORS_AT_ONCE = 20;

/**
 * Sends replayed events in frames of at most RESUME_CHUNK events and about `budget` bytes, each
 * once the outgoing buffer has drained below `budget`: a replay of many or large messages then
 * never fills the buffer (which would disconnect the client as a slow consumer, and it would
 * reconnect and ask for the same replay again), and leaves room for live events meanwhile.
 */
// Events replayed to many sockets at once (resumes are answered in batches, sharing event objects)
// are serialised once.
const replayText = new WeakMap<ChannelEvent, string>();
function textOf(event: ChannelEvent): string {
	let text = replayText.get(event);
	if (text === undefined) replayText.set(event, (text = JSON.stringify(event)));
	return text;
}

async function sendReplay(conn: Connection, channelId: string, events: ChannelEvent[], budget: number): Promise<void> {
	const head = `{"t":"events","channelId":${JSON.stringify(channelId)},"events":[`;
	let parts: string[] = [];
	let size = 0;
	const flush = async () => {
		if (parts.length === 0) return;
		await conn.whenBufferBelow(budget);
		conn.sendRaw(`${head}${parts.join(',')}]}`);
		parts = [];
		size = 0;
	};
	for (const event of events) {
		const text = textOf(event);
		if (parts.length >= RESUME_CHUNK || (parts.length > 0 && size + text.length > budget)) await flush();
		parts.push(text);
		size += text.length;
	}
	await flush();
}

export const handlers: { [K in ClientFrameType]: Handler<K> } = {
	async resume({ app, conn }, frame) {
		const resync: string[] = [];
		const inaccessible: string[] = [];
		const budget = Math.floor(conn.maxBufferedBytes / 4);
		// Cursors are loaded RESUME_CURSORS_AT_ONCE at a time in one batch (a person in thirty
		// channels costs the statements of one), and replayed in the order the client listed them.
		for (let start = 0; start < frame.cursors.length; start += RESUME_CURSORS_AT_ONCE) {
			const cursors = frame.cursors.slice(start, start + RESUME_CURSORS_AT_ONCE);
			// Not (or no longer) a member: null, and the client drops that channel. Anything else (the
			// database is away) fails the whole frame, and the client resumes again later.
			const outcomes = await Promise.all(
				cursors.map((cursor) =>
					app.services.messages.resume(conn.userId, cursor.channelId, cursor.seq).catch((error: unknown) => {
						if (error instanceof AppError && error.status === 404) return null;
						throw error;
					})
				)
			);
			for (const [i, cursor] of cursors.entries()) {
				const outcome = outcomes[i];
				if (!outcome) {
					inaccessible.push(cursor.channelId);
					continue;
				}
				if (outcome.kind === 'resync') {
					resync.push(cursor.channelId);
					await conn.whenBufferBelow(budget);
					conn.send({ t: 'resync', channelId: cursor.channelId, lastSeq: outcome.lastSeq });
					continue;
				}
				await sendReplay(conn, cursor.channelId, outcome.events, budget);
			}
		}
		await conn.whenBufferBelow(budget);
		conn.send({ t: 'ack', id: frame.id, result: { resync, inaccessible } });
	},

	async 'message.send'({ app, conn }, frame) {
		const { message, duplicate } = await app.services.messages.send({
			userId: conn.userId,
			channelId: frame.channelId,
			clientId: frame.clientId,
			payload: frame.payload,
			replyToId: frame.replyToId,
			mentions: frame.mentions,
			threadRootId: frame.threadRootId
		});
		conn.send({ t: 'ack', id: frame.id, result: { messageId: message.id, seq: message.seq, createdAt: message.createdAt, duplicate } });
	},

	async 'message.edit'({ app, conn }, frame) {
		const { seq } = await app.services.messages.edit(conn.userId, frame.messageId, frame.payload);
		conn.send({ t: 'ack', id: frame.id, result: { seq } });
	},

	async 'message.delete'({ app, conn }, frame) {
		const { seq } = await app.services.messages.delete(conn.userId, frame.messageId);
		conn.send({ t: 'ack', id: frame.id, result: { seq } });
	},

	async 'message.pin'({ app, conn }, frame) {
		const { seq } = await app.services.pins.set(conn.userId, frame.messageId, true);
		conn.send({ t: 'ack', id: frame.id, result: { seq } });
	},

	async 'message.unpin'({ app, conn }, frame) {
		const { seq } = await app.services.pins.set(conn.userId, frame.messageId, false);
		conn.send({ t: 'ack', id: frame.id, result: { seq } });
	},

	async 'reaction.add'({ app, conn }, frame) {
		const { seq } = await app.services.messages.react(conn.userId, frame.messageId, frame.key, true);
		conn.send({ t: 'ack', id: frame.id, result: { seq } });
	},

	async 'reaction.remove'({ app, conn }, frame) {
		const { seq } = await app.services.messages.react(conn.userId, frame.messageId, frame.key, false);
		conn.send({ t: 'ack', id: frame.id, result: { seq } });
	},

	async read({ app, conn }, frame) {
		const seq = await app.services.messages.markRead(conn.userId, frame.channelId, frame.seq);
		if (frame.id) conn.send({ t: 'ack', id: frame.id, result: { seq } });
	},

	async typing({ hub, conn }, frame) {
		// Silently ignored when the channel is not visible: typing is best-effort and unanswered.
		await hub.typing(conn, frame.channelId);
	},

	presence({ hub, conn }, frame) {
		hub.setStatus(conn, frame.status);
	},

	async 'presence.set'({ app, conn }, frame) {
		// Kept in the database, then announced on the bus: every node's hub (this one included)
		// applies it before the ack, and the person's other tabs hear of it.
		const choice = await app.services.profiles.setPresence(conn.userId, frame.choice);
		conn.send({ t: 'ack', id: frame.id, result: { choice } });
	},

	async 'call.join'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			const joined = await calls.join(conn, frame.channelId);
			if (joined) conn.send({ t: 'ack', id: frame.id, result: joined });
		});
	},

	async 'call.leave'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			conn.send({ t: 'ack', id: frame.id, result: { left: calls.leave(conn) } });
		});
	},

	async 'call.transport.create'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			conn.send({ t: 'ack', id: frame.id, result: await calls.createTransport(conn, frame.direction) });
		});
	},

	async 'call.transport.connect'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			await calls.connectTransport(conn, frame.transportId, frame.dtlsParameters);
			conn.send({ t: 'ack', id: frame.id });
		});
	},

	async 'call.produce'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			const result = await calls.produce(conn, { transportId: frame.transportId, kind: frame.kind, source: frame.source, rtpParameters: frame.rtpParameters });
			conn.send({ t: 'ack', id: frame.id, result });
		});
	},

	async 'call.producer.close'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			calls.closeProducer(conn, frame.producerId);
			conn.send({ t: 'ack', id: frame.id });
		});
	},

	async 'call.producer.pause'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			await calls.setProducerPaused(conn, frame.producerId, true);
			conn.send({ t: 'ack', id: frame.id });
		});
	},

	async 'call.producer.resume'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			await calls.setProducerPaused(conn, frame.producerId, false);
			conn.send({ t: 'ack', id: frame.id });
		});
	},

	async 'call.consume'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			const result = await calls.consume(conn, { transportId: frame.transportId, producerId: frame.producerId, rtpCapabilities: frame.rtpCapabilities });
			conn.send({ t: 'ack', id: frame.id, result });
		});
	},

	async 'call.consumer.resume'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			await calls.resumeConsumer(conn, frame.consumerId);
			conn.send({ t: 'ack', id: frame.id });
		});
	},

	async 'call.consumer.layers'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			conn.send({ t: 'ack', id: frame.id, result: await calls.setPreferredLayers(conn, frame.consumerId, frame.spatialLayer) });
		});
	},

	async 'call.transport.restartIce'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			conn.send({ t: 'ack', id: frame.id, result: await calls.restartIce(conn, frame.transportId) });
		});
	},

	async 'call.moderate'({ calls, conn }, frame) {
		await inCallOrder(conn, async () => {
			await calls.moderate(conn, { channelId: frame.channelId, userId: frame.userId, action: frame.action });
			conn.send({ t: 'ack', id: frame.id });
		});
	},

	ping({ conn }, frame) {
		conn.send({ t: 'pong', id: frame.id });
	}
};
