// The two seams of the browser's encryption engine: what it asks of the server (E2eeTransport,
// implemented over REST and /ws by server-api.ts) and where it keeps its state (E2eeStore,
// implemented over IndexedDB by key-store.ts). The engine itself never touches fetch or IndexedDB,
// so its protocol logic runs unchanged in Node for tests.
import type {
	ChannelDevicesView,
	OneTimePrekey,
	PrekeyBundle,
	PublicDeviceView,
	RegisterDeviceRequest,
	SignedPrekey,
	ToDeviceMessage
} from '#lib/shared/e2ee.ts';

export interface E2eeTransport {
	/** Registers the current session's browser as a device; returns its server-assigned id. */
	registerDevice(request: RegisterDeviceRequest): Promise<{ deviceId: string }>;
	/** The current session's device, or null when it has none (or it was removed). */
	currentDevice(): Promise<{ deviceId: string; identityKey: string; oneTimePrekeyCount: number } | null>;
	uploadOneTimePrekeys(keys: OneTimePrekey[]): Promise<{ oneTimePrekeyCount: number }>;
	replaceSignedPrekey(signedPrekey: SignedPrekey): Promise<void>;
	/** Current (not removed) devices of one user. */
	listUserDevices(userId: string): Promise<PublicDeviceView[]>;
	/** Current devices of everyone who can read the channel (community members or DM participants). */
	listChannelDevices(channelId: string): Promise<ChannelDevicesView>;
	/** Consumes one one-time prekey of each device (when any is left). Unknown or removed devices are omitted. */
	claimBundles(deviceIds: string[]): Promise<PrekeyBundle[]>;
	sendToDevice(messages: Array<{ deviceId: string; body: string }>): Promise<void>;
	/** Queued messages for the current device with id > after, oldest first. */
	fetchToDevice(after: number): Promise<ToDeviceMessage[]>;
	/** Deletes this device's queued messages with id <= upTo. */
	ackToDevice(upTo: number): Promise<void>;
}

/** Named collections of the engine's state. Values are structured-cloneable (Uint8Array allowed). */
export type E2eeStoreTable =
	/** This device's own keys and ids (identity, signed prekeys, one-time prekey privates). */
	| 'account'
	/** Pairwise Double Ratchet sessions, keyed by remote device id. */
	| 'pairwise'
	/** Our outbound sender keys, keyed by channel id. */
	| 'outboundSenderKeys'
	/** Others' (and our other devices') sender keys, keyed by `${senderDeviceId}:${senderKeyId}`. */
	| 'inboundSenderKeys'
	/** Identity keys we have seen per device (trust on first use) and verification state, keyed by device id. */
	| 'identities'
	/** Message keys of direct messages kept for history and backup, keyed by message key id. */
	| 'messageKeys'
	/** Decrypted message bodies for client-side search, keyed by message id. */
	| 'plaintextIndex';

export interface E2eeStore {
	get<T>(table: E2eeStoreTable, key: string): Promise<T | undefined>;
	put<T>(table: E2eeStoreTable, key: string, value: T): Promise<void>;
	delete(table: E2eeStoreTable, key: string): Promise<void>;
	/** Every entry of a table, optionally only keys starting with `prefix`. */
	list<T>(table: E2eeStoreTable, prefix?: string): Promise<Array<{ key: string; value: T }>>;
	/**
	 * Runs `work` while holding this device's exclusive lock (Web Locks in browsers), so two tabs of
	 * one device never advance the same ratchet concurrently.
	 */
	exclusive<T>(work: () => Promise<T>): Promise<T>;
	/** Deletes every table (device removed, or the user signs out and chooses to forget keys). */
	clear(): Promise<void>;
}
