// The key store over Maps: the same E2eeStore contract as the IndexedDB store, for Node tests of
// the engine and for the shared store test suite. Values go through the same codec as the
// IndexedDB store, so they come back as copies and unsupported values fail the same way.
import type { E2eeStore, E2eeStoreTable } from './contracts.ts';
import { inPageLock, type ExclusiveRunner } from './exclusive-lock.ts';
import { decodeStoreValue, encodeStoreValue } from './store-codec.ts';

let instances = 0;

export class MemoryE2eeStore implements E2eeStore {
	readonly #tables = new Map<E2eeStoreTable, Map<string, Uint8Array>>();
	readonly #lock: ExclusiveRunner;

	/** `lockName`: stores created with the same name share one lock (two "tabs" of one device). */
	constructor(lockName = `memory-store-${++instances}`) {
		this.#lock = inPageLock(lockName);
	}

	#table(table: E2eeStoreTable): Map<string, Uint8Array> {
		let rows = this.#tables.get(table);
		if (!rows) this.#tables.set(table, (rows = new Map()));
		return rows;
	}

	async get<T>(table: E2eeStoreTable, key: string): Promise<T | undefined> {
		const bytes = this.#table(table).get(key);
		return bytes === undefined ? undefined : decodeStoreValue<T>(bytes);
	}

	async put<T>(table: E2eeStoreTable, key: string, value: T): Promise<void> {
		this.#table(table).set(key, encodeStoreValue(value));
	}

	async delete(table: E2eeStoreTable, key: string): Promise<void> {
		this.#table(table).delete(key);
	}

	async list<T>(table: E2eeStoreTable, prefix = ''): Promise<Array<{ key: string; value: T }>> {
		// Sorted by key like an IndexedDB cursor (both compare strings by UTF-16 code units).
		return [...this.#table(table)]
			.filter(([key]) => key.startsWith(prefix))
			.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
			.map(([key, bytes]) => ({ key, value: decodeStoreValue<T>(bytes) }));
	}

	exclusive<T>(work: () => Promise<T>): Promise<T> {
		return this.#lock(work);
	}

	async clear(): Promise<void> {
		this.#tables.clear();
	}
}
