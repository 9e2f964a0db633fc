// An encryption device in Node: the product's E2eeEngine over a memory store and an E2eeTransport
// speaking the real REST API with a signed-in test client's cookies and CSRF token.
import type { ApiClient } from '#lib/client/api.ts';
import type { E2eeTransport } from '#lib/client/e2ee/contracts.ts';
import { E2eeEngine } from '#lib/client/e2ee/engine.ts';
import { MemoryE2eeStore } from '#lib/client/e2ee/memory-store.ts';
import type { ChannelDevicesView, OneTimePrekey, OwnDeviceView, PrekeyBundle, PublicDeviceView, RegisterDeviceRequest, SignedPrekey, ToDeviceMessage } from '#lib/shared/e2ee.ts';
import { ApiError } from '#lib/client/api.ts';
import type { TestClient } from './clients.ts';

/** E2eeTransport over REST (the same routes the browser uses). */
export class RestE2eeTransport implements E2eeTransport {
	#api: ApiClient;
	constructor(api: ApiClient) {
		this.#api = api;
	}
	async registerDevice(request: RegisterDeviceRequest) {
		const { device } = await this.#api.post<{ device: OwnDeviceView }>('/api/devices', request);
		return { deviceId: device.id };
	}
	async currentDevice() {
		try {
			const { device, oneTimePrekeyCount } = await this.#api.get<{ device: OwnDeviceView; oneTimePrekeyCount: number }>('/api/devices/current');
			return { deviceId: device.id, identityKey: device.identityKey, oneTimePrekeyCount };
		} catch (error) {
			if (error instanceof ApiError && error.status === 404) return null;
			throw error;
		}
	}
	uploadOneTimePrekeys(keys: OneTimePrekey[]) {
		return this.#api.post<{ oneTimePrekeyCount: number }>('/api/devices/current/one-time-prekeys', { oneTimePrekeys: keys });
	}
	async replaceSignedPrekey(signedPrekey: SignedPrekey) {
		await this.#api.put('/api/devices/current/signed-prekey', { signedPrekey });
	}
	async listUserDevices(userId: string) {
		return (await this.#api.get<{ devices: PublicDeviceView[] }>(`/api/users/${userId}/devices`)).devices;
	}
	listChannelDevices(channelId: string) {
		return this.#api.get<ChannelDevicesView>(`/api/channels/${channelId}/devices`);
	}
	async claimBundles(deviceIds: string[]) {
		return (await this.#api.post<{ bundles: PrekeyBundle[] }>('/api/keys/claim', { devices: deviceIds })).bundles;
	}
	async sendToDevice(messages: Array<{ deviceId: string; body: string }>) {
		await this.#api.post('/api/to-device', { messages });
	}
	async fetchToDevice(after: number) {
		return (await this.#api.get<{ messages: ToDeviceMessage[] }>(`/api/to-device?after=${after}`)).messages;
	}
	async ackToDevice(upTo: number) {
		await this.#api.post('/api/to-device/ack', { upTo });
	}
}

export type TestDevice = { client: TestClient; engine: E2eeEngine; store: MemoryE2eeStore };

/** A started device (registered, prekeys published) for a signed-in client. */
export async function startDevice(client: TestClient, name = 'Node on Linux'): Promise<TestDevice> {
	const store = new MemoryE2eeStore();
	const engine = new E2eeEngine({ userId: client.user.id, transport: new RestE2eeTransport(client.api), store, deviceName: name });
	await engine.start();
	return { client, engine, store };
}
