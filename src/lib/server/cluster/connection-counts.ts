// Per-account and per-address /ws caps over the whole cluster. Each node mirrors its own counts into
// one Redis hash (`u:<userId>` and `ip:<address>` → open sockets on that node), which expires with
// the node's heartbeat (node-registry.ts keeps it alive), so a killed node's sockets stop counting within seconds. Admitting a socket
// adds the other live nodes' counts to the local ones. The global cap (WS_MAX_CONNECTIONS) stays per
// node: it protects that process's memory and file descriptors.
import type { Redis } from 'ioredis';
import { safeError, type Logger } from '../logger.ts';
import { NODE_TTL_MS } from './node-registry.ts';

export const connectionCountsKey = (nodeId: string) => `hearth:conns:${nodeId}`;

export class ClusterConnectionCounts {
	readonly #redis: Redis;
	readonly #nodeId: string;
	readonly #peers: () => string[];
	readonly #log: Logger;
	#warned = false;

	constructor(options: { redis: Redis; nodeId: string; peers: () => string[]; log: Logger }) {
		this.#redis = options.redis;
		this.#nodeId = options.nodeId;
		this.#peers = options.peers;
		this.#log = options.log;
	}

	/** Open sockets of this account and from this address on the other live nodes. */
	async elsewhere(userId: string, ip: string): Promise<{ user: number; ip: number }> {
		const peers = this.#peers();
		if (peers.length === 0 || this.#redis.status !== 'ready') return { user: 0, ip: 0 };
		try {
			const pipeline = this.#redis.pipeline();
			for (const peer of peers) pipeline.hmget(connectionCountsKey(peer), `u:${userId}`, `ip:${ip}`);
			const results = (await pipeline.exec()) ?? [];
			let user = 0;
			let address = 0;
			for (const [error, values] of results) {
				if (error) throw error;
				const [u, i] = values as [string | null, string | null];
				user += Number(u ?? 0);
				address += Number(i ?? 0);
			}
			return { user, ip: address };
		} catch (error) {
			// Fail open to the local caps: refusing everyone because Redis blinked would be worse.
			this.#warnOnce(error);
			return { user: 0, ip: 0 };
		}
	}

	/** Mirrors this node's count for one account and one address (0 removes the field). */
	mirror(userId: string, userCount: number, ip: string, ipCount: number) {
		if (this.#redis.status !== 'ready') return; // rewritten in full when Redis is back (mirrorAll)
		const key = connectionCountsKey(this.#nodeId);
		const multi = this.#redis.multi();
		if (userCount > 0) multi.hset(key, `u:${userId}`, userCount);
		else multi.hdel(key, `u:${userId}`);
		if (ipCount > 0) multi.hset(key, `ip:${ip}`, ipCount);
		else multi.hdel(key, `ip:${ip}`);
		multi.pexpire(key, NODE_TTL_MS);
		multi.exec().catch((error: unknown) => this.#warnOnce(error));
	}

	/** Replaces this node's mirror with its whole state (at start of serving, and after Redis was away). */
	mirrorAll(users: Map<string, number>, ips: Map<string, number>) {
		if (this.#redis.status !== 'ready') return;
		const key = connectionCountsKey(this.#nodeId);
		const multi = this.#redis.multi().del(key);
		const fields: Array<string | number> = [];
		for (const [userId, count] of users) fields.push(`u:${userId}`, count);
		for (const [ip, count] of ips) fields.push(`ip:${ip}`, count);
		if (fields.length > 0) multi.hset(key, ...fields).pexpire(key, NODE_TTL_MS);
		multi.exec().catch((error: unknown) => this.#warnOnce(error));
	}

	/** Removes this node's mirror at once (a clean stop). */
	async clear() {
		await this.#redis.del(connectionCountsKey(this.#nodeId)).catch(() => {});
	}

	#warnOnce(error: unknown) {
		if (this.#warned) return;
		this.#warned = true;
		this.#log.warn({ err: safeError(error) }, 'cluster connection counts unavailable; applying this node\'s caps only until Redis answers');
		setTimeout(() => (this.#warned = false), 60_000).unref();
	}
}
