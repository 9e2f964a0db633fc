// Which nodes are alive: each node writes a heartbeat into one sorted set (score: the time of its
// last beat) and reads the others from it. A node that stops beating (killed, partitioned) drops
// out after NODE_TTL_MS; a node that stops cleanly removes itself at once. Peers leaving is what
// tells the others to catch up from the database (a killed node may have committed events it
// never published).
import type { Redis } from 'ioredis';
import { safeError, type Logger } from '../logger.ts';

export const NODES_KEY = 'hearth:nodes';
// A beat every 2 s; a node is gone after 3 missed beats. Short enough that a killed node's clients'
// peers catch up within seconds, long enough that a busy event loop does not flap membership.
const HEARTBEAT_MS = 2000;
export const NODE_TTL_MS = 3 * HEARTBEAT_MS;

export class NodeRegistry {
	readonly #redis: Redis;
	readonly #nodeId: string;
	readonly #log: Logger;
	readonly #onPeerLost: (peerId: string) => void;
	readonly #onPeerJoined: (peerId: string) => void;
	/** This node's own keys that must expire with it (connection-counts.ts). */
	readonly #ownKeys: string[];
	#peers = new Set<string>();
	#timer: NodeJS.Timeout | undefined;
	#lastBeatOk = false;

	constructor(options: {
		redis: Redis;
		nodeId: string;
		log: Logger;
		onPeerLost: (peerId: string) => void;
		onPeerJoined: (peerId: string) => void;
		ownKeys?: string[];
	}) {
		this.#redis = options.redis;
		this.#nodeId = options.nodeId;
		this.#log = options.log;
		this.#onPeerLost = options.onPeerLost;
		this.#onPeerJoined = options.onPeerJoined;
		this.#ownKeys = options.ownKeys ?? [];
	}

	async start(): Promise<void> {
		await this.#beat();
		this.#timer = setInterval(() => void this.#beat(), HEARTBEAT_MS);
		this.#timer.unref();
	}

	/** The other nodes seen alive at the last heartbeat. */
	peers(): string[] {
		return [...this.#peers].sort();
	}

	/** Leaves the cluster at once (a clean stop), so peers need not wait for the TTL. */
	async stop(): Promise<void> {
		clearInterval(this.#timer);
		await this.#redis.zrem(NODES_KEY, this.#nodeId).catch(() => {});
	}

	async #beat() {
		const now = Date.now();
		try {
			const multi = this.#redis.multi().zadd(NODES_KEY, now, this.#nodeId).zremrangebyscore(NODES_KEY, '-inf', now - NODE_TTL_MS).zrange(NODES_KEY, 0, -1);
			for (const key of this.#ownKeys) multi.pexpire(key, NODE_TTL_MS);
			const [, , members] = ((await multi.exec()) ?? []) as Array<[Error | null, unknown]>;
			const alive = new Set((members?.[1] as string[] | undefined ?? []).filter((id) => id !== this.#nodeId));
			for (const peer of this.#peers) {
				if (alive.has(peer)) continue;
				this.#log.info({ peer }, 'a node left the cluster');
				this.#onPeerLost(peer);
			}
			const joined = [...alive].filter((peer) => !this.#peers.has(peer));
			this.#peers = alive;
			for (const peer of joined) {
				this.#log.info({ peer }, 'a node joined the cluster');
				this.#onPeerJoined(peer);
			}
			this.#lastBeatOk = true;
		} catch (error) {
			// The event bus reports Redis being away; one line here says heartbeats stopped too.
			if (this.#lastBeatOk) this.#log.warn({ err: safeError(error) }, 'cluster heartbeat failed');
			this.#lastBeatOk = false;
		}
	}
}
