// One device, one ratchet writer: the encryption engine runs every state change inside
// `E2eeStore.exclusive()`, so two tabs of the same browser profile never advance the same
// Double Ratchet or sender-key chain from the same starting state (which would reuse message keys
// or make the tabs' copies diverge for good).
//
// Web Locks (navigator.locks) are shared by every tab and worker of an origin in one browser
// profile, exactly the scope of a device. Where they are missing (old browsers, some embedded
// webviews) a promise queue per lock name serialises work within this page only, and two tabs
// are then not protected from each other; the lock is not re-entrant in either form (calling
// exclusive() from inside exclusive() waits forever), so the engine takes it once per operation.

export type ExclusiveRunner = <T>(work: () => Promise<T>) => Promise<T>;

const pageQueues = new Map<string, Promise<unknown>>();

/** Serialises work per name within this JavaScript realm. */
export function inPageLock(name: string): ExclusiveRunner {
	return <T>(work: () => Promise<T>): Promise<T> => {
		const previous = pageQueues.get(name) ?? Promise.resolve();
		const run = previous.then(work);
		const tail = run.then(
			() => undefined,
			() => undefined
		);
		pageQueues.set(name, tail);
		// Forget the queue once idle, so names of signed-out users do not accumulate.
		void tail.then(() => {
			if (pageQueues.get(name) === tail) pageQueues.delete(name);
		});
		return run;
	};
}

/** Web Locks when available (shared across tabs), else the in-page queue. */
export function deviceLock(name: string, locks: LockManager | null | undefined = globalThis.navigator?.locks): ExclusiveRunner {
	if (!locks) return inPageLock(name);
	return <T>(work: () => Promise<T>): Promise<T> => locks.request(name, { mode: 'exclusive' }, () => work()) as Promise<T>;
}
