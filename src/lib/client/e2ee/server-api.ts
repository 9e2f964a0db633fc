// The encryption engine's server seam (E2eeTransport) over the REST API, plus the calls the
// settings pages and the attachment code need: device list/rename/remove, key backup, encrypted
// attachments. Thin on purpose: shapes come from #lib/shared/e2ee.ts, CSRF and errors from
// ApiClient. Live to-device delivery arrives on /ws (`to-device` frames) through the realtime
// client; this module is what the engine uses to catch up and acknowledge.
import { ApiClient, ApiError } from '#lib/client/api.ts';
import type { ApiErrorBody } from '#lib/shared/api-types.ts';
import type {
	ChannelDevicesView,
	KeyBackupEntry,
	KeyBackupParams,
	KeyBackupView,
	OneTimePrekey,
	OwnDeviceView,
	PrekeyBundle,
	PublicDeviceView,
	RegisterDeviceRequest,
	SignedPrekey,
	ToDeviceMessage
} from '#lib/shared/e2ee.ts';
import type { E2eeTransport } from './contracts.ts';

/** One page of GET /api/to-device: the engine loops until a page comes back short. */
const TO_DEVICE_PAGE = 500;

export type AttachmentView = { id: string; channelId: string; size: number; createdAt: string };
export type KeyBackupEntriesPage = { version: number; entries: KeyBackupEntry[]; next: string | null };

export class E2eeServerApi implements E2eeTransport {
	#api: ApiClient;
	#fetch: typeof fetch;
	#baseUrl: string;

	constructor(options: { api?: ApiClient; fetch?: typeof fetch; baseUrl?: string } = {}) {
		this.#baseUrl = options.baseUrl ?? '';
		this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
		this.#api = options.api ?? new ApiClient({ baseUrl: this.#baseUrl, fetch: this.#fetch });
	}

	// --- E2eeTransport ------------------------------------------------------------------------

	async registerDevice(request: RegisterDeviceRequest): Promise<{ deviceId: string }> {
		const { device } = await this.#api.post<{ device: OwnDeviceView }>('/api/devices', request);
		return { deviceId: device.id };
	}

	async currentDevice(): Promise<{ deviceId: string; identityKey: string; oneTimePrekeyCount: number } | null> {
		try {
			const { device, oneTimePrekeyCount } = await this.#api.get<{ device: OwnDeviceView; oneTimePrekeyCount: number }>('/api/devices/current');
			return { deviceId: device.id, identityKey: device.identityKey, oneTimePrekeyCount };
		} catch (error) {
			if (error instanceof ApiError && error.status === 404) return null;
			throw error;
		}
	}

	uploadOneTimePrekeys(keys: OneTimePrekey[]): Promise<{ oneTimePrekeyCount: number }> {
		return this.#api.post('/api/devices/current/one-time-prekeys', { oneTimePrekeys: keys });
	}

	async replaceSignedPrekey(signedPrekey: SignedPrekey): Promise<void> {
		await this.#api.put('/api/devices/current/signed-prekey', { signedPrekey });
	}

	async listUserDevices(userId: string): Promise<PublicDeviceView[]> {
		return (await this.#api.get<{ devices: PublicDeviceView[] }>(`/api/users/${encodeURIComponent(userId)}/devices`)).devices;
	}

	listChannelDevices(channelId: string): Promise<ChannelDevicesView> {
		return this.#api.get(`/api/channels/${encodeURIComponent(channelId)}/devices`);
	}

	async claimBundles(deviceIds: string[]): Promise<PrekeyBundle[]> {
		if (deviceIds.length === 0) return [];
		return (await this.#api.post<{ bundles: PrekeyBundle[] }>('/api/keys/claim', { devices: deviceIds })).bundles;
	}

	async sendToDevice(messages: Array<{ deviceId: string; body: string }>): Promise<void> {
		if (messages.length === 0) return;
		await this.#api.post('/api/to-device', { messages });
	}

	async fetchToDevice(after: number): Promise<ToDeviceMessage[]> {
		return (await this.#api.get<{ messages: ToDeviceMessage[] }>(`/api/to-device?after=${after}&limit=${TO_DEVICE_PAGE}`)).messages;
	}

	async ackToDevice(upTo: number): Promise<void> {
		await this.#api.post('/api/to-device/ack', { upTo });
	}

	// --- devices in settings --------------------------------------------------------------------

	async listOwnDevices(): Promise<OwnDeviceView[]> {
		return (await this.#api.get<{ devices: OwnDeviceView[] }>('/api/devices')).devices;
	}

	async renameDevice(deviceId: string, name: string): Promise<OwnDeviceView> {
		return (await this.#api.patch<{ device: OwnDeviceView }>(`/api/devices/${encodeURIComponent(deviceId)}`, { name })).device;
	}

	/** Removing this browser's own device signs it out (the server clears the session cookie). */
	async removeDevice(deviceId: string): Promise<void> {
		await this.#api.delete(`/api/devices/${encodeURIComponent(deviceId)}`);
	}

	// --- key backup -----------------------------------------------------------------------------

	async keyBackup(): Promise<KeyBackupView | null> {
		try {
			return (await this.#api.get<{ backup: KeyBackupView }>('/api/key-backup')).backup;
		} catch (error) {
			if (error instanceof ApiError && error.status === 404) return null;
			throw error;
		}
	}

	/** Same version: re-wrap (passphrase change); higher: reset (the server deletes old entries). */
	async putKeyBackup(backup: { version: number; params: KeyBackupParams; wrappedKey: string }): Promise<KeyBackupView> {
		return (await this.#api.put<{ backup: KeyBackupView }>('/api/key-backup', backup)).backup;
	}

	async deleteKeyBackup(): Promise<void> {
		await this.#api.delete('/api/key-backup');
	}

	putKeyBackupEntries(version: number, entries: KeyBackupEntry[]): Promise<{ entryCount: number }> {
		return this.#api.put('/api/key-backup/entries', { version, entries });
	}

	keyBackupEntries(after = '', limit?: number): Promise<KeyBackupEntriesPage> {
		const query = new URLSearchParams({ after });
		if (limit !== undefined) query.set('limit', String(limit));
		return this.#api.get(`/api/key-backup/entries?${query}`);
	}

	/** Every entry, page by page. */
	async allKeyBackupEntries(): Promise<{ version: number; entries: KeyBackupEntry[] }> {
		const entries: KeyBackupEntry[] = [];
		let after = '';
		let version = 0;
		for (;;) {
			const page = await this.keyBackupEntries(after);
			version = page.version;
			entries.push(...page.entries);
			if (!page.next) return { version, entries };
			after = page.next;
		}
	}

	// --- attachments ----------------------------------------------------------------------------

	/**
	 * Uploads an encrypted attachment (ciphertext only). `maxBytes` (the `ready` frame's
	 * limits.uploadMaxBytes) is checked first: the server cuts an oversized upload off mid-body,
	 * which a browser may report as a network error rather than a readable 413.
	 */
	async uploadAttachment(channelId: string, ciphertext: Blob, maxBytes?: number): Promise<AttachmentView> {
		if (maxBytes !== undefined && ciphertext.size > maxBytes) {
			throw new ApiError(413, 'payload_too_large', `Attachments can be at most ${maxBytes} bytes (encrypted) on this server.`);
		}
		const { attachment } = await this.#api.post<{ attachment: AttachmentView }>(`/api/channels/${encodeURIComponent(channelId)}/attachments`, ciphertext);
		return attachment;
	}

	/** The ciphertext as a stream, to decrypt while it downloads. */
	async downloadAttachment(attachmentId: string): Promise<ReadableStream<Uint8Array>> {
		let response: Response;
		try {
			response = await this.#fetch(`${this.#baseUrl}/api/attachments/${encodeURIComponent(attachmentId)}`, { credentials: 'same-origin' });
		} catch {
			throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
		}
		if (!response.ok || !response.body) {
			const error = ((await response.json().catch(() => undefined)) as ApiErrorBody | undefined)?.error;
			throw new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? `The server answered ${response.status}.`);
		}
		return response.body;
	}
}
