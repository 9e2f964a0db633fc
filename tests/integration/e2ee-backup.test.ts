// The key backup end to end in Node: the product's E2eeEngine and KeyBackupManager over memory
// stores, against a real server. A device that set up the backup uploads the keys it learned; a
// new device of the same user unlocks the backup with the passphrase and reads the old sender-key
// and direct messages it was never sent keys for. A wrong passphrase opens nothing, a passphrase
// change keeps the entries readable, and a reset makes the old ones unreadable and removes them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, joinCommunity } from '../helpers/fixtures.ts';
import { readAs, sendSealed, startDevice, type TestDevice } from '../helpers/e2ee-device.ts';
import { E2eeServerApi } from '#lib/client/e2ee/server-api.ts';
import { KeyBackupManager } from '#lib/client/e2ee/backup-manager.ts';
import { decryptEntry, WrongPassphraseError } from '#lib/client/e2ee/key-backup.ts';
import { fromB64 } from '#lib/client/e2ee/encoding.ts';
import { loadSodium } from '#lib/client/e2ee/sodium.ts';
import type { Argon2idLimits } from '#lib/client/e2ee/argon2id.ts';
import type { ChannelView } from '#lib/shared/api-types.ts';
import type { KeyBackupEntry } from '#lib/shared/e2ee.ts';

const skip = postgresUnavailableReason();
/** Argon2id's cheapest accepted cost: the tests check the flow, not the cost (a unit test checks MODERATE). */
const TEST_LIMITS: Argon2idLimits = { opsLimit: 1, memLimit: 8 * 1024 * 1024 };
const PASSPHRASE = 'correct horse battery staple';

describe.skipIf(skip)('key backup between devices', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	function backupOf(device: TestDevice): { manager: KeyBackupManager; api: E2eeServerApi } {
		const api = new E2eeServerApi({ api: device.client.api, baseUrl: server.url, fetch: (input, init) => device.client.fetch(String(input), init) });
		return { manager: new KeyBackupManager({ store: device.store, api, keys: device.engine, limits: TEST_LIMITS }), api };
	}

	it('a new device restores with the passphrase and reads old messages; wrong passphrase, change and reset behave', async () => {
		const sodium = await loadSodium();
		const ann = await TestClient.signUp(server);
		const ben = await TestClient.signUp(server);
		const community = await createCommunity(ben);
		await joinCommunity(ben, ann, community.id);
		const [ann1, ben1] = await Promise.all([startDevice(ann), startDevice(ben)]);
		const { channel: dm } = await ann.api.post<{ channel: ChannelView }>('/api/dms', { userId: ben.user.id });
		const { manager: backup1, api: api1 } = backupOf(ann1);

		expect(await backup1.status()).toEqual({ state: 'none' });
		await backup1.setUp(PASSPHRASE);
		expect(await backup1.status()).toMatchObject({ state: 'active', version: 1, entryCount: 0 });

		// Ann's first device learns a sender key (Ben's channel message) and DM content keys (Ben's and her own).
		const channelMessage = await sendSealed(ben1, community.generalId, 'sender-key canary 4e1d: old channel news');
		const benDm = await sendSealed(ben1, dm.id, 'dm canary 2b9c: an old secret', true);
		const annDm = await sendSealed(ann1, dm.id, 'dm canary 77aa: my own old reply', true);
		expect(await readAs(ann1, channelMessage)).toBe('sender-key canary 4e1d: old channel news');
		expect(await readAs(ann1, benDm)).toBe('dm canary 2b9c: an old secret');

		const uploaded = await backup1.uploadPending();
		// Ben's sender key, Ben's DM key, Ann's own DM key (kept when she sent it).
		expect(uploaded).toBe(3);
		expect(await backup1.uploadPending()).toBe(0); // incremental: nothing new, nothing sent
		const { entries } = await api1.allKeyBackupEntries();
		const channelPayload = JSON.parse(channelMessage.payload) as { dev: string; sk: string };
		const benDmPayload = JSON.parse(benDm.payload) as { dev: string; n: string };
		expect(entries.map((e) => e.id).sort()).toEqual(
			[`sk:${channelPayload.dev}:${channelPayload.sk}`, `mk:dm:${benDmPayload.dev}:${benDmPayload.n}`, `mk:dm:${ann1.engine.deviceId}:${JSON.parse(annDm.payload).n}`].sort()
		);
		for (const entry of entries) expect(entry.ciphertext).not.toContain(channelPayload.sk);

		// A new device of Ann's: no key was ever sent to it for these messages.
		const ann2 = await startDevice(await ann.anotherSession());
		const { manager: backup2 } = backupOf(ann2);
		expect(await readAs(ann2, channelMessage)).toBe('undecryptable');
		expect(await readAs(ann2, benDm)).toBe('undecryptable');
		expect(await backup2.status()).toMatchObject({ state: 'locked', version: 1, entryCount: 3 });
		await expect(backup2.restore('not the passphrase at all')).rejects.toBeInstanceOf(WrongPassphraseError);
		expect(await backup2.holdsBackupKey()).toBe(false);

		const restored = await backup2.restore(PASSPHRASE);
		expect(restored).toEqual({ imported: 3, skipped: 0 });
		expect(await readAs(ann2, channelMessage)).toBe('sender-key canary 4e1d: old channel news');
		expect(await readAs(ann2, benDm)).toBe('dm canary 2b9c: an old secret');
		expect(await readAs(ann2, annDm)).toBe('dm canary 77aa: my own old reply');
		expect(await backup2.status()).toMatchObject({ state: 'active', version: 1 });
		// Restored entries count as uploaded; a key learned afterwards is uploaded by the new device.
		expect(await backup2.uploadPending()).toBe(0);
		const later = await sendSealed(ben1, community.generalId, 'a later message from Ben');
		expect(await readAs(ann2, later)).toBe('a later message from Ben');
		expect(await backup2.uploadPending()).toBe(0); // same sender key, same earliest iteration: already backed up
		const laterDm = await sendSealed(ben1, dm.id, 'a later DM', true);
		expect(await readAs(ann2, laterDm)).toBe('a later DM');
		expect(await backup2.uploadPending()).toBe(1);

		// Passphrase change: same key and version, entries still readable; the old passphrase opens nothing.
		const before = await api1.allKeyBackupEntries();
		await backup1.changePassphrase('a brand new passphrase here');
		expect(await backup1.status()).toMatchObject({ state: 'active', version: 1, entryCount: 4 });
		const ann3 = await startDevice(await ann.anotherSession());
		const { manager: backup3 } = backupOf(ann3);
		await expect(backup3.restore(PASSPHRASE)).rejects.toBeInstanceOf(WrongPassphraseError);
		expect(await backup3.restore('a brand new passphrase here')).toEqual({ imported: 4, skipped: 0 });
		expect(await readAs(ann3, benDm)).toBe('dm canary 2b9c: an old secret');
		expect(await readAs(ann3, channelMessage)).toBe('sender-key canary 4e1d: old channel news');
		// A device that already held the key (ann2) stays active: same version.
		expect(await backup2.status()).toMatchObject({ state: 'active', version: 1 });

		// Reset from ann3: a new key and version. The server dropped the old entries; ann3 uploaded its keys
		// again under the new key, and neither the old passphrase nor the old key opens anything now.
		const oldBackupKey = fromB64((await ann2.store.get<{ backupKey: string }>('account', 'backup'))!.backupKey);
		await backup3.reset('the reset passphrase 123');
		const after = await api1.allKeyBackupEntries();
		expect(after.version).toBe(2);
		expect(after.entries.map((e) => e.id).sort()).toEqual(before.entries.map((e: KeyBackupEntry) => e.id).sort());
		const oldCiphertexts = new Set(before.entries.map((e) => e.ciphertext));
		for (const entry of after.entries) {
			expect(oldCiphertexts.has(entry.ciphertext)).toBe(false);
			expect(() => decryptEntry(sodium, oldBackupKey, entry.id, entry.ciphertext)).toThrow();
		}
		const ann4 = await startDevice(await ann.anotherSession());
		const { manager: backup4 } = backupOf(ann4);
		await expect(backup4.restore('a brand new passphrase here')).rejects.toBeInstanceOf(WrongPassphraseError);
		// ann2 held the version-1 key: it finds out, drops it and asks for the passphrase again.
		expect(await backup2.status()).toMatchObject({ state: 'locked', version: 2 });
		expect(await backup2.holdsBackupKey()).toBe(false);
		expect(await backup2.uploadPending()).toBe(0);
		expect(await backup4.restore('the reset passphrase 123')).toMatchObject({ skipped: 0 });
		expect(await readAs(ann4, channelMessage)).toBe('sender-key canary 4e1d: old channel news');
	});

	it('a device holding a stale key learns of a reset when its upload is refused', async () => {
		const cat = await TestClient.signUp(server);
		const dan = await TestClient.signUp(server);
		const community = await createCommunity(dan);
		await joinCommunity(dan, cat, community.id);
		const [cat1, dan1] = await Promise.all([startDevice(cat), startDevice(dan)]);
		const cat2 = await startDevice(await cat.anotherSession());
		const { manager: backup1 } = backupOf(cat1);
		const { manager: backup2 } = backupOf(cat2);
		await backup1.setUp(PASSPHRASE);
		await backup2.restore(PASSPHRASE);
		await backup1.reset('another long passphrase');
		const message = await sendSealed(dan1, community.generalId, 'after the reset');
		expect(await readAs(cat2, message)).toBe('after the reset');
		// cat2 still thinks version 1: the server answers 409 and cat2 forgets the stale key.
		expect(await backup2.uploadPending()).toBe(0);
		expect(await backup2.holdsBackupKey()).toBe(false);
		await expect(backup2.setUp(PASSPHRASE)).rejects.toThrow(/exists already/);
	});
});
