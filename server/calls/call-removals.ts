// Who a moderator removed from which call, and until when. Without this a removed participant
// (or their client's automatic rejoin) could walk straight back in; for the cooldown call.join
// answers `removed_from_call`. In memory, like the calls themselves (one realtime process).

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

	/** Whole seconds until this person may rejoin this call; 0 when they may. */
	secondsLeft(channelId: string, userId: string): number {
		const until = this.#until.get(`${channelId} ${userId}`);
		const left = until === undefined ? 0 : until - this.#now();
		return left > 0 ? Math.ceil(left / 1000) : 0;
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
