// The E2eeStore contract, run against both implementations: the IndexedDB store (over
// fake-indexeddb, a spec-conformant IndexedDB written in JS) with Web Locks and with the in-page
// fallback lock, and the in-memory store used by Node tests of the engine.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { E2eeStore } from '#lib/client/e2ee/contracts.ts';
import { DecryptionError } from '#lib/client/e2ee/errors.ts';
import { e2eeDatabaseName, E2EE_STORE_TABLES, IndexedDbE2eeStore } from '#lib/client/e2ee/key-store.ts';
import { MemoryE2eeStore } from '#lib/client/e2ee/memory-store.ts';
import { UnsupportedValueError } from '#lib/client/e2ee/store-codec.ts';

type StoreFactory = {
	name: string;
	/** Two handles on the same device's state, like two tabs of one browser profile. */
	open(): { first: E2eeStore; second: E2eeStore };
};

const factories: StoreFactory[] = [
	{
		name: 'IndexedDB store with Web Locks',
		open() {
			const indexedDB = new IDBFactory();
			const userId = randomUUID();
			return {
				first: new IndexedDbE2eeStore({ userId, indexedDB }),
				second: new IndexedDbE2eeStore({ userId, indexedDB })
			};
		}
	},
	{
		name: 'IndexedDB store with the in-page lock (no Web Locks)',
		open() {
			const indexedDB = new IDBFactory();
			const userId = randomUUID();
			return {
				first: new IndexedDbE2eeStore({ userId, indexedDB, locks: null }),
				second: new IndexedDbE2eeStore({ userId, indexedDB, locks: null })
			};
		}
	},
	{
		name: 'memory store',
		open() {
			const lockName = randomUUID();
			const first = new MemoryE2eeStore(lockName);
			return { first, second: new MemoryE2eeStore(lockName) };
		}
	}
];

const SESSION = {
	rootKey: new Uint8Array([1, 2, 3, 254, 255]),
	chains: [{ n: 3, key: new Uint8Array(32).fill(7) }],
	remote: 'device-b',
	verified: false,
	note: null
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(factories)('E2eeStore contract: $name', (factory) => {
	it('returns undefined for a missing entry and the stored value after put, bytes as Uint8Array', async () => {
		const { first: store } = factory.open();
		expect(await store.get('pairwise', 'device-b')).toBeUndefined();
		await store.put('pairwise', 'device-b', SESSION);
		const read = await store.get<typeof SESSION>('pairwise', 'device-b');
		expect(read).toEqual(SESSION);
		expect(read!.rootKey).toBeInstanceOf(Uint8Array);
		expect(read!.chains[0]!.key).toBeInstanceOf(Uint8Array);
	});

	it('stores a copy: changing the object after put or after get does not change the stored value', async () => {
		const { first: store } = factory.open();
		const value = { count: 1, key: new Uint8Array([9, 9]) };
		await store.put('account', 'self', value);
		value.count = 2;
		value.key[0] = 0;
		const read = await store.get<typeof value>('account', 'self');
		read!.count = 3;
		expect(await store.get('account', 'self')).toEqual({ count: 1, key: new Uint8Array([9, 9]) });
	});

	it('overwrites on put, deletes on delete, and deleting a missing entry is fine', async () => {
		const { first: store } = factory.open();
		await store.put('identities', 'd1', { identityKey: 'a' });
		await store.put('identities', 'd1', { identityKey: 'b' });
		expect(await store.get('identities', 'd1')).toEqual({ identityKey: 'b' });
		await store.delete('identities', 'd1');
		await store.delete('identities', 'never-there');
		expect(await store.get('identities', 'd1')).toBeUndefined();
	});

	it('keeps tables apart: the same key in two tables holds two values', async () => {
		const { first: store } = factory.open();
		await store.put('messageKeys', 'x', 'message key');
		await store.put('plaintextIndex', 'x', 'body');
		expect(await store.get('messageKeys', 'x')).toBe('message key');
		expect(await store.get('plaintextIndex', 'x')).toBe('body');
	});

	it('lists a whole table in key order, or only keys starting with a prefix', async () => {
		const { first: store } = factory.open();
		for (const key of ['dev2:k1', 'dev1:k2', 'dev1:k1', 'dev1', 'dev10:k1', 'dev1:\uffffz']) {
			await store.put('inboundSenderKeys', key, { key });
		}
		await store.put('outboundSenderKeys', 'dev1:other-table', {});
		expect((await store.list('inboundSenderKeys')).map((row) => row.key)).toEqual([
			// UTF-16 code unit order: '0' (0x30) sorts before ':' (0x3a).
			'dev1',
			'dev10:k1',
			'dev1:k1',
			'dev1:k2',
			'dev1:\uffffz',
			'dev2:k1'
		]);
		expect(await store.list('inboundSenderKeys', 'dev1:')).toEqual([
			{ key: 'dev1:k1', value: { key: 'dev1:k1' } },
			{ key: 'dev1:k2', value: { key: 'dev1:k2' } },
			{ key: 'dev1:\uffffz', value: { key: 'dev1:\uffffz' } }
		]);
		expect(await store.list('inboundSenderKeys', 'nothing')).toEqual([]);
	});

	it('clear() empties every table', async () => {
		const { first: store } = factory.open();
		for (const table of E2EE_STORE_TABLES) await store.put(table, 'k', { table });
		await store.clear();
		for (const table of E2EE_STORE_TABLES) expect(await store.list(table)).toEqual([]);
		// Still usable afterwards.
		await store.put('account', 'k', 1);
		expect(await store.get('account', 'k')).toBe(1);
	});

	it('exclusive() runs one piece of work at a time, across two handles on the same device', async () => {
		const { first, second } = factory.open();
		const events: string[] = [];
		const work = (name: string, store: E2eeStore) =>
			store.exclusive(async () => {
				events.push(`${name} start`);
				await sleep(20);
				events.push(`${name} end`);
				return name;
			});
		const results = await Promise.all([work('a', first), work('b', second), work('c', first)]);
		expect(results).toEqual(['a', 'b', 'c']);
		expect(events).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
	});

	it('exclusive() passes a failure to its caller and still runs the next piece of work', async () => {
		const { first: store } = factory.open();
		const failing = store.exclusive(async () => {
			throw new Error('ratchet step failed');
		});
		const next = store.exclusive(async () => 'ran');
		await expect(failing).rejects.toThrow('ratchet step failed');
		expect(await next).toBe('ran');
	});

	it('refuses values it could not give back unchanged', async () => {
		const { first: store } = factory.open();
		for (const value of [new Map(), { at: new Date() }, { big: 1n }, [undefined], { n: Number.NaN }, new Uint16Array(2), undefined]) {
			await expect(store.put('account', 'bad', value)).rejects.toBeInstanceOf(UnsupportedValueError);
		}
		await expect(store.put('account', 'bad', { '\u0000bytes': 'AAAA' })).rejects.toBeInstanceOf(UnsupportedValueError);
		expect(await store.get('account', 'bad')).toBeUndefined();
	});
});

describe('IndexedDB store specifics', () => {
	/** Reads a raw record straight from IndexedDB, as a tool dumping the profile would. */
	async function rawRecord(indexedDB: IDBFactory, userId: string, table: string, key: string): Promise<unknown> {
		const db = await new Promise<IDBDatabase>((resolve, reject) => {
			const request = indexedDB.open(e2eeDatabaseName(userId));
			request.onsuccess = () => resolve(request.result);
			request.onerror = () => reject(request.error);
		});
		const value = await new Promise<unknown>((resolve, reject) => {
			const request = db.transaction(table).objectStore(table).get(key);
			request.onsuccess = () => resolve(request.result);
			request.onerror = () => reject(request.error);
		});
		db.close();
		return value;
	}

	async function writeRaw(indexedDB: IDBFactory, userId: string, table: string, key: string, value: unknown) {
		const db = await new Promise<IDBDatabase>((resolve, reject) => {
			const request = indexedDB.open(e2eeDatabaseName(userId));
			request.onsuccess = () => resolve(request.result);
			request.onerror = () => reject(request.error);
		});
		await new Promise<void>((resolve, reject) => {
			const tx = db.transaction(table, 'readwrite');
			tx.objectStore(table).put(value, key);
			tx.oncomplete = () => resolve();
			tx.onerror = () => reject(tx.error);
		});
		db.close();
	}

	it('keeps one database per user, named hearth-e2ee-<userId>', async () => {
		const indexedDB = new IDBFactory();
		const alice = new IndexedDbE2eeStore({ userId: 'alice', indexedDB });
		const bob = new IndexedDbE2eeStore({ userId: 'bob', indexedDB });
		await alice.put('account', 'self', 'alice state');
		expect(await bob.get('account', 'self')).toBeUndefined();
		const names = (await indexedDB.databases()).map((db) => db.name).sort();
		expect(names).toEqual(['hearth-e2ee-alice', 'hearth-e2ee-bob']);
		await Promise.all([alice.close(), bob.close()]);
	});

	it('stores values encrypted: the raw record holds neither the text nor the key bytes', async () => {
		const indexedDB = new IDBFactory();
		const store = new IndexedDbE2eeStore({ userId: 'u1', indexedDB });
		const privateKey = new Uint8Array(32).fill(0xab);
		await store.put('account', 'identity', { privateKey, label: 'canary-4f1c2e' });
		const raw = (await rawRecord(indexedDB, 'u1', 'account', 'identity')) as { iv: Uint8Array; data: Uint8Array };
		expect(Object.keys(raw).sort()).toEqual(['data', 'iv']);
		const rawBytes = Buffer.from(raw.data);
		expect(rawBytes.includes(Buffer.from('canary-4f1c2e'))).toBe(false);
		expect(rawBytes.includes(Buffer.from(privateKey))).toBe(false);
		// And the base64url text of the key, which is how the codec writes bytes before encryption.
		expect(rawBytes.includes(Buffer.from(Buffer.from(privateKey).toString('base64url')))).toBe(false);
		await store.close();
	});

	it('keeps the at-rest key non-extractable and persistent across reopening', async () => {
		const indexedDB = new IDBFactory();
		const store = new IndexedDbE2eeStore({ userId: 'u2', indexedDB });
		await store.put('pairwise', 'd', { n: 1 });
		await store.close();
		const atRestKey = (await rawRecord(indexedDB, 'u2', 'meta', 'atRestKey')) as CryptoKey;
		expect(atRestKey.extractable).toBe(false);
		await expect(crypto.subtle.exportKey('raw', atRestKey)).rejects.toThrow();
		const reopened = new IndexedDbE2eeStore({ userId: 'u2', indexedDB });
		expect(await reopened.get('pairwise', 'd')).toEqual({ n: 1 });
		await reopened.close();
	});

	it('refuses a record moved to another key or table, or altered', async () => {
		const indexedDB = new IDBFactory();
		const store = new IndexedDbE2eeStore({ userId: 'u3', indexedDB });
		await store.put('inboundSenderKeys', 'alice-dev:sk1', { chainKey: 'alice' });
		const raw = (await rawRecord(indexedDB, 'u3', 'inboundSenderKeys', 'alice-dev:sk1')) as { iv: Uint8Array; data: Uint8Array };
		await store.close();
		await writeRaw(indexedDB, 'u3', 'inboundSenderKeys', 'bob-dev:sk1', raw);
		await writeRaw(indexedDB, 'u3', 'outboundSenderKeys', 'alice-dev:sk1', raw);
		const altered = { iv: raw.iv, data: Uint8Array.from(raw.data, (b, i) => (i === 0 ? b ^ 1 : b)) };
		await writeRaw(indexedDB, 'u3', 'inboundSenderKeys', 'alice-dev:sk2', altered);
		const reopened = new IndexedDbE2eeStore({ userId: 'u3', indexedDB });
		expect(await reopened.get('inboundSenderKeys', 'alice-dev:sk1')).toEqual({ chainKey: 'alice' });
		await expect(reopened.get('inboundSenderKeys', 'bob-dev:sk1')).rejects.toBeInstanceOf(DecryptionError);
		await expect(reopened.get('outboundSenderKeys', 'alice-dev:sk1')).rejects.toBeInstanceOf(DecryptionError);
		await expect(reopened.get('inboundSenderKeys', 'alice-dev:sk2')).rejects.toBeInstanceOf(DecryptionError);
		await reopened.close();
	});

	it('clear() also drops the at-rest key, so old ciphertext copied back does not decrypt', async () => {
		const indexedDB = new IDBFactory();
		const store = new IndexedDbE2eeStore({ userId: 'u4', indexedDB });
		await store.put('account', 'identity', { secret: 's' });
		const raw = await rawRecord(indexedDB, 'u4', 'account', 'identity');
		await store.clear();
		expect(await rawRecord(indexedDB, 'u4', 'meta', 'atRestKey')).toBeUndefined();
		await store.put('account', 'other', 1);
		await writeRaw(indexedDB, 'u4', 'account', 'identity', raw);
		await expect(store.get('account', 'identity')).rejects.toBeInstanceOf(DecryptionError);
		await store.close();
	});

	it('two handles creating the at-rest key at the same time agree on one key', async () => {
		const indexedDB = new IDBFactory();
		const a = new IndexedDbE2eeStore({ userId: 'u5', indexedDB });
		const b = new IndexedDbE2eeStore({ userId: 'u5', indexedDB });
		await Promise.all([a.put('account', 'from-a', 'a'), b.put('account', 'from-b', 'b')]);
		expect(await a.get('account', 'from-b')).toBe('b');
		expect(await b.get('account', 'from-a')).toBe('a');
		await Promise.all([a.close(), b.close()]);
	});
});
