// KeyBackupManager's refusals, with the server side kept in memory (the real server is exercised by
// tests/integration/e2ee-backup.test.ts): an entry the server altered, moved to another id, or that
// disagrees with a key this device already holds is skipped, never imported; a batch never exceeds
// the server's limit; a weak passphrase is refused before anything is sent.
import { describe, expect, it } from 'vitest';
import { KeyBackupManager, WeakPassphraseError, type BackupKeySource, type KeyBackupApi } from '#lib/client/e2ee/backup-manager.ts';
import { collectBackupEntries, importBackupEntries } from '#lib/client/e2ee/backup-entries.ts';
import { MemoryE2eeStore } from '#lib/client/e2ee/memory-store.ts';
import type { E2eeStore } from '#lib/client/e2ee/contracts.ts';
import { createOutboundSenderKey, exportSenderKey, importSenderKey, type InboundSenderKey } from '#lib/client/e2ee/sender-key.ts';
import { loadSodium } from '#lib/client/e2ee/sodium.ts';
import { toB64 } from '#lib/client/e2ee/encoding.ts';
import { KEY_BACKUP_BATCH_MAX, type KeyBackupEntry, type KeyBackupParams, type KeyBackupView } from '#lib/shared/e2ee.ts';

const LIMITS = { opsLimit: 1, memLimit: 8 * 1024 * 1024 };
const PASSPHRASE = 'seven random words go here';
const CHANNEL = '00000000-0000-4000-8000-0000000000c1';
const DEVICE = '00000000-0000-4000-8000-0000000000d1';
const USER = '00000000-0000-4000-8000-0000000000e1';

/** The key-backup routes' behaviour, in memory. */
class MemoryBackupServer implements KeyBackupApi {
	backup: (KeyBackupView & { params: KeyBackupParams }) | null = null;
	entries = new Map<string, string>();
	batchSizes: number[] = [];
	async keyBackup() {
		return this.backup ? { ...this.backup, entryCount: this.entries.size } : null;
	}
	async putKeyBackup(input: { version: number; params: KeyBackupParams; wrappedKey: string }) {
		if (this.backup && input.version > this.backup.version) this.entries.clear();
		this.backup = { ...input, updatedAt: new Date().toISOString(), entryCount: this.entries.size };
		return this.backup;
	}
	async putKeyBackupEntries(version: number, entries: KeyBackupEntry[]) {
		if (!this.backup || this.backup.version !== version) throw new Error('conflict');
		this.batchSizes.push(entries.length);
		for (const entry of entries) this.entries.set(entry.id, entry.ciphertext);
		return { entryCount: this.entries.size };
	}
	async keyBackupEntries(after = '') {
		const ids = [...this.entries.keys()].filter((id) => id > after).sort();
		return { version: this.backup!.version, entries: ids.map((id) => ({ id, ciphertext: this.entries.get(id)! })), next: null };
	}
}

async function senderKeyRecord(): Promise<InboundSenderKey> {
	const sodium = await loadSodium();
	const outbound = createOutboundSenderKey(sodium, CHANNEL);
	return importSenderKey(exportSenderKey(outbound), { userId: USER, deviceId: DEVICE });
}

/** The engine's backup seam over a bare store: the same entry logic (backup-entries.ts) without a server behind it. */
function keysOf(store: E2eeStore): BackupKeySource {
	return {
		exportBackupEntries: () => collectBackupEntries(store),
		importBackupEntries: async (entries) => importBackupEntries(await loadSodium(), store, entries)
	};
}

function managerFor(store: E2eeStore, api: KeyBackupApi): KeyBackupManager {
	return new KeyBackupManager({ store, api, keys: keysOf(store), limits: LIMITS });
}

describe('KeyBackupManager', () => {
	it('refuses a passphrase the strength check does not accept, before contacting the server', async () => {
		const server = new MemoryBackupServer();
		const manager = managerFor(new MemoryE2eeStore(), server);
		await expect(manager.setUp('aaaaaaaaaaaa')).rejects.toBeInstanceOf(WeakPassphraseError);
		expect(server.backup).toBeNull();
	});

	it('uploads in batches of at most the server limit and only what is new', async () => {
		const sodium = await loadSodium();
		const server = new MemoryBackupServer();
		const store = new MemoryE2eeStore();
		const count = KEY_BACKUP_BATCH_MAX + 20;
		for (let i = 0; i < count; i++) {
			await store.put('messageKeys', `dm:${DEVICE}:${toB64(sodium.randombytes_buf(24))}`, { channelId: CHANNEL, senderUserId: USER, contentKey: toB64(sodium.randombytes_buf(32)) });
		}
		const manager = managerFor(store, server);
		await manager.setUp(PASSPHRASE);
		expect(server.entries.size).toBe(count);
		expect(server.batchSizes).toEqual([KEY_BACKUP_BATCH_MAX, 20]);
		expect(await manager.uploadPending()).toBe(0);
	});

	it('skips entries the server altered or moved to another id, and a sender key that disagrees with the one held', async () => {
		const sodium = await loadSodium();
		const server = new MemoryBackupServer();
		const first = new MemoryE2eeStore();
		const record = await senderKeyRecord();
		const other = await senderKeyRecord();
		await first.put('inboundSenderKeys', `${DEVICE}:${record.senderKeyId}`, record);
		await first.put('inboundSenderKeys', `${DEVICE}:${other.senderKeyId}`, other);
		const dmKeyId = `dm:${DEVICE}:${toB64(sodium.randombytes_buf(24))}`;
		await first.put('messageKeys', dmKeyId, { channelId: CHANNEL, senderUserId: USER, contentKey: toB64(sodium.randombytes_buf(32)) });
		await managerFor(first, server).setUp(PASSPHRASE);
		expect(server.entries.size).toBe(3);

		// The server swaps the two sender keys' ciphertexts and flips a byte of the DM key's.
		const [idA, idB] = [`sk:${DEVICE}:${record.senderKeyId}`, `sk:${DEVICE}:${other.senderKeyId}`];
		const [ctA, ctB] = [server.entries.get(idA)!, server.entries.get(idB)!];
		server.entries.set(idA, ctB);
		server.entries.set(idB, ctA);
		const dm = server.entries.get(`mk:${dmKeyId}`)!;
		const flipped = dm.at(-2) === 'A' ? 'B' : 'A';
		server.entries.set(`mk:${dmKeyId}`, dm.slice(0, -2) + flipped + dm.slice(-1));

		const second = new MemoryE2eeStore();
		const result = await managerFor(second, server).restore(PASSPHRASE);
		expect(result).toEqual({ imported: 0, skipped: 3 });
		expect(await second.list('inboundSenderKeys')).toEqual([]);
		expect(await second.list('messageKeys')).toEqual([]);
	});

	it('keeps the sender key a device holds when the backup’s copy conflicts with it', async () => {
		const server = new MemoryBackupServer();
		const first = new MemoryE2eeStore();
		const record = await senderKeyRecord();
		await first.put('inboundSenderKeys', `${DEVICE}:${record.senderKeyId}`, record);
		await managerFor(first, server).setUp(PASSPHRASE);

		// The restoring device already holds a key under the same id with another signing key.
		const impostor = { ...(await senderKeyRecord()), senderKeyId: record.senderKeyId };
		const second = new MemoryE2eeStore();
		await second.put('inboundSenderKeys', `${DEVICE}:${record.senderKeyId}`, impostor);
		const result = await managerFor(second, server).restore(PASSPHRASE);
		expect(result).toEqual({ imported: 0, skipped: 1 });
		expect(await second.get('inboundSenderKeys', `${DEVICE}:${record.senderKeyId}`)).toEqual(impostor);
	});
});
