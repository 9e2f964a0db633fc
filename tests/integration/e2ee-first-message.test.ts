// Issue 17: a newcomer must read the first message sent to them, whatever the order in which their
// browser registers its encryption device and the sender's browser makes the channel's sender key
// and reads the channel's device list. Each test fixes one ordering with the product's engine over
// the real REST API (both database engines), and plays the sender's and the newcomer's pages as the
// app does: to-device messages are taken in as they arrive, `devices.changed` is handed to the
// engine. No test waits for a timer: every ordering must resolve through events alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, joinCommunity } from '../helpers/fixtures.ts';
import { readAs, sendSealed, startDevice, type TestDevice } from '../helpers/e2ee-device.ts';
import { E2eeEngine } from '#lib/client/e2ee/engine.ts';
import { MemoryE2eeStore } from '#lib/client/e2ee/memory-store.ts';
import { E2eeServerApi } from '#lib/client/e2ee/server-api.ts';
import type { ChannelDevicesView } from '#lib/shared/e2ee.ts';
import type { MessageView } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();

/** The product's REST transport with a hook that runs right after the channel's device list was read. */
class ObservedServerApi extends E2eeServerApi {
	afterChannelDevices: (() => Promise<void>) | null = null;
	/** Batches of to-device messages this device sent (key distributions and key requests alike). */
	toDeviceSends = 0;
	override async sendToDevice(messages: Array<{ deviceId: string; body: string }>): Promise<void> {
		this.toDeviceSends += 1;
		return super.sendToDevice(messages);
	}
	override async listChannelDevices(channelId: string): Promise<ChannelDevicesView> {
		const view = await super.listChannelDevices(channelId);
		const hook = this.afterChannelDevices;
		this.afterChannelDevices = null;
		if (hook) await hook();
		return view;
	}
}

async function startObservedDevice(client: TestClient): Promise<TestDevice & { api: ObservedServerApi }> {
	const store = new MemoryE2eeStore();
	const api = new ObservedServerApi({ api: client.api });
	const engine = new E2eeEngine({ userId: client.user.id, transport: api, store, deviceName: 'Node on Linux' });
	await engine.start();
	return { client, engine, store, api };
}

/** What the app does with what arrived for a page: its to-device queue, then the devices.changed notices it got. */
async function deliver(device: TestDevice, devicesChangedFor: string[] = []): Promise<void> {
	await device.engine.syncToDevice();
	for (const userId of devicesChangedFor) await device.engine.devicesChanged(userId);
}

describe.skipIf(skip)('a newcomer reads the first message sent to them', () => {
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

	async function communityWithNewcomer(options: { senderSpokeBefore: boolean }) {
		const owner = await TestClient.signUp(server);
		const community = await createCommunity(owner);
		const sender = await startObservedDevice(owner);
		const regular = await TestClient.signUp(server);
		await joinCommunity(owner, regular, community.id);
		const regularDevice = await startDevice(regular);
		let earlier: MessageView | null = null;
		if (options.senderSpokeBefore) {
			earlier = await sendSealed(sender, community.generalId, 'said before the newcomer joined');
			expect(await readAs(regularDevice, earlier)).toBe('said before the newcomer joined');
		}
		// The newcomer's account exists and has joined; their browser has not registered its device yet.
		const newcomer = await TestClient.signUp(server);
		await joinCommunity(owner, newcomer, community.id);
		return { owner, community, sender, regularDevice, newcomer, earlier };
	}

	for (const senderSpokeBefore of [false, true]) {
		const keyAge = senderSpokeBefore ? 'an existing sender key' : 'a new sender key';

		it(`device registered after the sender read the device list (${keyAge}): read at once`, async () => {
			const { community, sender, regularDevice, newcomer, earlier } = await communityWithNewcomer({ senderSpokeBefore });
			const greeting = await sendSealed(sender, community.generalId, 'welcome aboard!');
			const newDevice = await startDevice(newcomer);
			// The sender's page is told the newcomer's devices changed (and may already hold their request).
			await deliver(sender, [newcomer.user.id]);
			expect(await readAs(newDevice, greeting)).toBe('welcome aboard!');
			expect(await readAs(regularDevice, greeting)).toBe('welcome aboard!');
			// Joining later never opens what was said before: only from the first message they were a member for.
			if (earlier) {
				expect(await readAs(newDevice, earlier)).toBe('undecryptable');
				await deliver(sender);
				expect(await readAs(newDevice, earlier)).toBe('undecryptable');
			}
		});

		it(`device registered between the read and the send (${keyAge}): read at once`, async () => {
			const { community, sender, newcomer, earlier } = await communityWithNewcomer({ senderSpokeBefore });
			let newDevice: TestDevice | undefined;
			sender.api.afterChannelDevices = async () => {
				newDevice = await startDevice(newcomer);
			};
			const greeting = await sendSealed(sender, community.generalId, 'hi, good to have you here');
			expect(newDevice).toBeDefined();
			await deliver(sender, [newcomer.user.id]);
			expect(await readAs(newDevice!, greeting)).toBe('hi, good to have you here');
			if (earlier) expect(await readAs(newDevice!, earlier)).toBe('undecryptable');
		});

		it(`device registered while the sender was offline (${keyAge}): read when the sender is back`, async () => {
			const { community, sender, newcomer } = await communityWithNewcomer({ senderSpokeBefore });
			const greeting = await sendSealed(sender, community.generalId, 'see you tomorrow');
			// The sender's page is closed: nothing is delivered to it while the newcomer arrives and asks.
			const newDevice = await startDevice(newcomer);
			expect(await newDevice.engine.open(greeting)).toMatchObject({ state: 'undecryptable', senderDeviceId: sender.engine.deviceId });
			// Back online: the app fetches the queued to-device messages (the newcomer's key request).
			await deliver(sender);
			expect(await readAs(newDevice, greeting)).toBe('see you tomorrow');
		});
	}

	it('a newcomer who asks before the sender hears of their device is answered by the request alone', async () => {
		const { community, sender, newcomer } = await communityWithNewcomer({ senderSpokeBefore: false });
		const greeting = await sendSealed(sender, community.generalId, 'request path only');
		const newDevice = await startDevice(newcomer);
		expect((await newDevice.engine.open(greeting)).state).toBe('undecryptable');
		await deliver(sender); // no devices.changed: only the key request reaches the sender
		expect(await readAs(newDevice, greeting)).toBe('request path only');
	});

	it('someone who joined after the message was sent is not handed its key', async () => {
		const owner = await TestClient.signUp(server);
		const community = await createCommunity(owner);
		const sender = await startObservedDevice(owner);
		const regular = await TestClient.signUp(server);
		await joinCommunity(owner, regular, community.id);
		await startDevice(regular);
		const before = await sendSealed(sender, community.generalId, 'before anyone new');
		const late = await TestClient.signUp(server);
		await joinCommunity(owner, late, community.id);
		const lateDevice = await startDevice(late);
		await deliver(sender, [late.user.id]);
		expect(await readAs(lateDevice, before)).toBe('undecryptable');
		// What follows their arrival is readable.
		const after = await sendSealed(sender, community.generalId, 'after they came');
		expect(await readAs(lateDevice, after)).toBe('after they came');
	});

	it('a member who left and came back between two messages reads from their return, not from before', async () => {
		const owner = await TestClient.signUp(server);
		const community = await createCommunity(owner);
		const sender = await startObservedDevice(owner);
		const member = await TestClient.signUp(server);
		await joinCommunity(owner, member, community.id);
		// The member has no device yet when the key is made: they are a reader from its start.
		const first = await sendSealed(sender, community.generalId, 'first, while they were here');
		await member.api.post(`/api/communities/${community.id}/leave`);
		const away = await sendSealed(sender, community.generalId, 'said while they were away');
		await joinCommunity(owner, member, community.id);
		const back = await sendSealed(sender, community.generalId, 'welcome back');
		const memberDevice = await startDevice(member);
		await deliver(sender, [member.user.id]);
		expect(await readAs(memberDevice, back)).toBe('welcome back');
		expect(await readAs(memberDevice, away)).toBe('undecryptable');
		expect(await readAs(memberDevice, first)).toBe('undecryptable');
	});

	it('a waiting message is asked for again: by timer with a growing pause, and at once on the sender’s devices.changed or a reconnect', async () => {
		const { community, sender, newcomer } = await communityWithNewcomer({ senderSpokeBefore: false });
		const greeting = await sendSealed(sender, community.generalId, 'asked for twice');
		const newDevice = await startObservedDevice(newcomer);
		expect((await newDevice.engine.open(greeting)).state).toBe('undecryptable');
		expect(newDevice.api.toDeviceSends).toBe(1);
		// The request is lost: the sender's page takes its queue and crashes before answering.
		const lost = await sender.api.fetchToDevice(0);
		expect(lost.length).toBeGreaterThan(0);
		await sender.api.ackToDevice(Math.max(...lost.map((m) => m.id)));
		// Opening again at once does not ask again (a render is not a reason to flood the sender)…
		expect((await newDevice.engine.open(greeting)).state).toBe('undecryptable');
		expect(newDevice.api.toDeviceSends).toBe(1);
		// …the timer does, about two seconds later.
		const started = Date.now();
		await expect.poll(() => newDevice.api.toDeviceSends, { timeout: 5000, interval: 50 }).toBe(2);
		expect(Date.now() - started).toBeGreaterThan(1000);
		// A devices.changed of the sender, or a reconnect, asks at once.
		await newDevice.engine.devicesChanged(sender.client.user.id);
		expect(newDevice.api.toDeviceSends).toBe(3);
		await newDevice.engine.retryWaitingKeys();
		expect(newDevice.api.toDeviceSends).toBe(4);
		await deliver(sender);
		expect(await readAs(newDevice, greeting)).toBe('asked for twice');
		// Once read, nothing is asked for any more.
		await newDevice.engine.retryWaitingKeys();
		expect(newDevice.api.toDeviceSends).toBe(4);
		newDevice.engine.dispose();
	});
});
