// The encryption engine end to end in Node: several devices (the product's E2eeEngine over memory
// stores) of several users talking to a real server over its REST API. The server only ever sees
// ciphertext; every device that may read a message decrypts it, a removed member's device cannot
// read what is sent after the removal, and a device missing a key asks for it and recovers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, joinCommunity, newClientId } from '../helpers/fixtures.ts';
import { readAs, sendSealed, startDevice, type TestDevice } from '../helpers/e2ee-device.ts';
import { E2eeEngine } from '#lib/client/e2ee/engine.ts';
import { E2eeServerApi } from '#lib/client/e2ee/server-api.ts';
import { createBackupKey, decryptEntry, encryptEntry, newBackupParams, unwrapBackupKey, wrapBackupKey } from '#lib/client/e2ee/key-backup.ts';
import { loadSodium } from '#lib/client/e2ee/sodium.ts';
import { encodeDraft } from '#lib/client/e2ee/message-codec.svelte.ts';
import type { ChannelView, HistoryPage } from '#lib/shared/api-types.ts';
import type { MessageView } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('encryption engine between devices', () => {
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

	/** Another session (so another device) of the same user. */
	async function fetchMessage(reader: TestClient, channelId: string, id: string): Promise<MessageView> {
		const page = await reader.api.get<HistoryPage>(`/api/channels/${channelId}/messages?limit=50`);
		const message = page.messages.find((m) => m.id === id);
		if (!message) throw new Error('message not in history');
		return message;
	}

	it('a direct message between two users with two devices each decrypts on all four, both ways', async () => {
		const ann = await TestClient.signUp(server);
		const ben = await TestClient.signUp(server);
		const community = await createCommunity(ann);
		await joinCommunity(ann, ben, community.id);
		const [ann1, ann2, ben1, ben2] = await Promise.all([
			startDevice(ann),
			ann.anotherSession().then((c) => startDevice(c)),
			startDevice(ben),
			ben.anotherSession().then((c) => startDevice(c))
		]);
		const { channel } = await ann.api.post<{ channel: ChannelView }>('/api/dms', { userId: ben.user.id });

		const first = await sendSealed(ann1, channel.id, 'dm canary 7f3a: hello Ben', true);
		expect(JSON.parse(first.payload)).toMatchObject({ e: 'hearth.dm.v1', dev: ann1.engine.deviceId });
		for (const device of [ann1, ann2, ben1, ben2]) {
			expect(await readAs(device, await fetchMessage(device.client, channel.id, first.id))).toBe('dm canary 7f3a: hello Ben');
		}

		const reply = await sendSealed(ben2, channel.id, 'and hello back from my second device', true);
		for (const device of [ann1, ann2, ben1, ben2]) {
			expect(await readAs(device, await fetchMessage(device.client, channel.id, reply.id))).toBe('and hello back from my second device');
		}
		// History re-renders from the kept content key (a second open does not touch the ratchet).
		expect(await readAs(ben1, first)).toBe('dm canary 7f3a: hello Ben');

		// A message claiming Ann's device but posted by Ben is refused as forged.
		const { message: forged } = await ben1.client.api.post<{ message: MessageView }>(`/api/channels/${channel.id}/messages`, {
			clientId: newClientId(),
			payload: first.payload // Ann's ciphertext, now under Ben's name
		});
		expect(forged.authorId).toBe(ben.user.id);
		expect((await ann2.engine.open(forged)).state).toBe('forged');

		// Someone who never opened Hearth has no device: a DM to them could never be read, so sealing refuses.
		const cleo = await TestClient.signUp(server);
		await joinCommunity(ann, cleo, community.id);
		const { channel: toCleo } = await ann.api.post<{ channel: ChannelView }>('/api/dms', { userId: cleo.user.id });
		await expect(ann1.engine.seal(toCleo.id, encodeDraft('are you there?'), { direct: true })).rejects.toThrow(/no device/);
	});

	it('a deleted (or expired) direct message leaves the device: its content key is forgotten and it cannot be opened again', async () => {
		const ann = await TestClient.signUp(server);
		const ben = await TestClient.signUp(server);
		const community = await createCommunity(ann);
		await joinCommunity(ann, ben, community.id);
		const [annDevice, benDevice] = await Promise.all([startDevice(ann), startDevice(ben)]);
		const { channel } = await ann.api.post<{ channel: ChannelView }>('/api/dms', { userId: ben.user.id });
		const message = await sendSealed(annDevice, channel.id, 'this will disappear', true);
		expect(await readAs(benDevice, message)).toBe('this will disappear');
		const { dev, n } = JSON.parse(message.payload) as { dev: string; n: number };
		expect(await benDevice.store.get('messageKeys', `dm:${dev}:${n}`)).toBeDefined();

		await benDevice.engine.forgetMessage(message);
		expect(await benDevice.store.get('messageKeys', `dm:${dev}:${n}`)).toBeUndefined();
		// The ratchet moved on when it was first opened: without the kept key it is gone for good here.
		expect(await readAs(benDevice, message)).not.toBe('this will disappear');
		// The sender's own copy of the key goes the same way on the sender's device.
		await annDevice.engine.forgetMessage(message);
		expect(await annDevice.store.get('messageKeys', `dm:${dev}:${n}`)).toBeUndefined();
	});

	it('a channel message decrypts for every member device; a forged author is caught', async () => {
		const owner = await TestClient.signUp(server);
		const community = await createCommunity(owner);
		const members = [await TestClient.signUp(server), await TestClient.signUp(server)];
		for (const member of members) await joinCommunity(owner, member, community.id);
		const devices = await Promise.all([owner, ...members, await owner.anotherSession()].map((c) => startDevice(c)));
		const [ownerDevice, m1, m2, ownerSecond] = devices as [TestDevice, TestDevice, TestDevice, TestDevice];

		const message = await sendSealed(ownerDevice, community.generalId, 'channel canary 91bc: welcome all');
		expect(JSON.parse(message.payload)).toMatchObject({ e: 'hearth.sk.v1', dev: ownerDevice.engine.deviceId, i: 0 });
		for (const device of devices) expect(await readAs(device, message)).toBe('channel canary 91bc: welcome all');

		const answer = await sendSealed(m1, community.generalId, 'thanks!');
		for (const device of devices) expect(await readAs(device, answer)).toBe('thanks!');
		const again = await sendSealed(ownerDevice, community.generalId, 'second message, same key');
		expect(JSON.parse(again.payload)).toMatchObject({ sk: JSON.parse(message.payload).sk, i: 1 });
		expect(await readAs(ownerSecond, again)).toBe('second message, same key');
		// Decrypted bodies go to the device's local search index, never back to the server.
		expect(await ownerSecond.store.get('plaintextIndex', again.id)).toEqual({ channelId: community.generalId, authorId: owner.user.id, text: 'second message, same key' });

		// m2 reposts the owner's ciphertext as its own message: the key belongs to the owner, so it is forged.
		const { message: reposted } = await m2.client.api.post<{ message: MessageView }>(`/api/channels/${community.generalId}/messages`, {
			clientId: newClientId(),
			payload: again.payload
		});
		expect((await m1.engine.open(reposted)).state).toBe('forged');
	});

	it('a removed member’s device cannot decrypt what is sent after the removal (the sender key rotates)', async () => {
		const owner = await TestClient.signUp(server);
		const community = await createCommunity(owner);
		const stays = await TestClient.signUp(server);
		const leaves = await TestClient.signUp(server);
		for (const member of [stays, leaves]) await joinCommunity(owner, member, community.id);
		const [ownerDevice, staysDevice, leavesDevice] = (await Promise.all([owner, stays, leaves].map((c) => startDevice(c)))) as [TestDevice, TestDevice, TestDevice];

		const before = await sendSealed(ownerDevice, community.generalId, 'before the kick');
		expect(await readAs(leavesDevice, before)).toBe('before the kick');

		await owner.api.post(`/api/communities/${community.id}/members/${leaves.user.id}/kick`, { reason: 'test' });
		const after = await sendSealed(ownerDevice, community.generalId, 'after the kick: canary c0ffee');
		expect(JSON.parse(after.payload).sk).not.toBe(JSON.parse(before.payload).sk);
		expect(await readAs(staysDevice, after)).toBe('after the kick: canary c0ffee');
		// The removed device gets the ciphertext handed over (it can no longer fetch it) and has no key for it.
		const view = await leavesDevice.engine.open(after);
		expect(view).toMatchObject({ state: 'undecryptable', senderDeviceId: ownerDevice.engine.deviceId });
		await leavesDevice.engine.syncToDevice();
		expect((await leavesDevice.engine.open(after)).state).toBe('undecryptable');

		// Rejoining does not open what was said while away: the key's first iteration is re-shared
		// only with those who could read the channel when the key was made.
		await joinCommunity(owner, leaves, community.id);
		expect((await leavesDevice.engine.open(await fetchMessage(leaves, community.generalId, after.id))).state).toBe('undecryptable');
		await ownerDevice.engine.syncToDevice(); // takes in (and declines) the key request
		expect(await readAs(leavesDevice, after)).toBe('undecryptable');
		// What is sent after rejoining is readable again.
		const back = await sendSealed(ownerDevice, community.generalId, 'welcome back');
		expect(await readAs(leavesDevice, back)).toBe('welcome back');
	});

	it('a device without the key asks the sender for it and then decrypts', async () => {
		const owner = await TestClient.signUp(server);
		const community = await createCommunity(owner);
		const member = await TestClient.signUp(server);
		await joinCommunity(owner, member, community.id);
		const [ownerDevice, memberDevice] = await Promise.all([startDevice(owner), startDevice(member)]);
		const old = await sendSealed(ownerDevice, community.generalId, 'sent before the new device existed');
		expect(await readAs(memberDevice, old)).toBe('sent before the new device existed');

		// The member signs in on a new device: it never received the owner's key.
		const latecomer = await startDevice(await member.anotherSession());
		let keysArrived = 0;
		latecomer.engine.onKeysChanged(() => (keysArrived += 1));
		expect(await latecomer.engine.open(old)).toMatchObject({ state: 'undecryptable', senderDeviceId: ownerDevice.engine.deviceId });
		// The request reached the owner's device, which answers it while processing its queue.
		await ownerDevice.engine.syncToDevice();
		await latecomer.engine.syncToDevice();
		expect(keysArrived).toBe(1);
		expect(await readAs(latecomer, old)).toBe('sent before the new device existed');
	});

	it('a browser whose key store was wiped (cookie kept) replaces its device and reads what follows', async () => {
		const owner = await TestClient.signUp(server);
		const community = await createCommunity(owner);
		const member = await TestClient.signUp(server);
		await joinCommunity(owner, member, community.id);
		const [ownerDevice, before] = await Promise.all([startDevice(owner), startDevice(member)]);
		expect(await readAs(before, await sendSealed(ownerDevice, community.generalId, 'before the wipe'))).toBe('before the wipe');

		// Same session, empty store (site data evicted): the engine starts, as a new device.
		const after = await startDevice(member);
		expect(after.engine.deviceId).not.toBe(before.engine.deviceId);
		const message = await sendSealed(ownerDevice, community.generalId, 'after the wipe');
		expect(await readAs(after, message)).toBe('after the wipe');
	});

	it('two tabs of one browser share the device: sends from both use distinct sender-key iterations', async () => {
		const owner = await TestClient.signUp(server);
		const community = await createCommunity(owner);
		const member = await TestClient.signUp(server);
		await joinCommunity(owner, member, community.id);
		const tab1 = await startDevice(owner);
		// A second page of the same browser: same session, same key store, its own engine.
		const tab2: TestDevice = {
			client: owner,
			store: tab1.store,
			engine: new E2eeEngine({ userId: owner.user.id, transport: new E2eeServerApi({ api: owner.api }), store: tab1.store, deviceName: 'Node on Linux' })
		};
		await tab2.engine.start();
		expect(tab2.engine.deviceId).toBe(tab1.engine.deviceId);
		const memberDevice = await startDevice(member);

		const sent = await Promise.all([sendSealed(tab1, community.generalId, 'from tab one'), sendSealed(tab2, community.generalId, 'from tab two')]);
		const iterations = sent.map((m) => (JSON.parse(m.payload) as { i: number; sk: string }));
		expect(iterations[0]!.sk).toBe(iterations[1]!.sk);
		expect(new Set(iterations.map((p) => p.i)).size).toBe(2);
		expect(await readAs(memberDevice, sent[0]!)).toBe('from tab one');
		expect(await readAs(memberDevice, sent[1]!)).toBe('from tab two');
		expect(await readAs(tab2, sent[0]!)).toBe('from tab one');
	});

	it('a new device restored from the key backup reads earlier direct and channel messages', async () => {
		const sodium = await loadSodium();
		const ann = await TestClient.signUp(server);
		const ben = await TestClient.signUp(server);
		const community = await createCommunity(ann);
		await joinCommunity(ann, ben, community.id);
		const [annDevice, benDevice] = await Promise.all([startDevice(ann), startDevice(ben)]);
		const { channel } = await ann.api.post<{ channel: ChannelView }>('/api/dms', { userId: ben.user.id });
		const dm = await sendSealed(benDevice, channel.id, 'an old direct message', true);
		const post = await sendSealed(benDevice, community.generalId, 'an old channel message');
		expect(await readAs(annDevice, dm)).toBe('an old direct message');
		expect(await readAs(annDevice, post)).toBe('an old channel message');

		// Ann's device backs up what it knows, encrypted under a backup key wrapped by her passphrase.
		const backupKey = createBackupKey(sodium);
		const params = newBackupParams(sodium, { opsLimit: 1, memLimit: 8 * 1024 * 1024 });
		const annApi = new E2eeServerApi({ api: ann.api });
		await annApi.putKeyBackup({ version: 1, params, wrappedKey: await wrapBackupKey(sodium, backupKey, 'a long recovery passphrase', params) });
		const entries = await annDevice.engine.exportBackupEntries();
		expect(entries.map((e) => e.id.split(':')[0]).sort()).toEqual(['mk', 'sk']); // the DM's content key and Ben's sender key
		await annApi.putKeyBackupEntries(1, entries.map((e) => ({ id: e.id, ciphertext: encryptEntry(sodium, backupKey, e.id, e.value) })));

		// A new device of Ann: nothing to read with until she enters the passphrase.
		const fresh = await startDevice(await ann.anotherSession());
		expect((await fresh.engine.open(dm)).state).toBe('undecryptable');
		const freshApi = new E2eeServerApi({ api: fresh.client.api });
		const backup = (await freshApi.keyBackup())!;
		const unwrapped = await unwrapBackupKey(sodium, backup.wrappedKey, 'a long recovery passphrase', backup.params);
		const stored = await freshApi.allKeyBackupEntries();
		const taken = await fresh.engine.importBackupEntries(stored.entries.map((e) => ({ id: e.id, value: decryptEntry(sodium, unwrapped, e.id, e.ciphertext) })));
		expect(taken).toBe(2);
		expect(await readAs(fresh, dm)).toBe('an old direct message');
		expect(await readAs(fresh, post)).toBe('an old channel message');
	});
});
