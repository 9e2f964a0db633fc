// When to try again after a connection drops: exponential back-off with full jitter, so a server
// restart is not followed by every client reconnecting in the same millisecond.
export type ReconnectPolicy = {
	/** Delay before attempt number `attempt` (1 = first retry after a drop). */
	delayMs(attempt: number): number;
};

export function exponentialBackoff(options: { baseMs?: number; maxMs?: number; random?: () => number } = {}): ReconnectPolicy {
	const base = options.baseMs ?? 500;
	const max = options.maxMs ?? 30_000;
	const random = options.random ?? Math.random;
	return {
		delayMs(attempt) {
			const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
			// Never zero: at least a quarter of the ceiling, to avoid a hot loop against a dead server.
			return Math.round(ceiling * (0.25 + 0.75 * random()));
		}
	};
}
