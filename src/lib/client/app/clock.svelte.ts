// The time for labels like "2 minutes ago": reading `now.current` in a template or $derived re-runs
// it every half minute while something shows it (no timer runs when nothing does).
import { createSubscriber } from 'svelte/reactivity';

// Relative labels are in minutes at their finest: half a minute keeps them at most that stale.
const TICK_MS = 30_000;

class Clock {
	#subscribe = createSubscriber((update) => {
		const timer = setInterval(update, TICK_MS);
		return () => clearInterval(timer);
	});

	get current(): number {
		this.#subscribe();
		return Date.now();
	}
}

export const now = new Clock();
