// What the two engines' prepared-statement caches share (pglite-statements.ts, postgres-statements.ts):
// only statement text seen before is prepared, since drizzle writes `in ($1, $2, …)` with one
// placeholder per value and many texts occur once; preparing those would cost for nothing.

// Enough for every statement the server runs in steady state (about 150 distinct texts), with room
// for the `in (…)` variants that recur under load.
export const DEFAULT_MAX_PREPARED = 400;
const SEEN_ONCE_MAX = 4_000;

/** The texts run once so far and not prepared; bounded (emptied when full), so one-off texts cannot grow it without end. */
export class SeenOnce {
	#texts = new Set<string>();

	has(text: string): boolean {
		return this.#texts.has(text);
	}

	remember(text: string): void {
		if (this.#texts.size >= SEEN_ONCE_MAX) this.#texts.clear();
		this.#texts.add(text);
	}

	/** The text is prepared now: no longer a text seen once. */
	forget(text: string): void {
		this.#texts.delete(text);
	}
}
