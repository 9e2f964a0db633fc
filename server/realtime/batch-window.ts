// When the connect path's batched lookups (DataLoader: session checks, subscriptions) run.
//
// Batching "what arrived in this turn of the event loop" is not enough while many sockets connect:
// each turn is short, so it holds one or two upgrades, and every connection paid for whole
// statements of its own (measured with bench/: 5,000 connections in 4,518 session lookups, ~0.4 ms
// of CPU each on PGlite). A batch that follows the previous one closely waits until a short window
// after it has passed, gathering what arrives meanwhile; a lone connection (the previous batch long
// gone) still runs in the next turn, without waiting.
//
// This is the group-commit idea (and Nagle's) applied to reads: latency is added only under load,
// and bounded by the window.

/**
 * A DataLoader `batchScheduleFn`: runs a batch at once (next turn) when the previous one ran at
 * least `windowMs` ago, and otherwise `windowMs` after the previous one.
 */
export function batchWindow(windowMs: number): (run: () => void) => void {
	let lastRunAt = Number.NEGATIVE_INFINITY;
	return (run) => {
		const now = performance.now();
		const wait = lastRunAt + windowMs - now;
		if (wait <= 0) {
			lastRunAt = now;
			setImmediate(run);
		} else {
			lastRunAt += windowMs;
			setTimeout(run, wait);
		}
	};
}
