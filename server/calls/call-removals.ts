// Who a moderator removed from which call, and until when. Without this a removed participant
// (or their client's automatic rejoin) could walk straight back in; for the cooldown call.join
// answers `removed_from_call`. In memory, like the calls themselves; in cluster mode the removals
// are also kept in Redis (SharedCallRemovals), so a call that re-forms on another node remembers them.

/** Long enough to end a disruption, short enough not to need an appeal: a kick from the community is the lasting tool. */
export const CALL_REMOVAL_COOLDOWN_MS = 60_000;

export class CallRemovals {
	readonly #cooldownMs: number;
	readonly #now: () => number;
	/** `channelId userId` → when the cooldown ends. Insertion order is expiry order (one duration). */
	readonly #until = new Map<string, number>();

	constructor(cooldownMs = CALL_REMOVAL_COOLDOWN_MS, now: () => number = Date.now) {
		this.#cooldownMs = cooldownMs;
		this.#now = now;
	}

	/** Starts (or restarts) the cooldown of this person in this call. */
	remove(channelId: string, userId: string): void {
		const now = this.#now();
		this.#prune(now);
		const key = `${channelId} ${userId}`;
		// Delete first so a repeated removal moves to the end and the map stays in expiry order.
		this.#until.delete(key);
		this.#until.set(key, now + this.#cooldownMs);
	}

	/** Adopts a cooldown learnt elsewhere (another node), unless this one already ends later. */
	adopt(channelId: string, userId: string, msLeft: number): void {
		const key = `${channelId} ${userId}`;
		const until = this.#now() + msLeft;
		if ((this.#until.get(key) ?? 0) >= until) return;
		// Kept at the end like a removal made here; its expiry may come before older entries', which
		// only delays their pruning a little.
		this.#until.delete(key);
		this.#until.set(key, until);
	}

	/** Whole seconds until this person may rejoin this call; 0 when they may. */
	secondsLeft(channelId: string, userId: string): number {
		const until = this.#until.get(`${channelId} ${userId}`);
		const left = until === undefined ? 0 : until - this.#now();
		return left > 0 ? Math.ceil(left / 1000) : 0;
	}

	/** The cooldown length, for a shared copy of the removal. */
	get cooldownMs(): number {
		return this.#cooldownMs;
	}

	get size(): number {
		return this.#until.size;
	}

	#prune(now: number): void {
		for (const [key, until] of this.#until) {
			if (until > now) break;
			this.#until.delete(key);
		}
	}
}

/** Cluster mode: removals kept where every node that may hold the call later can read them. */
export interface SharedCallRemovals {
	remember(channelId: string, userId: string, ms: number): void;
	/** Milliseconds left of a removal made on any node; 0 when none (or when it cannot be read). */
	msLeft(channelId: string, userId: string): Promise<number>;
}
