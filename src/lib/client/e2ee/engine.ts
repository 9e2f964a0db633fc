// The browser's encryption engine: one per signed-in page (and per device in Node tests). It owns
// this device's account (identity, prekeys, registration), its pairwise sessions, its sender keys,
// and turns message drafts into ciphertext payloads and payloads back into content. It speaks to
// the server only through E2eeTransport and keeps state only in E2eeStore (contracts.ts), so the
// same code runs in the browser (fetch + IndexedDB) and in Node integration tests (memory store).
//
// Every operation that reads and advances key state runs inside `store.exclusive()`, so two tabs of
// one browser (one device) never use the same ratchet step or sender-key iteration twice.
//
// Schemes (docs/encryption.md, e2ee-design): 1:1 direct messages use `hearth.dm.v1` (a fresh
// content key per message, wrapped per device over pairwise sessions); channels and group DMs use
// sender keys (`hearth.sk.v1`), distributed over pairwise to-device messages and rotated when a
// device that held the key is no longer among the channel's readers, after 1000 messages or 7 days.
//
// Nothing here logs contents, keys or ciphertexts.
import {
	ONE_TIME_PREKEYS_LOW_WATER,
	ONE_TIME_PREKEYS_PER_UPLOAD,
	type PrekeyBundle,
	type PublicDeviceView,
	type ToDeviceMessage
} from '#lib/shared/e2ee.ts';
import type { E2eeStore, E2eeTransport } from './contracts.ts';
import {
	buildRegisterDeviceRequest,
	generateIdentityKeyPair,
	generateOneTimePrekeys,
	generateSignedPrekey,
	publicOneTimePrekey,
	publicSignedPrekey,
	SIGNED_PREKEY_RETENTION_MS,
	SIGNED_PREKEY_ROTATION_MS,
	type IdentityKeyPair,
	type PrekeyPair,
	type SignedPrekeyPair
} from './device-keys.ts';
import { decryptDmBody, decryptDmMessage, encryptDmMessage, type DmRecipient } from './dm-message.ts';
import {
	isEncryptedPayload,
	parseEncryptedPayload,
	parsePairwiseEnvelope,
	parseToDeviceContent,
	type CallMediaKeyGrant,
	type CallMediaKeyRequest,
	type DmPayload,
	type SenderKeyDistribution,
	type SenderKeyPayload
} from './envelopes.ts';
import { BadSignatureError, DecryptionError, MissingKeyError, TooManySkippedError } from './errors.ts';
import { fromB64, toB64 } from './encoding.ts';
import { createMessageContent, decodeMessageContent, encodeMessageContent, type MessageContent as V2Content } from './message-content.ts';
import type { DecryptedView, MessageContent, OpenOptions, SealedMessage } from './message-codec.svelte.ts';
import { decodeDraft } from './message-codec.svelte.ts';
import {
	createOutboundSession,
	decryptFromDevice,
	encryptPairwise,
	pickSendingSession,
	type LocalPrekeys,
	type PairwiseSession
} from './pairwise-session.ts';
import {
	createOutboundSenderKey,
	decryptWithSenderKey,
	devicesMissingSenderKey,
	encryptWithSenderKey,
	exportSenderKey,
	importSenderKey,
	markSenderKeyShared,
	mergeInboundSenderKeys,
	senderKeyDistributionFrom,
	senderKeyLostDevice,
	senderKeyNeedsRotation,
	type InboundSenderKey,
	type OutboundSenderKey
} from './sender-key.ts';
import { loadSodium, type Sodium } from './sodium.ts';
import { recordDecryptedText } from './local-search.ts';
import { collectBackupEntries, importBackupEntries, type BackupEntryPlain, type MessageKeyRecord } from './backup-entries.ts';

/** This device's own record ('account' table, key 'self'). */
type AccountRecord = {
	v: 1;
	userId: string;
	deviceId: string;
	identity: IdentityKeyPair;
	/** Current signed prekey first, then replaced ones kept for late prekey messages. */
	signedPrekeys: SignedPrekeyPair[];
	nextPrekeyId: number;
	/** Highest to-device message id processed (a live frame and a fetch may carry the same one). */
	toDeviceCursor: number;
};
const ACCOUNT_KEY = 'self';
const OTK_PREFIX = 'otk:';

/** Pairwise sessions with one remote device ('pairwise' table, keyed by device id). */
type PairwiseRecord = { deviceId: string; userId: string; sessions: PairwiseSession[] };
/** Trust on first use ('identities' table, keyed by device id). */
type IdentityRecord = { userId: string; identityKey: string; firstSeenAt: number; changed?: boolean };
/**
 * Our sender key in a channel ('outboundSenderKeys', keyed by channel id), with its first iteration
 * for re-sharing and who may read it from where:
 * - `readers`: the users who could read the channel when it was made (with or without a device):
 *   their devices get it from the first iteration, on request or when they appear;
 * - `joined`: users who became readers later (or came back) → the iteration of the first message
 *   sealed while they were readers: they get it from there, never earlier.
 * Users found gone at a send are dropped from both, so someone who leaves and comes back reads from
 * their return.
 */
type OutboundRecord = {
	key: OutboundSenderKey;
	initial: SenderKeyDistribution;
	readers: string[];
	joined?: Record<string, number>;
	/** When it last sealed a message: devices that appear soon after are handed the key unasked. */
	usedAt?: number;
};
/** A decrypted body for local search ('plaintextIndex', keyed by message id). */
export type PlaintextIndexRecord = { channelId: string; authorId: string; text: string };


/** Sessions kept per remote device (newest used first); older ones are dropped. */
const MAX_SESSIONS_PER_DEVICE = 5;
/**
 * Key requests for a message still waiting are repeated with a growing pause (2 s, 4 s, … at most
 * a minute), a bounded number of times by timer; a `devices.changed` of the sender or a reconnect
 * asks again at once.
 */
const KEY_REQUEST_MAX_INTERVAL_MS = 60_000;
const KEY_REQUEST_TIMED_ATTEMPTS = 12;
/** Messages waiting for a key that are tracked for retries (the oldest are forgotten first). */
const MAX_WAITING_KEYS = 200;
/** A sender key used this recently is handed unasked to a reader's device that appears. */
const PROACTIVE_SHARE_WINDOW_MS = 3600_000;
const TO_DEVICE_SEND_BATCH = 500;

export type EngineStatus =
	| { state: 'starting' }
	| { state: 'ready'; deviceId: string }
	/** The device this browser had was removed (signed out elsewhere): its keys were wiped and a new device registered. */
	| { state: 'ready'; deviceId: string; replacedRemovedDevice: true }
	| { state: 'failed'; message: string };

export type EngineOptions = {
	userId: string;
	transport: E2eeTransport;
	store: E2eeStore;
	/** Shown in the device list: "Chromium on Linux". */
	deviceName: string;
	now?: () => number;
	/**
	 * Only open messages with the keys held (the service worker reading a push): never register a
	 * device, publish prekeys, fetch or acknowledge to-device messages, or ask anyone for a key.
	 * The page, when it opens, does all of that.
	 */
	readOnly?: boolean;
};

/** Call media keys another device handed this one (its KIDs and raw base keys). */
export type ReceivedCallMediaKeys = {
	channelId: string;
	callId: string;
	senderUserId: string;
	senderDeviceId: string;
	keys: { kid: number; key: Uint8Array<ArrayBuffer> }[];
};

/** Another device in a call asks this one for its current call media keys. */
export type CallMediaKeysWanted = { channelId: string; callId: string; senderUserId: string; senderDeviceId: string };

export class EncryptionUnavailableError extends Error {
	override name = 'EncryptionUnavailableError';
}

export class E2eeEngine {
	readonly userId: string;
	#transport: E2eeTransport;
	#store: E2eeStore;
	#deviceName: string;
	#now: () => number;
	#sodium: Sodium | undefined;
	#account: AccountRecord | undefined;
	#started: Promise<void> | undefined;
	#keyListeners = new Set<() => void>();
	/** The call on this page (call-media-encryption.ts) listens here; keys for no listener are dropped. */
	#callKeyListeners = new Set<(keys: ReceivedCallMediaKeys) => void>();
	#callKeyRequestListeners = new Set<(wanted: CallMediaKeysWanted) => void>();
	#statusListeners = new Set<(status: EngineStatus) => void>();
	#status: EngineStatus = { state: 'starting' };
	/** Decrypted views of messages seen in this page (id + payload → view), so re-renders are synchronous. */
	#views = new Map<string, DecryptedView>();
	/** Sender keys this page is waiting for (`${senderDeviceId}:${senderKeyId}`), with their retry state. */
	#waiting = new Map<string, WaitingKey>();
	#retryTimer: ReturnType<typeof setTimeout> | undefined;
	#disposed = false;
	#readOnly: boolean;

	constructor(options: EngineOptions) {
		this.userId = options.userId;
		this.#transport = options.transport;
		this.#store = options.store;
		this.#deviceName = options.deviceName;
		this.#now = options.now ?? Date.now;
		this.#readOnly = options.readOnly ?? false;
	}

	get status(): EngineStatus {
		return this.#status;
	}

	get deviceId(): string | undefined {
		return this.#account?.deviceId;
	}

	get identityKey(): string | undefined {
		return this.#account?.identity.publicKey;
	}

	/** Called whenever keys arrived that may open messages shown as undecryptable. */
	onKeysChanged(listener: () => void): () => void {
		this.#keyListeners.add(listener);
		return () => this.#keyListeners.delete(listener);
	}

	/** Call media keys as they arrive over pairwise sessions (never stored: they live as long as the call). */
	onCallMediaKeys(listener: (keys: ReceivedCallMediaKeys) => void): () => void {
		this.#callKeyListeners.add(listener);
		return () => this.#callKeyListeners.delete(listener);
	}

	/**
	 * Sends this device's call media keys to some devices in a call, each over its pairwise session.
	 * Only devices of people who can read the voice channel are reached (the channel's device list);
	 * returns the ids of the devices it was sent to.
	 */
	async sendCallMediaKeys(channelId: string, callId: string, deviceIds: string[], keys: { kid: number; key: Uint8Array }[]): Promise<string[]> {
		await this.start();
		return this.#locked(async () => {
			const account = this.#account!;
			const wanted = new Set(deviceIds);
			wanted.delete(account.deviceId);
			if (wanted.size === 0) return [];
			const view = await this.#transport.listChannelDevices(channelId);
			const devices = view.members.flatMap((m) => m.devices).filter((d) => wanted.has(d.id));
			const content: CallMediaKeyGrant = {
				kind: 'call-media-key',
				channelId,
				callId,
				deviceId: account.deviceId,
				keys: keys.map(({ kid, key }) => ({ kid, key: toB64(key) }))
			};
			return this.#sendToDevices(devices, JSON.stringify(content));
		});
	}

	/** Requests for this device's call media keys (a device that receives frames it has no key for). */
	onCallMediaKeyRequests(listener: (wanted: CallMediaKeysWanted) => void): () => void {
		this.#callKeyRequestListeners.add(listener);
		return () => this.#callKeyRequestListeners.delete(listener);
	}

	/** Asks one device in a call for its current call media keys (over the pairwise session). */
	async requestCallMediaKeys(channelId: string, callId: string, deviceId: string): Promise<void> {
		await this.start();
		await this.#locked(async () => {
			const account = this.#account!;
			if (deviceId === account.deviceId) return;
			const view = await this.#transport.listChannelDevices(channelId);
			const devices = view.members.flatMap((m) => m.devices).filter((d) => d.id === deviceId);
			const content: CallMediaKeyRequest = { kind: 'call-media-key-request', channelId, callId, deviceId: account.deviceId };
			await this.#sendToDevices(devices, JSON.stringify(content));
		});
	}

	onStatus(listener: (status: EngineStatus) => void): () => void {
		this.#statusListeners.add(listener);
		return () => this.#statusListeners.delete(listener);
	}

	// --- account ------------------------------------------------------------------------------------

	/** Loads or creates this device's account and registers it; then fetches queued to-device messages. */
	start(): Promise<void> {
		this.#started ??= this.#start().catch((error: unknown) => {
			this.#setStatus({ state: 'failed', message: error instanceof Error ? error.message : 'Encryption could not start.' });
			this.#started = undefined;
			throw error;
		});
		return this.#started;
	}

	async #start(): Promise<void> {
		this.#sodium = await loadSodium();
		if (this.#readOnly) {
			const account = await this.#store.get<AccountRecord>('account', ACCOUNT_KEY);
			if (!account || account.userId !== this.userId) throw new EncryptionUnavailableError('This browser holds no encryption keys for this account.');
			this.#account = account;
			this.#setStatus({ state: 'ready', deviceId: account.deviceId });
			return;
		}
		let replaced = false;
		await this.#store.exclusive(async () => {
			let account = await this.#store.get<AccountRecord>('account', ACCOUNT_KEY);
			const current = await this.#transport.currentDevice();
			if (account && (account.userId !== this.userId || !current || current.deviceId !== account.deviceId || current.identityKey !== account.identity.publicKey)) {
				// The server no longer knows this device (removed in settings, signed out, or another
				// account's leftovers): its keys are worthless now and must not linger.
				await this.#store.clear();
				account = undefined;
				replaced = true;
			}
			if (!account) {
				// A session whose device's keys are not here (site storage cleared or evicted, the
				// cookie kept) replaces that device: its keys are gone for good.
				account = await this.#register(current !== null);
			} else {
				this.#account = account;
				await this.#maintainPrekeys(current!.oneTimePrekeyCount);
			}
			this.#account = account;
		});
		this.#setStatus(replaced ? { state: 'ready', deviceId: this.#account!.deviceId, replacedRemovedDevice: true } : { state: 'ready', deviceId: this.#account!.deviceId });
		await this.#syncToDevice();
	}

	async #register(replaceCurrent: boolean): Promise<AccountRecord> {
		const sodium = this.#sodium!;
		const now = this.#now();
		const identity = generateIdentityKeyPair(sodium);
		const signedPrekey = generateSignedPrekey(sodium, identity, 1, now);
		const oneTimePrekeys = generateOneTimePrekeys(sodium, 2, ONE_TIME_PREKEYS_PER_UPLOAD, now);
		const request = buildRegisterDeviceRequest(this.#deviceName, identity, signedPrekey, oneTimePrekeys);
		const { deviceId } = await this.#transport.registerDevice(replaceCurrent ? { ...request, replaceCurrent: true } : request);
		const account: AccountRecord = {
			v: 1,
			userId: this.userId,
			deviceId,
			identity,
			signedPrekeys: [signedPrekey],
			nextPrekeyId: 2 + ONE_TIME_PREKEYS_PER_UPLOAD,
			toDeviceCursor: 0
		};
		for (const otk of oneTimePrekeys) await this.#store.put('account', OTK_PREFIX + otk.id, otk);
		await this.#store.put('account', ACCOUNT_KEY, account);
		return account;
	}

	/** Tops up one-time prekeys below the low-water mark and rotates the signed prekey after 7 days. */
	async #maintainPrekeys(serverCount: number): Promise<void> {
		const sodium = this.#sodium!;
		const account = this.#account!;
		const now = this.#now();
		if (serverCount < ONE_TIME_PREKEYS_LOW_WATER) {
			const fresh = generateOneTimePrekeys(sodium, account.nextPrekeyId, ONE_TIME_PREKEYS_PER_UPLOAD - serverCount, now);
			for (const otk of fresh) await this.#store.put('account', OTK_PREFIX + otk.id, otk);
			account.nextPrekeyId = (account.nextPrekeyId + fresh.length) >>> 0;
			await this.#store.put('account', ACCOUNT_KEY, account);
			await this.#transport.uploadOneTimePrekeys(fresh.map(publicOneTimePrekey));
		}
		const currentSpk = account.signedPrekeys[0]!;
		if (now - currentSpk.createdAt >= SIGNED_PREKEY_ROTATION_MS) {
			const next = generateSignedPrekey(sodium, account.identity, account.nextPrekeyId, now);
			account.nextPrekeyId = (account.nextPrekeyId + 1) >>> 0;
			// The replaced one stays 30 days for prekey messages still on their way.
			account.signedPrekeys = [next, ...account.signedPrekeys.filter((spk) => now - spk.createdAt < SIGNED_PREKEY_ROTATION_MS + SIGNED_PREKEY_RETENTION_MS)];
			await this.#store.put('account', ACCOUNT_KEY, account);
			await this.#transport.replaceSignedPrekey(publicSignedPrekey(next));
		}
	}

	/** Checks the prekey pool (after to-device traffic consumed some). */
	async maintain(): Promise<void> {
		await this.start();
		await this.#locked(async () => {
			const current = await this.#transport.currentDevice();
			if (!current) throw new EncryptionUnavailableError('This device was signed out.');
			await this.#maintainPrekeys(current.oneTimePrekeyCount);
		});
	}

	/**
	 * Runs `work` holding the device lock, with the account as stored now: another tab of this browser
	 * (the same device) may have changed it (prekeys used, cursor moved) since this page read it.
	 */
	async #locked<T>(work: () => Promise<T>): Promise<T> {
		return this.#store.exclusive(async () => {
			const stored = await this.#store.get<AccountRecord>('account', ACCOUNT_KEY);
			if (!stored || stored.deviceId !== this.#account?.deviceId) throw new EncryptionUnavailableError('This device was signed out.');
			this.#account = stored;
			return work();
		});
	}

	async #localPrekeys(): Promise<LocalPrekeys> {
		const account = this.#account!;
		const otks = new Map((await this.#store.list<PrekeyPair>('account', OTK_PREFIX)).map(({ value }) => [value.id, value]));
		return {
			identity: account.identity,
			signedPrekey: (id) => account.signedPrekeys.find((spk) => spk.id === id),
			oneTimePrekey: (id) => otks.get(id)
		};
	}

	// --- identities (trust on first use) -------------------------------------------------------------

	/**
	 * Whether `identityKey` is the key of `deviceId`, a device of `userId`: as first seen here, or as
	 * the server lists the user's devices now (then remembered). A different key than the one first
	 * seen is refused and flagged.
	 */
	async #verifyDevice(userId: string, deviceId: string, identityKey: string, listed?: PublicDeviceView[]): Promise<boolean> {
		const known = await this.#store.get<IdentityRecord>('identities', deviceId);
		if (known) {
			if (known.userId === userId && known.identityKey === identityKey) return true;
			if (known.identityKey !== identityKey && !known.changed) await this.#store.put('identities', deviceId, { ...known, changed: true });
			return false;
		}
		if (userId === this.userId && deviceId === this.#account?.deviceId) return identityKey === this.#account.identity.publicKey;
		const devices = listed ?? (await this.#transport.listUserDevices(userId));
		const device = devices.find((d) => d.id === deviceId && d.userId === userId);
		if (!device || device.identityKey !== identityKey) return false;
		await this.#store.put<IdentityRecord>('identities', deviceId, { userId, identityKey, firstSeenAt: this.#now() });
		return true;
	}

	// --- pairwise sessions ------------------------------------------------------------------------

	async #pairwise(deviceId: string): Promise<PairwiseRecord | undefined> {
		return this.#store.get<PairwiseRecord>('pairwise', deviceId);
	}

	async #saveSession(deviceId: string, userId: string, session: PairwiseSession): Promise<void> {
		const record = (await this.#pairwise(deviceId)) ?? { deviceId, userId, sessions: [] };
		const others = record.sessions.filter((s) => s.id !== session.id);
		const sessions = [session, ...others].sort((a, b) => b.lastUsedAt - a.lastUsedAt).slice(0, MAX_SESSIONS_PER_DEVICE);
		await this.#store.put<PairwiseRecord>('pairwise', deviceId, { deviceId, userId, sessions });
	}

	/**
	 * A session to send with for each device (claiming prekey bundles for those without one). Devices
	 * whose bundle does not verify (bad signed-prekey signature, identity not the one listed or first
	 * seen) are left out.
	 */
	async #sendingSessions(devices: PublicDeviceView[]): Promise<Map<string, { userId: string; session: PairwiseSession }>> {
		const sodium = this.#sodium!;
		const result = new Map<string, { userId: string; session: PairwiseSession }>();
		const missing: PublicDeviceView[] = [];
		for (const device of devices) {
			const record = await this.#pairwise(device.id);
			const session = record ? pickSendingSession(record.sessions.filter((s) => s.remoteIdentityKey === device.identityKey)) : undefined;
			if (session) result.set(device.id, { userId: device.userId, session });
			else missing.push(device);
		}
		if (missing.length === 0) return result;
		const byId = new Map(missing.map((d) => [d.id, d]));
		const bundles: PrekeyBundle[] = await this.#transport.claimBundles(missing.map((d) => d.id));
		for (const bundle of bundles) {
			const device = byId.get(bundle.deviceId);
			if (!device || bundle.userId !== device.userId || bundle.identityKey !== device.identityKey) continue;
			if (!(await this.#verifyDevice(device.userId, device.id, bundle.identityKey, [device]))) continue;
			try {
				result.set(device.id, { userId: device.userId, session: createOutboundSession(sodium, this.#account!.identity, bundle, this.#now()) });
			} catch (error) {
				if (!(error instanceof BadSignatureError)) throw error;
			}
		}
		return result;
	}

	/** Encrypts one plaintext per device over pairwise sessions and queues them (sessions saved first). */
	async #sendToDevices(devices: PublicDeviceView[], plaintext: string): Promise<string[]> {
		if (devices.length === 0) return [];
		const sodium = this.#sodium!;
		const sessions = await this.#sendingSessions(devices);
		const messages: Array<{ deviceId: string; body: string }> = [];
		for (const [deviceId, { userId, session }] of sessions) {
			const out = encryptPairwise(sodium, session, plaintext, this.#now());
			// Saved before sending: a lost send only skips a ratchet step, a lost save would reuse one.
			await this.#saveSession(deviceId, userId, out.session);
			messages.push({ deviceId, body: out.body });
		}
		for (let i = 0; i < messages.length; i += TO_DEVICE_SEND_BATCH) {
			await this.#transport.sendToDevice(messages.slice(i, i + TO_DEVICE_SEND_BATCH));
		}
		return messages.map((m) => m.deviceId);
	}

	// --- to-device messages -------------------------------------------------------------------------

	/** Fetches and processes everything queued for this device (after a reconnect), acknowledging it. */
	async syncToDevice(): Promise<void> {
		await this.start();
		await this.#syncToDevice();
	}

	async #syncToDevice(): Promise<void> {
		for (;;) {
			const batch = await this.#transport.fetchToDevice(0);
			if (batch.length === 0) return;
			const before = this.#account!.toDeviceCursor;
			await this.#receiveToDevice(batch);
			if (batch.every((m) => m.id <= before)) return;
		}
	}

	/** Processes to-device messages (a live /ws frame or a fetched page), then acknowledges them. */
	async receiveToDevice(messages: ToDeviceMessage[]): Promise<void> {
		await this.start();
		await this.#receiveToDevice(messages);
	}

	async #receiveToDevice(messages: ToDeviceMessage[]): Promise<void> {
		let keysChanged = false;
		await this.#locked(async () => {
			const account = this.#account!;
			const fresh = messages.filter((m) => m.id > account.toDeviceCursor).sort((a, b) => a.id - b.id);
			let local = await this.#localPrekeys();
			for (const message of fresh) {
				try {
					const result = await this.#processToDevice(message, local);
					if (result.usedOneTimePrekey) local = await this.#localPrekeys();
					keysChanged ||= result.keysChanged;
				} catch (error) {
					// Undecryptable or invalid: dropped (the sender re-shares on request). Never logged with contents.
					if (!(error instanceof DecryptionError || error instanceof BadSignatureError)) throw error;
				}
				account.toDeviceCursor = message.id;
			}
			const upTo = Math.max(account.toDeviceCursor, ...messages.map((m) => m.id));
			if (fresh.length > 0) await this.#store.put('account', ACCOUNT_KEY, account);
			if (messages.length > 0) await this.#transport.ackToDevice(upTo);
		});
		if (keysChanged) this.#keysChanged();
	}

	async #processToDevice(message: ToDeviceMessage, local: LocalPrekeys): Promise<{ keysChanged: boolean; usedOneTimePrekey: boolean }> {
		const sodium = this.#sodium!;
		const envelope = parsePairwiseEnvelope(message.body);
		// The server says who sent it; the session must authenticate an identity key of that very device.
		if (!(await this.#verifyDevice(message.senderUserId, message.senderDeviceId, envelope.ik))) {
			throw new BadSignatureError('to-device sender identity does not match');
		}
		const record = await this.#pairwise(message.senderDeviceId);
		const opened = decryptFromDevice(sodium, record?.sessions ?? [], envelope, local, this.#now());
		const content = parseToDeviceContent(opened.plaintext);
		await this.#saveSession(message.senderDeviceId, message.senderUserId, opened.session);
		if (opened.usedOneTimePrekeyId !== null) await this.#store.delete('account', OTK_PREFIX + opened.usedOneTimePrekeyId);
		const usedOneTimePrekey = opened.usedOneTimePrekeyId !== null;
		if (content.kind === 'sender-key') {
			const incoming = importSenderKey(content, { userId: message.senderUserId, deviceId: message.senderDeviceId });
			const key = `${message.senderDeviceId}:${content.senderKeyId}`;
			const held = await this.#store.get<InboundSenderKey>('inboundSenderKeys', key);
			await this.#store.put('inboundSenderKeys', key, held ? mergeInboundSenderKeys(sodium, held, incoming) : incoming);
			return { keysChanged: true, usedOneTimePrekey };
		}
		if (content.kind === 'call-media-key') {
			// The keys are bound to the device that sent them: a device cannot hand out keys in another's name.
			if (content.deviceId !== message.senderDeviceId) throw new DecryptionError('call media keys name another device');
			const received: ReceivedCallMediaKeys = {
				channelId: content.channelId,
				callId: content.callId,
				senderUserId: message.senderUserId,
				senderDeviceId: message.senderDeviceId,
				keys: content.keys.map(({ kid, key }) => ({ kid, key: new Uint8Array(fromB64(key)) }))
			};
			for (const listener of this.#callKeyListeners) {
				try {
					listener(received);
				} catch {
					// A listener's failure is its own; the queue still advances.
				}
			}
			return { keysChanged: false, usedOneTimePrekey };
		}
		if (content.kind === 'call-media-key-request') {
			if (content.deviceId !== message.senderDeviceId) throw new DecryptionError('call media key request names another device');
			const wanted: CallMediaKeysWanted = { channelId: content.channelId, callId: content.callId, senderUserId: message.senderUserId, senderDeviceId: message.senderDeviceId };
			for (const listener of this.#callKeyRequestListeners) {
				try {
					listener(wanted);
				} catch {
					// As above: the listener's failure is its own.
				}
			}
			return { keysChanged: false, usedOneTimePrekey };
		}
		await this.#answerKeyRequest(message.senderUserId, message.senderDeviceId, content.channelId, content.senderKeyId);
		return { keysChanged: false, usedOneTimePrekey };
	}

	/**
	 * Re-shares our sender key with a device that asked: from the first iteration for a user who could
	 * read the channel when the key was made, from their arrival for one who joined later, not at all
	 * for anyone else; and only to a device that can read the channel now.
	 */
	async #answerKeyRequest(userId: string, deviceId: string, channelId: string, senderKeyId: string): Promise<void> {
		const outbound = await this.#store.get<OutboundRecord>('outboundSenderKeys', channelId);
		if (!outbound || outbound.key.senderKeyId !== senderKeyId || readableFrom(outbound, userId) === undefined) return;
		const view = await this.#transport.listChannelDevices(channelId);
		const device = view.members.find((m) => m.userId === userId)?.devices.find((d) => d.id === deviceId);
		if (!device) return;
		await this.#shareFromArrival(channelId, outbound, userId, [device]);
	}

	/** Sends `userId`'s devices the key from where that user may read it, and records them as holding it. */
	async #shareFromArrival(channelId: string, outbound: OutboundRecord, userId: string, devices: PublicDeviceView[]): Promise<void> {
		const from = readableFrom(outbound, userId);
		if (from === undefined || devices.length === 0) return;
		const distribution = senderKeyDistributionFrom(this.#sodium!, outbound.initial, from);
		const delivered = await this.#sendToDevices(devices, JSON.stringify(distribution));
		await this.#store.put<OutboundRecord>('outboundSenderKeys', channelId, { ...outbound, key: markSenderKeyShared(outbound.key, delivered) });
	}

	/**
	 * A user's devices changed (`devices.changed`: one registered or was removed). As a sender, hands
	 * our recently used keys to their new devices at once (a newcomer reads the greeting sent while
	 * their browser was still registering, without waiting for their request); as a reader, asks
	 * again for keys this page waits for from that user (they may have a new device now).
	 */
	async devicesChanged(userId: string): Promise<void> {
		await this.start();
		await this.#locked(async () => {
			const account = this.#account!;
			const now = this.#now();
			const records = await this.#store.list<OutboundRecord>('outboundSenderKeys');
			for (const { key: channelId, value: outbound } of records) {
				if (readableFrom(outbound, userId) === undefined || now - (outbound.usedAt ?? outbound.key.createdAt) > PROACTIVE_SHARE_WINDOW_MS) continue;
				let view;
				try {
					view = await this.#transport.listChannelDevices(channelId);
				} catch {
					continue; // the channel is gone or we left it: nothing to hand out
				}
				const shared = new Set(outbound.key.sharedWith);
				const fresh = view.members.find((m) => m.userId === userId)?.devices.filter((d) => d.id !== account.deviceId && !shared.has(d.id)) ?? [];
				await this.#shareFromArrival(channelId, outbound, userId, fresh);
			}
			await this.#askAgain((entry) => entry.authorId === userId);
		});
	}

	/** Asks again, now, for every key this page waits for (after a reconnect). */
	async retryWaitingKeys(): Promise<void> {
		if (this.#waiting.size === 0) return;
		await this.start();
		await this.#locked(() => this.#askAgain(() => true));
	}

	// --- sealing --------------------------------------------------------------------------------------

	/**
	 * Encrypts a draft (JSON of DraftBody) for a channel; `direct` for 1:1 direct messages. Throws when
	 * it cannot: the caller shows the failure, it never sends the plaintext instead.
	 */
	async seal(channelId: string, draft: string, options: { direct: boolean }): Promise<string> {
		await this.start();
		const sodium = this.#sodium!;
		const body = decodeDraft(draft);
		if (!body) throw new EncryptionUnavailableError('The message is not in a form this device can encrypt.');
		const fresh = createMessageContent(sodium, {
			text: body.text,
			...(body.attachments?.length ? { attachments: body.attachments } : {}),
			...(body.quote?.messageId ? { quote: { messageId: body.quote.messageId, authorId: body.quote.authorId, text: body.quote.text.slice(0, 300) } } : {}),
			...(body.mentions ? { mentions: body.mentions } : {})
		});
		// An edit keeps the message's reaction key (encodeMessageContent validates it).
		const content = body.rk ? { ...fresh, rk: body.rk } : fresh;
		const plaintext = encodeMessageContent(content);
		return this.#locked(async () => {
			const view = await this.#transport.listChannelDevices(channelId);
			if (options.direct && view.members.length <= 2) return this.#sealDirect(channelId, plaintext, view.members);
			return this.#sealWithSenderKey(channelId, plaintext, view.members);
		});
	}

	async #sealDirect(channelId: string, plaintext: string, members: Array<{ userId: string; devices: PublicDeviceView[] }>): Promise<string> {
		const sodium = this.#sodium!;
		const account = this.#account!;
		const devices = members.flatMap((m) => m.devices).filter((d) => d.id !== account.deviceId);
		const sessions = await this.#sendingSessions(devices);
		// A direct message's key goes only to the devices that exist now (there is no later re-share),
		// so with none on the other side it could never be read: refuse rather than send it into the void.
		const peerDevices = devices.filter((d) => d.userId !== this.userId);
		if (!peerDevices.some((d) => sessions.has(d.id))) {
			throw new EncryptionUnavailableError(
				peerDevices.length === 0
					? 'the other person has no device that can receive encrypted messages yet; they need to open Hearth once'
					: 'none of the other person’s devices can receive encrypted messages right now'
			);
		}
		const recipients: DmRecipient[] = [...sessions].map(([deviceId, { session }]) => ({ deviceId, session }));
		const out = encryptDmMessage(sodium, { channelId, senderDeviceId: account.deviceId, content: plaintext, recipients, now: this.#now() });
		for (const saved of out.sessions) await this.#saveSession(saved.deviceId, sessions.get(saved.deviceId)!.userId, saved.session);
		await this.#store.put<MessageKeyRecord>('messageKeys', `dm:${account.deviceId}:${out.payload.n}`, { channelId, senderUserId: this.userId, contentKey: out.contentKey });
		return out.body;
	}

	async #sealWithSenderKey(channelId: string, plaintext: string, members: Array<{ userId: string; devices: PublicDeviceView[] }>): Promise<string> {
		const sodium = this.#sodium!;
		const account = this.#account!;
		const now = this.#now();
		const devices = members.flatMap((m) => m.devices);
		const deviceIds = devices.map((d) => d.id);
		const memberIds = members.map((m) => m.userId);
		let record = await this.#store.get<OutboundRecord>('outboundSenderKeys', channelId);
		// A device that held the key left the readers (member left or removed, device removed): a new
		// key, which that device never receives. Also after 1000 messages or 7 days.
		if (!record || senderKeyNeedsRotation(record.key, now) || senderKeyLostDevice(record.key, deviceIds)) {
			const key = createOutboundSenderKey(sodium, channelId, now);
			// Every member is a reader from the start, also one whose device does not exist yet.
			record = { key, initial: exportSenderKey(key), readers: memberIds, joined: {} };
			// Our own device reads its messages through the same inbound path as everyone.
			await this.#store.put('inboundSenderKeys', `${account.deviceId}:${key.senderKeyId}`, importSenderKey(record.initial, { userId: this.userId, deviceId: account.deviceId }));
		} else {
			record = withReadersAt(record, memberIds);
		}
		const missing = devicesMissingSenderKey(record.key, deviceIds, account.deviceId);
		if (missing.length > 0) {
			const wanted = new Set(missing);
			const delivered = await this.#sendToDevices(
				devices.filter((d) => wanted.has(d.id)),
				JSON.stringify(exportSenderKey(record.key))
			);
			record = { ...record, key: markSenderKeyShared(record.key, delivered) };
		}
		const out = encryptWithSenderKey(sodium, record.key, { channelId, deviceId: account.deviceId }, plaintext);
		await this.#store.put<OutboundRecord>('outboundSenderKeys', channelId, { ...record, key: out.key, usedAt: now });
		return out.body;
	}

	// --- opening ----------------------------------------------------------------------------------

	/** The view when known without waiting: plaintext (legacy) payloads and messages already opened. */
	openNow(message: SealedMessage): DecryptedView | undefined {
		if (!isEncryptedPayload(message.payload)) return legacyView(message.payload);
		return this.#views.get(viewKey(message));
	}

	/**
	 * Forgets what this device keeps for a message that was deleted (or disappeared): its decrypted
	 * view and, for a direct message, its content key, so it cannot be opened here again.
	 */
	async forgetMessage(message: SealedMessage): Promise<void> {
		this.#views.delete(viewKey(message));
		if (!isEncryptedPayload(message.payload)) return;
		let payload: SenderKeyPayload | DmPayload;
		try {
			payload = parseEncryptedPayload(message.payload);
		} catch {
			return;
		}
		// Sender-key messages keep no key of their own: theirs is derived from the chain when opened.
		if (payload.e === 'hearth.sk.v1') return;
		await this.start();
		await this.#locked(() => this.#store.delete('messageKeys', `dm:${payload.dev}:${payload.n}`));
	}

	async open(message: SealedMessage, options: OpenOptions = {}): Promise<DecryptedView> {
		const now = this.openNow(message);
		if (now && now.state !== 'undecryptable') return now;
		await this.start();
		const view = await this.#locked(() => this.#open(message, options));
		if (view.state !== 'pending') this.#views.set(viewKey(message), view);
		return view;
	}

	async #open(message: SealedMessage, options: OpenOptions): Promise<DecryptedView> {
		let payload: SenderKeyPayload | DmPayload;
		try {
			payload = parseEncryptedPayload(message.payload);
		} catch {
			return { state: 'undecryptable', reason: 'This message uses an encryption this app does not know.' };
		}
		try {
			const text = payload.e === 'hearth.sk.v1' ? await this.#openSenderKey(message, payload) : await this.#openDirect(message, payload);
			if (typeof text !== 'string') return text;
			const content = fromV2(decodeMessageContent(text));
			// Client-side search reads decrypted bodies from here (the server cannot search them);
			// an earlier version of an edited message must not replace the current text there.
			if (!options.revision) await recordDecryptedText(this.#store, message.id, { channelId: message.channelId, authorId: message.authorId, text: content.text } satisfies PlaintextIndexRecord);
			return { state: 'ok', content, encrypted: true };
		} catch (error) {
			if (error instanceof BadSignatureError) return { state: 'forged' };
			if (error instanceof MissingKeyError) return waiting(payload.dev);
			// Further ahead than the skip limits allow (a very long unread stretch): a missing key, not a forgery.
			if (error instanceof TooManySkippedError) return { state: 'undecryptable', reason: 'This message is too far ahead of the keys this device holds.', senderDeviceId: payload.dev };
			// Tampered, replayed under another id, or malformed.
			if (error instanceof DecryptionError) return { state: 'forged' };
			throw error;
		}
	}

	async #openSenderKey(message: SealedMessage, payload: SenderKeyPayload): Promise<string | DecryptedView> {
		const key = `${payload.dev}:${payload.sk}`;
		const record = await this.#store.get<InboundSenderKey>('inboundSenderKeys', key);
		if (!record) {
			await this.#requestKey(message, payload);
			return waiting(payload.dev);
		}
		try {
			const out = decryptWithSenderKey(this.#sodium!, record, payload, { channelId: message.channelId, authorId: message.authorId, messageId: message.id });
			await this.#store.put('inboundSenderKeys', key, out.key);
			this.#waiting.delete(key);
			return out.plaintext;
		} catch (error) {
			if (error instanceof MissingKeyError) await this.#requestKey(message, payload);
			throw error;
		}
	}

	/**
	 * Asks the sending device for a key this page is missing, unless it asked a moment ago; the
	 * message is remembered, and asked for again with a growing pause until the key arrives.
	 */
	async #requestKey(message: SealedMessage, payload: SenderKeyPayload): Promise<void> {
		if (this.#readOnly || payload.dev === this.#account!.deviceId) return;
		const tag = `${payload.dev}:${payload.sk}`;
		let entry = this.#waiting.get(tag);
		if (!entry) {
			if (this.#waiting.size >= MAX_WAITING_KEYS) this.#waiting.delete(this.#waiting.keys().next().value!);
			entry = { authorId: message.authorId, channelId: message.channelId, senderDeviceId: payload.dev, senderKeyId: payload.sk, attempts: 0, nextAt: 0 };
			this.#waiting.set(tag, entry);
		}
		if (this.#now() < entry.nextAt) return;
		await this.#sendKeyRequest(entry);
	}

	/** Sends one key request (best effort: a failure is retried like an unanswered request). Holds the device lock. */
	async #sendKeyRequest(entry: WaitingKey): Promise<void> {
		entry.attempts += 1;
		entry.nextAt = this.#now() + keyRequestPause(entry.attempts);
		try {
			const devices = await this.#transport.listUserDevices(entry.authorId);
			const device = devices.find((d) => d.id === entry.senderDeviceId);
			// The sending device is gone (signed out, removed): nobody can answer any more.
			if (!device) this.#waiting.delete(`${entry.senderDeviceId}:${entry.senderKeyId}`);
			else await this.#sendToDevices([device], JSON.stringify({ kind: 'sender-key-request', channelId: entry.channelId, senderDeviceId: entry.senderDeviceId, senderKeyId: entry.senderKeyId }));
		} catch {
			// Offline or refused: the timer asks again.
		}
		this.#scheduleRetry();
	}

	/** Asks again at once for the waiting keys that `match` selects. Holds the device lock. */
	async #askAgain(match: (entry: WaitingKey) => boolean): Promise<void> {
		for (const entry of [...this.#waiting.values()]) if (match(entry)) await this.#sendKeyRequest(entry);
	}

	/** One timer for the earliest due retry. */
	#scheduleRetry(): void {
		if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
		this.#retryTimer = undefined;
		if (this.#disposed) return;
		let due = Infinity;
		for (const entry of this.#waiting.values()) if (entry.attempts < KEY_REQUEST_TIMED_ATTEMPTS) due = Math.min(due, entry.nextAt);
		if (due === Infinity) return;
		this.#retryTimer = setTimeout(() => {
			this.#retryTimer = undefined;
			void this.#locked(() => this.#askAgain((entry) => entry.attempts < KEY_REQUEST_TIMED_ATTEMPTS && entry.nextAt <= this.#now())).catch(() => {});
		}, Math.max(0, due - this.#now()));
		// In Node (tests), a pending retry must not keep the process alive.
		(this.#retryTimer as { unref?: () => void }).unref?.();
	}

	async #openDirect(message: SealedMessage, payload: DmPayload): Promise<string | DecryptedView> {
		const sodium = this.#sodium!;
		const account = this.#account!;
		const keyId = `dm:${payload.dev}:${payload.n}`;
		const known = await this.#store.get<MessageKeyRecord>('messageKeys', keyId);
		if (known) {
			// The key was taken in for the sending device's owner; under anyone else's name it is a forgery.
			if (known.senderUserId !== message.authorId || known.channelId !== message.channelId) return { state: 'forged' };
			return decryptDmBody(sodium, payload, message.channelId, known.contentKey);
		}
		if (payload.dev === account.deviceId) return waiting(payload.dev);
		const envelope = payload.k[account.deviceId];
		if (!envelope) return { state: 'undecryptable', reason: 'This message was not encrypted for this device.', senderDeviceId: payload.dev };
		// The sending device must be a device of the author with the identity its session proves.
		if (!(await this.#verifyDevice(message.authorId, payload.dev, envelope.ik))) return { state: 'forged' };
		const record = await this.#pairwise(payload.dev);
		const out = decryptDmMessage(sodium, {
			payload,
			channelId: message.channelId,
			ownDeviceId: account.deviceId,
			sessions: record?.sessions ?? [],
			local: await this.#localPrekeys(),
			now: this.#now()
		});
		await this.#saveSession(payload.dev, message.authorId, out.session);
		if (out.usedOneTimePrekeyId !== null) await this.#store.delete('account', OTK_PREFIX + out.usedOneTimePrekeyId);
		await this.#store.put<MessageKeyRecord>('messageKeys', keyId, { channelId: message.channelId, senderUserId: message.authorId, contentKey: out.contentKey });
		return out.content;
	}

	// --- key backup seam ---------------------------------------------------------------------------

	/**
	 * Every key this device holds for reading history, as key-backup entries (ids per the design:
	 * `sk:<device>:<senderKeyId>` inbound sender keys at their earliest iteration, `mk:<id>` direct
	 * message content keys). The caller encrypts each with the backup key (key-backup.ts) and uploads.
	 */
	async exportBackupEntries(): Promise<BackupEntryPlain[]> {
		await this.start();
		return this.#locked(() => collectBackupEntries(this.#store));
	}

	/**
	 * Takes in decrypted backup entries (a new device after the passphrase); returns how many were
	 * usable. Messages waiting for a key are opened again.
	 */
	async importBackupEntries(entries: Array<{ id: string; value: unknown }>): Promise<number> {
		await this.start();
		const sodium = this.#sodium!;
		const taken = await this.#locked(() => importBackupEntries(sodium, this.#store, entries));
		if (taken > 0) this.#keysChanged();
		return taken;
	}

	// ------------------------------------------------------------------------------------------------

	/** Forgets the decrypted views (sign-out); the store is left to its owner. */
	dispose(): void {
		this.#disposed = true;
		if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
		this.#waiting.clear();
		this.#views.clear();
		this.#keyListeners.clear();
		this.#statusListeners.clear();
	}

	#keysChanged() {
		for (const [key, view] of this.#views) if (view.state === 'undecryptable') this.#views.delete(key);
		for (const listener of this.#keyListeners) listener();
	}

	#setStatus(status: EngineStatus) {
		this.#status = status;
		for (const listener of this.#statusListeners) listener(status);
	}
}

/** A sender key this page waits for, and when to ask for it again. */
type WaitingKey = { authorId: string; channelId: string; senderDeviceId: string; senderKeyId: string; attempts: number; nextAt: number };

/** The pause after the n-th request for a key: 2 s, 4 s, 8 s, … at most a minute. */
export function keyRequestPause(attempts: number): number {
	return Math.min(KEY_REQUEST_MAX_INTERVAL_MS, 1000 * 2 ** Math.min(attempts, 16));
}

/** The first iteration of `outbound` that `userId` may read, or undefined when they may read none of it. */
function readableFrom(outbound: OutboundRecord, userId: string): number | undefined {
	if (outbound.readers.includes(userId)) return outbound.initial.iteration;
	return outbound.joined?.[userId];
}

/**
 * The record with its readers brought up to the channel's members at this send: those gone are
 * dropped (coming back, they read from their return), those new read from this message on.
 */
function withReadersAt(record: OutboundRecord, memberIds: readonly string[]): OutboundRecord {
	const current = new Set(memberIds);
	const readers = record.readers.filter((id) => current.has(id));
	const joined: Record<string, number> = {};
	for (const [id, iteration] of Object.entries(record.joined ?? {})) if (current.has(id)) joined[id] = iteration;
	const known = new Set(readers);
	for (const id of memberIds) if (!known.has(id) && joined[id] === undefined) joined[id] = record.key.iteration;
	return { ...record, readers, joined };
}

function viewKey(message: SealedMessage): string {
	return `${message.id}\u0000${message.payload}`;
}

function waiting(senderDeviceId: string): DecryptedView {
	return {
		state: 'undecryptable',
		reason: 'Waiting for the key to this message.',
		hint: 'It is asked for from the sender’s device, which answers while it is online. If this stays, ask the sender to open Hearth, or restore your key backup in Settings → Encryption.',
		senderDeviceId
	};
}

function fromV2(content: V2Content): MessageContent {
	return {
		text: content.text,
		rk: content.rk,
		...(content.attachments ? { attachments: content.attachments } : {}),
		...(content.quote ? { quote: { messageId: content.quote.messageId, authorId: content.quote.authorId, text: content.quote.text } } : {}),
		...(content.mentions ? { mentions: content.mentions } : {})
	};
}

/** A payload written before end-to-end encryption (v1 plaintext JSON). */
function legacyView(payload: string): DecryptedView {
	const body = decodeDraft(payload);
	if (!body) return { state: 'undecryptable', reason: 'This message cannot be displayed on this device.' };
	return { state: 'ok', content: { text: body.text }, encrypted: false };
}
