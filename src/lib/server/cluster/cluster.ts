// Cluster mode (REDIS_URL): this node's connections to Valkey/Redis, its event bus, and its place
// among the other nodes. Started once by context.ts before anything publishes; a Redis that cannot
// be reached at start stops the start with a sentence saying so (a supervisor restarting the
// process then shows the reason each time, instead of a crash without one).
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { ClusterConfig } from '../config/config.ts';
import { maskRedisUrl } from '../config/secrets.ts';
import type { Database } from '../db/open.ts';
import { safeError, type Logger } from '../logger.ts';
import { allChannelLastSeqs, eventsForBackfill } from '../services/channel-events.ts';
import { RedisEventBus, type RedisEventBusStatus } from '../events/redis-event-bus.ts';
import { NodeRegistry } from './node-registry.ts';
import { ClusterConnectionCounts, connectionCountsKey } from './connection-counts.ts';

// Streams need Redis 5 and XINFO's max-deleted-entry-id (lost-position detection) needs 7; Valkey 8
// reports itself as 7.2.4 to clients.
const MIN_REDIS_MAJOR = 7;
// How long the first connection may take before start-up gives up.
const CONNECT_TIMEOUT_MS = 5000;

/** What /health, the preflight report and metrics read about the cluster. */
export type ClusterStatus = {
	nodeId: string;
	engine: 'redis';
	reachable: boolean;
	reason: string | null;
	peers: string[];
	outbox: number;
	sequencer: RedisEventBusStatus['sequencer'];
};

/** The NODE_ID part of an instance id (see Cluster.instanceId). */
export const nodeIdOf = (instanceId: string) => instanceId.split('/')[0]!;

export class Cluster {
	readonly nodeId: string;
	/**
	 * This process among the nodes: NODE_ID plus a random part new at each start. A node restarted
	 * under the same NODE_ID is a new instance to its peers, so they treat the old one as gone
	 * (catch up what it may have committed without publishing, forget its presence) even when the
	 * restart is quicker than the heartbeat timeout. Bus entries, presence and counts use it.
	 */
	readonly instanceId: string;
	readonly bus: RedisEventBus;
	/** Per-account and per-address socket counts of the other nodes (the /ws caps count all nodes). */
	readonly connectionCounts: ClusterConnectionCounts;
	readonly #registry: NodeRegistry;
	readonly #connections: Redis[];
	/**
	 * The connection for plain commands (shared rate-limit counters among others). It has no offline
	 * queue: while Redis is away a command fails at once instead of waiting.
	 */
	get commandConnection(): Redis {
		return this.#connections[0]!;
	}
	readonly #redisDescription: string;

	private constructor(nodeId: string, instanceId: string, bus: RedisEventBus, connectionCounts: ClusterConnectionCounts, registry: NodeRegistry, connections: Redis[], redisDescription: string) {
		this.nodeId = nodeId;
		this.instanceId = instanceId;
		this.bus = bus;
		this.connectionCounts = connectionCounts;
		this.#registry = registry;
		this.#connections = connections;
		this.#redisDescription = redisDescription;
	}

	static async start(config: ClusterConfig, db: Database, log: Logger): Promise<Cluster> {
		const masked = maskRedisUrl(config.redisUrl);
		const instanceId = `${config.nodeId}/${randomBytes(4).toString('hex')}`;
		const clusterLog = log.child({ component: 'cluster', node: config.nodeId });
		let started = false;
		const options = (role: string, extra: RedisOptions): RedisOptions => ({
			lazyConnect: true,
			connectionName: `hearth:${config.nodeId}:${role}`,
			connectTimeout: CONNECT_TIMEOUT_MS,
			// At start a failure is final (reported below); once running, reconnect with a capped backoff.
			retryStrategy: (attempt) => (started ? Math.min(100 * attempt, 2000) : null),
			...extra
		});
		const command = new Redis(config.redisUrl, options('command', { enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false }));
		const reader = new Redis(config.redisUrl, options('reader', { maxRetriesPerRequest: null }));
		const subscriber = new Redis(config.redisUrl, options('subscriber', {}));
		const connections = [command, reader, subscriber];
		// ioredis reports connection errors as events too; the bus logs them once running.
		for (const connection of connections) connection.on('error', () => {});
		try {
			await Promise.all(connections.map((connection) => connection.connect()));
			const info = await command.info('server');
			const version = /redis_version:(\d+)\.(\d+)/.exec(info);
			if (!version || Number(version[1]) < MIN_REDIS_MAJOR) {
				throw new Error(`it runs version ${version ? `${version[1]}.${version[2]}` : 'unknown'}; Hearth needs Valkey 8 or Redis ${MIN_REDIS_MAJOR} or newer`);
			}
		} catch (error) {
			for (const connection of connections) connection.disconnect();
			throw new Error(
				`cluster mode (REDIS_URL) cannot use Redis at ${masked}: ${safeError(error).message}. Check REDIS_URL and that Valkey/Redis is running and reachable from this node, or unset REDIS_URL to run a single process.`
			);
		}
		started = true;

		const bus = new RedisEventBus({
			redis: { command, reader, subscriber },
			nodeId: instanceId,
			log: clusterLog,
			backfill: (channelId, afterSeq, limit) => eventsForBackfill(db, channelId, afterSeq, limit),
			channelLastSeqs: () => allChannelLastSeqs(db)
		});
		await bus.start();
		const registry = new NodeRegistry({
			redis: command,
			nodeId: instanceId,
			log: clusterLog,
			onPeerLost: (peer) => bus.peerLost(peer),
			onPeerJoined: (peer) => bus.peerJoined(peer),
			ownKeys: [connectionCountsKey(instanceId)]
		});
		const connectionCounts = new ClusterConnectionCounts({ redis: command, nodeId: instanceId, peers: () => registry.peers(), log: clusterLog });
		await registry.start();
		clusterLog.info({ redis: masked, peers: registry.peers() }, 'joined the cluster');
		return new Cluster(config.nodeId, instanceId, bus, connectionCounts, registry, connections, masked);
	}

	/** The instance ids of the other live nodes (heartbeats seen within the node timeout). */
	peerInstances(): string[] {
		return this.#registry.peers();
	}

	/**
	 * A new connection to the same Redis for a subscriber of its own (pub/sub takes a connection
	 * over); closed with the others. It reconnects by itself and queues commands while away.
	 */
	newConnection(role: string): Redis {
		const connection = this.commandConnection.duplicate({
			connectionName: `hearth:${this.nodeId}:${role}`,
			lazyConnect: false,
			enableOfflineQueue: true,
			maxRetriesPerRequest: null,
			retryStrategy: (attempt) => Math.min(100 * attempt, 2000)
		});
		connection.on('error', () => {});
		this.#connections.push(connection);
		return connection;
	}

	status(): ClusterStatus {
		const bus = this.bus.status();
		return {
			nodeId: this.nodeId,
			engine: 'redis',
			reachable: bus.reachable,
			reason: bus.reason,
			peers: [...new Set(this.#registry.peers().map(nodeIdOf))].sort(),
			outbox: bus.outbox,
			sequencer: bus.sequencer
		};
	}

	/** The preflight line. */
	describe(): string {
		const peers = [...new Set(this.#registry.peers().map(nodeIdOf))].sort();
		return `node ${this.nodeId} on Redis ${this.#redisDescription}; ${peers.length} other node${peers.length === 1 ? '' : 's'} seen${peers.length ? ` (${peers.join(', ')})` : ''}`;
	}

	/** Leaves the cluster: sends what is queued, removes the heartbeat, closes the connections. */
	async close(): Promise<void> {
		await this.bus.close();
		await this.connectionCounts.clear();
		await this.#registry.stop();
		for (const connection of this.#connections) connection.disconnect();
	}
}
