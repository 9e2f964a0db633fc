// Calls across nodes (cluster mode), LiveKit's pattern: a voice channel's call lives on one node,
// chosen when the first person joins, and the participants whose /ws is on another node have their
// call.* frames relayed to it over Redis, and its answers and announcements relayed back.
//
// - Placement: the key `hearth:call:<channel>` names the owning node. It is written only by a
//   compare-and-set script (the lock: two first joins on two nodes at once agree on one owner), for
//   the least-loaded live node that runs calls (`hearth:call-nodes`: node → participants, written by
//   every node with a live worker; CALL_WORKERS=0 nodes never appear). The owner keeps the key alive
//   while the call lasts; a key naming a node that stopped heartbeating is replaced.
// - Relay: each node listens on `hearth:calls:<instance>`. The node of the socket (the origin) sends
//   the frame; the owner runs it with the same handlers as a local frame, against a stand-in
//   connection whose send() publishes back to the origin, which writes it to the socket.
// - Media: transports are created by the owner's workers, so each call announces the media address
//   of the node it lives on (its CALL_ANNOUNCED_ADDRESS); browsers send media there directly.
// - A node dies: the origins end their sockets' calls on it with `rejoin` (the call re-forms on a
//   live node when they join again); the owners let the dead origin's participants leave.
import type { Redis } from 'ioredis';
import type { ClientFrame, ServerFrame } from '#lib/shared/protocol/frames.ts';
import { ErrorCode } from '#lib/shared/protocol/codes.ts';
import type { AppContext } from '#lib/server/context.ts';
import type { Cluster } from '#lib/server/cluster/cluster.ts';
import { NODE_TTL_MS, NODES_KEY } from '#lib/server/cluster/node-registry.ts';
import { safeError, type Logger } from '#lib/server/logger.ts';
import type { Connection } from '../realtime/connection.ts';
import type { CallConnection } from './call-room.ts';
import type { CallService } from './call-service.ts';
import { accessCall } from './call-access.ts';

const CALL_KEY = (channelId: string) => `hearth:call:${channelId}`;
const LOAD_KEY = 'hearth:call-nodes';
const INBOX = (instanceId: string) => `hearth:calls:${instanceId}`;
const REMOVED_KEY = (channelId: string, userId: string) => `hearth:call-removed:${channelId}:${userId}`;
// The owner renews its calls' keys every LOAD_INTERVAL_MS; a key not renewed for CALL_KEY_TTL_MS
// (the owner is gone or the call ended) lapses. Several renewals fit in the TTL, so a busy event
// loop does not lose a live call its key.
const LOAD_INTERVAL_MS = 2_000;
const CALL_KEY_TTL_MS = 15_000;

// Liveness in these scripts is read from the heartbeats themselves (`hearth:nodes`, scores: each
// node's last beat), not from the caller's view of its peers: that view is refreshed once per beat,
// so a node that joined a moment ago is unknown to the others for up to 2 s, and two first joins
// at once, one on a node that does not know the other yet, would each place the call on itself.
//
// The owner of a call if it is live: KEYS[1] the call key, KEYS[2] the heartbeats, ARGV[1] the
// oldest beat that counts as live. Returns the owner, or nil.
const OWNER_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return false end
local beat = redis.call('ZSCORE', KEYS[2], current)
if beat and tonumber(beat) >= tonumber(ARGV[1]) then return current end
return false`;

// Sets the owner of a call unless a live one is already set: KEYS[1] the call key, KEYS[2] the
// heartbeats, ARGV[1] the candidate, ARGV[2] the TTL, ARGV[3] the oldest beat that counts as live.
// Returns the owner in force.
const PLACE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local beat = redis.call('ZSCORE', KEYS[2], current)
  if beat and tonumber(beat) >= tonumber(ARGV[3]) then return current end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`;

// Renews the owner's key of a call it holds, unless another node took the channel over meanwhile
// (this node looked dead for a moment, or Redis was away and each node formed its own call):
// KEYS[1] the call key, ARGV[1] this node, ARGV[2] the TTL. Returns the owner in force.
const RENEW_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if (not current) or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return current`;

// A relayed call frame unanswered this long was lost on the way (pub/sub keeps nothing for a
// subscriber that blipped): the socket is told, and its call rejoins. The call's node answers in
// milliseconds; a node that died is noticed sooner through its heartbeat.
const RELAY_ANSWER_MS = 10_000;

type RelayMessage =
	/** origin → owner: a call frame of a socket on the origin. */
	| { k: 'frame'; from: string; connId: string; userId: string; sessionId: string; frame: ClientFrame }
	/** origin → owner: that socket left the call without a frame (closed, or joined another call). */
	| { k: 'gone'; from: string; connId: string }
	/** owner → origin: a frame for that socket, serialised (rooms serialise a broadcast once). */
	| { k: 'push'; connId: string; raw: string };

/**
 * Origin side: a socket of this node in a call on another node. `joinId`/`leaveId`: the request
 * ids of a join or leave on its way, whose answer decides whether the socket is still in the call.
 */
type RemoteCall = { conn: Connection; owner: string; channelId: string; joinId: string | null; leaveId: string | null };

/** A participant on another node, as the owner's calls see it. */
class RemoteParticipant implements CallConnection {
	readonly id: string;
	readonly userId: string;
	/** The socket's session on its node: the call's encryption device is the session's. */
	readonly sessionId: string;
	readonly origin: string;
	readonly log: Logger;
	closed = false;
	readonly #send: (raw: string) => void;

	constructor(origin: string, id: string, userId: string, sessionId: string, log: Logger, send: (raw: string) => void) {
		this.origin = origin;
		this.id = id;
		this.userId = userId;
		this.sessionId = sessionId;
		this.log = log;
		this.#send = send;
	}

	send(frame: ServerFrame): void {
		this.sendRaw(JSON.stringify(frame));
	}

	sendRaw(text: string): void {
		if (!this.closed) this.#send(text);
	}

	sendError(id: string | undefined, code: string, message: string, retryAfterMs?: number): void {
		this.send({ t: 'error', ...(id !== undefined ? { id } : {}), code, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
	}
}

/** Runs one call frame for a connection the way ws-server's dispatch does (errors become error frames). */
export type RunCallFrame = (conn: CallConnection & Pick<Connection, 'sendError' | 'log'>, frame: ClientFrame) => Promise<void>;

export class ClusterCalls {
	readonly #cluster: Cluster;
	readonly #db: AppContext['database']['db'];
	readonly #calls: CallService;
	readonly #run: RunCallFrame;
	readonly #log: Logger;
	readonly #self: string;
	readonly #command: Redis;
	readonly #subscriber: Redis;
	/** Origin side: this node's sockets in a call on another node. */
	readonly #remote = new Map<string, RemoteCall>();
	/** Owner side: participants whose socket is on another node, by origin and connection id. */
	readonly #participants = new Map<string, RemoteParticipant>();
	readonly #routing = new WeakMap<Connection, Promise<boolean>>();
	/** Origin side: call.moderate frames sent to another node, by connection and request id, until answered. */
	readonly #moderating = new Map<string, { conn: Connection; owner: string }>();
	/** Origin side: relayed request frames not answered yet, by connection and request id. */
	readonly #unanswered = new Map<string, NodeJS.Timeout>();
	readonly #timer: NodeJS.Timeout;
	readonly #unsubscribe: () => void;

	constructor(app: AppContext, cluster: Cluster, calls: CallService, run: RunCallFrame) {
		this.#cluster = cluster;
		this.#db = app.database.db;
		this.#calls = calls;
		this.#run = run;
		this.#log = app.log.child({ component: 'cluster-calls' });
		this.#self = cluster.instanceId;
		this.#command = cluster.commandConnection;
		this.#subscriber = cluster.newConnection('calls');
		this.#subscriber.on('message', (_channel: string, text: string) => this.#onMessage(text));
		void this.#subscriber.subscribe(INBOX(this.#self)).catch((error) => this.#log.warn({ err: safeError(error) }, 'cannot listen for relayed call frames'));
		this.#timer = setInterval(() => void this.#advertise(), LOAD_INTERVAL_MS);
		this.#timer.unref();
		void this.#advertise();
		this.#unsubscribe = app.bus.subscribe((notice) => {
			if (notice.type === 'node.left') this.#nodeLost(notice.nodeId);
		});
		// Removal cooldowns outlive the node that holds the call (Redis away: each node's own memory).
		const command = this.#command;
		calls.shareRemovals({
			remember: (channelId, userId, ms) => void command.set(REMOVED_KEY(channelId, userId), '1', 'PX', ms).catch(() => {}),
			msLeft: async (channelId, userId) => Math.max(0, await command.pttl(REMOVED_KEY(channelId, userId)).catch(() => 0))
		});
	}

	/**
	 * Routes a call frame of a socket on this node: true when it went to another node (its answer
	 * comes back by relay), false when this node serves it. One frame of a socket at a time, in the
	 * order sent: a call.leave right behind a call.join must follow the join to its node.
	 */
	route(conn: Connection, frame: ClientFrame): Promise<boolean> {
		const previous = this.#routing.get(conn) ?? Promise.resolve(false);
		const next = previous.catch(() => false).then(() => this.#route(conn, frame));
		this.#routing.set(conn, next);
		return next;
	}

	async #route(conn: Connection, frame: ClientFrame): Promise<boolean> {
		if (frame.t === 'call.join') return this.#routeJoin(conn, frame);
		if (frame.t === 'call.moderate') {
			// Redis away: served here, as on a single node.
			const owner = await this.#liveOwner(frame.channelId).catch(() => null);
			if (!owner || owner === this.#self) return false;
			// Its answer comes back for a socket that may be in no call here: remembered until then.
			this.#moderating.set(`${conn.id}/${frame.id}`, { conn, owner });
			this.#relay(owner, conn, frame);
			return true;
		}
		const remote = this.#remote.get(conn.id);
		if (!remote) return false;
		// Still routed to the owner until it answers: the answer comes back through this entry.
		if (frame.t === 'call.leave') remote.leaveId = frame.id;
		this.#relay(remote.owner, conn, frame);
		return true;
	}

	async #routeJoin(conn: Connection, frame: Extract<ClientFrame, { t: 'call.join' }>): Promise<boolean> {
		// Authorized here first (the call's node checks again): someone who may not see the channel
		// places no call anywhere.
		await accessCall(this.#db, conn.userId, frame.channelId);
		const owner = await this.#place(frame.channelId);
		const previous = this.#remote.get(conn.id);
		if (previous) {
			if (previous.owner === owner && previous.channelId === frame.channelId) {
				// The owner answers "already in this call" as it would locally, or, right behind a
				// leave, joins again: either way the socket stays with that node.
				previous.leaveId = null;
				previous.joinId = frame.id;
				this.#relay(owner, conn, frame);
				return true;
			}
			// One call at a time: leave the one on the other node first.
			this.#remote.delete(conn.id);
			this.#send(previous.owner, { k: 'gone', from: this.#self, connId: conn.id });
		}
		if (!owner || owner === this.#self) return false;
		// Leaving a call on this node is the local join's job when it is local; here it is not.
		this.#calls.leave(conn);
		this.#remote.set(conn.id, { conn, owner, channelId: frame.channelId, joinId: frame.id, leaveId: null });
		this.#relay(owner, conn, frame);
		return true;
	}

	/** Sends a socket's call frame to the call's node, and watches for its answer. */
	#relay(owner: string, conn: Connection, frame: ClientFrame): void {
		if ('id' in frame && frame.id !== undefined) {
			const key = `${conn.id}/${frame.id}`;
			clearTimeout(this.#unanswered.get(key));
			const timer = setTimeout(() => this.#answerLost(conn, frame.id!, owner), RELAY_ANSWER_MS);
			timer.unref();
			this.#unanswered.set(key, timer);
		}
		this.#send(owner, { k: 'frame', from: this.#self, connId: conn.id, userId: conn.userId, sessionId: conn.sessionId, frame });
	}

	/**
	 * The answer to a relayed frame never came (lost in a Redis blip): the request fails, and the
	 * socket's call on that node is given up with `rejoin`, since which of its frames took effect
	 * there is unknown; joining again lands where the call is now.
	 */
	#answerLost(conn: Connection, id: string, owner: string): void {
		this.#unanswered.delete(`${conn.id}/${id}`);
		this.#moderating.delete(`${conn.id}/${id}`);
		if (conn.closed) return;
		this.#log.warn({ conn: conn.id, owner }, 'a relayed call frame was not answered; the socket rejoins its call');
		conn.sendError(id, ErrorCode.unavailable, 'The call’s server did not answer. Reconnecting the call…');
		const remote = this.#remote.get(conn.id);
		if (!remote || remote.owner !== owner) return;
		this.#remote.delete(conn.id);
		this.#send(owner, { k: 'gone', from: this.#self, connId: conn.id });
		conn.send({ t: 'call.ended', channelId: remote.channelId, reason: 'server_error', rejoin: true });
	}

	/** The socket closed: a call it had on another node loses it. */
	connectionClosed(conn: Connection): void {
		const remote = this.#remote.get(conn.id);
		if (!remote) return;
		this.#remote.delete(conn.id);
		this.#send(remote.owner, { k: 'gone', from: this.#self, connId: conn.id });
	}

	/** The node that holds the call of this channel, choosing one when there is none (null: no node runs calls). */
	async #place(channelId: string): Promise<string | null> {
		try {
			const current = await this.#liveOwner(channelId);
			if (current) return current;
			// The least-loaded node this node knows to be live; the script keeps an owner that is live
			// even if this node has not seen its heartbeat yet.
			const live = new Set([this.#self, ...this.#cluster.peerInstances()]);
			const loads = await this.#command.hgetall(LOAD_KEY);
			let best: { node: string; load: number } | null = null;
			for (const [node, value] of Object.entries(loads)) {
				if (!live.has(node)) continue;
				const load = Number(value);
				if (!best || load < best.load || (load === best.load && node === this.#self)) best = { node, load };
			}
			if (!best) return null;
			return (await this.#command.eval(PLACE_SCRIPT, 2, CALL_KEY(channelId), NODES_KEY, best.node, String(CALL_KEY_TTL_MS), String(Date.now() - NODE_TTL_MS))) as string;
		} catch (error) {
			// Redis away: calls stay on the node of the socket, as on a single node.
			this.#log.warn({ err: safeError(error) }, 'call placement failed; serving the call here');
			return null;
		}
	}

	/** The call's node when it is live (null: none); rejects when Redis is away. */
	#liveOwner(channelId: string): Promise<string | null> {
		return this.#command.eval(OWNER_SCRIPT, 2, CALL_KEY(channelId), NODES_KEY, String(Date.now() - NODE_TTL_MS)) as Promise<string | null>;
	}

	/** Announces this node's call load (when it runs calls) and renews the keys of its calls. */
	async #advertise(): Promise<void> {
		if (!this.#calls.available) return;
		try {
			const pipeline = this.#command.pipeline();
			pipeline.hset(LOAD_KEY, this.#self, String(this.#calls.counts().participants));
			const channels = this.#calls.channelsWithCalls();
			for (const channelId of channels) pipeline.eval(RENEW_SCRIPT, 1, CALL_KEY(channelId), this.#self, String(CALL_KEY_TTL_MS));
			const results = (await pipeline.exec()) ?? [];
			const peers = new Set(this.#cluster.peerInstances());
			for (const [i, channelId] of channels.entries()) {
				const [error, owner] = results[i + 1] ?? [];
				// The same call formed on two nodes while Redis was away (each served its own sockets):
				// the one not in the placement key ends with `rejoin`, and its people join the other.
				if (!error && typeof owner === 'string' && owner !== this.#self && peers.has(owner)) {
					this.#log.info({ channel: channelId, owner }, 'this call also lives on another node (formed while Redis was away); its participants here rejoin there');
					this.#calls.endForRejoin(channelId);
				}
			}
		} catch {
			// Redis away: tried again at the next interval.
		}
	}

	#send(node: string, message: RelayMessage): void {
		this.#command.publish(INBOX(node), JSON.stringify(message)).catch((error) => {
			this.#log.warn({ err: safeError(error), to: node }, 'call relay failed');
			// A frame that cannot reach the owner: the socket learns at once instead of waiting forever.
			if (message.k === 'frame' && 'id' in message.frame) {
				this.#remote.get(message.connId)?.conn.sendError(message.frame.id, ErrorCode.unavailable, 'The node holding this call cannot be reached. Retry in a moment.');
			}
		});
	}

	#onMessage(text: string): void {
		let message: RelayMessage;
		try {
			message = JSON.parse(text) as RelayMessage;
		} catch {
			return;
		}
		if (message.k === 'push') return this.#deliver(message.connId, message.raw);
		const key = `${message.from}/${message.connId}`;
		if (message.k === 'gone') {
			const participant = this.#participants.get(key);
			if (!participant) return;
			this.#participants.delete(key);
			participant.closed = true;
			this.#calls.connectionClosed(participant);
			return;
		}
		const origin = message.from;
		const connId = message.connId;
		const send = (raw: string) => {
			// Out of the call: nothing more will be relayed for this socket until it joins again.
			if ((JSON.parse(raw) as ServerFrame).t === 'call.ended') this.#participants.delete(key);
			this.#send(origin, { k: 'push', connId, raw });
		};
		const log = this.#log.child({ origin, conn: connId });
		// A moderator acting on a call they are not in needs no lasting stand-in.
		if (message.frame.t === 'call.moderate' && !this.#participants.has(key)) {
			void this.#run(new RemoteParticipant(origin, connId, message.userId, message.sessionId, log, send), message.frame);
			return;
		}
		let participant = this.#participants.get(key);
		if (!participant) {
			participant = new RemoteParticipant(origin, connId, message.userId, message.sessionId, log, send);
			this.#participants.set(key, participant);
		}
		void this.#run(participant, message.frame);
	}

	/** A frame from the owner for a socket here. */
	#deliver(connId: string, raw: string): void {
		const frame = JSON.parse(raw) as ServerFrame;
		const answered = frame.t === 'ack' || frame.t === 'error' ? frame.id : undefined;
		if (answered !== undefined) {
			const key = `${connId}/${answered}`;
			const timer = this.#unanswered.get(key);
			// Answered after it was given up: the socket was already told, and its call rejoined.
			if (!timer) return;
			clearTimeout(timer);
			this.#unanswered.delete(key);
		}
		const moderation = answered !== undefined ? this.#moderating.get(`${connId}/${answered}`) : undefined;
		if (moderation) {
			this.#moderating.delete(`${connId}/${answered}`);
			moderation.conn.sendRaw(raw);
			return;
		}
		const remote = this.#remote.get(connId);
		if (!remote) return;
		// The call is over for this socket (ended, left, or its join was refused): later frames are local.
		if (frame.t === 'call.ended' || (frame.t === 'error' && answered === remote.joinId) || (answered !== undefined && answered === remote.leaveId)) {
			this.#remote.delete(connId);
		} else if (frame.t === 'ack' && answered === remote.joinId) {
			remote.joinId = null;
		}
		remote.conn.sendRaw(raw);
	}

	#nodeLost(node: string): void {
		for (const [key, { conn, owner }] of [...this.#moderating]) {
			if (owner !== node) continue;
			this.#moderating.delete(key);
			conn.sendError(key.slice(conn.id.length + 1), ErrorCode.unavailable, 'The node holding this call stopped. Retry in a moment.');
		}
		for (const [connId, remote] of [...this.#remote]) {
			if (remote.owner !== node) continue;
			this.#remote.delete(connId);
			remote.conn.send({ t: 'call.ended', channelId: remote.channelId, reason: 'server_error', rejoin: true });
		}
		for (const [key, participant] of [...this.#participants]) {
			if (participant.origin !== node) continue;
			this.#participants.delete(key);
			participant.closed = true;
			this.#calls.connectionClosed(participant);
		}
	}

	async close(): Promise<void> {
		clearInterval(this.#timer);
		for (const timer of this.#unanswered.values()) clearTimeout(timer);
		this.#unanswered.clear();
		this.#unsubscribe();
		await this.#command.hdel(LOAD_KEY, this.#self).catch(() => {});
	}
}
