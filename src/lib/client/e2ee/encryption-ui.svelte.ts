// What the encryption settings, the recovery banner, the safety-number dialog and the "safety
// number changed" notice read: the key backup's status and actions (KeyBackupManager) and each
// contact's trust state (TrustStore), as Svelte state. One per signed-in page (encryptionUiFor).
//
// It opens the same per-user key store the engine uses (IndexedDB `hearth-e2ee-<userId>`; the
// exclusive lock is the same Web Lock) for trust records and backup markers; the keys to back up
// and the restored ones go through the engine (BackupKeySource). Trust is checked against the server's device lists whenever a conversation or
// profile shows a contact, and again on every `devices.changed` frame for a contact shown.
import { SvelteMap } from 'svelte/reactivity';
import type { ApiClient } from '../api.ts';
import type { RealtimeConnection } from '../realtime/connection.ts';
import type { PublicDeviceView } from '#lib/shared/e2ee.ts';
import type { E2eeStore } from './contracts.ts';
import { KeyBackupManager, type BackupKeySource, type BackupStatus, type RestoreResult } from './backup-manager.ts';
import { IndexedDbE2eeStore } from './key-store.ts';
import { E2eeServerApi } from './server-api.ts';
import { safetyNumberFor, TrustStore, type ContactTrust } from './trust.ts';
import type { SafetyNumber } from './safety-number.ts';
import { loadSodium } from './sodium.ts';

export type BackupBusy = 'setting-up' | 'changing' | 'resetting' | 'restoring' | null;

const BANNER_DISMISSED_KEY = 'hearth:backup-banner-dismissed:';

export type EncryptionUiOptions = {
	userId: string;
	api: ApiClient;
	connection?: RealtimeConnection;
	/** Defaults to the IndexedDB store of this user (the engine's). */
	store?: E2eeStore;
	/** The engine: what to back up, and where restored keys go. Without it there is no backup. */
	keys?: BackupKeySource;
	/** After a restore imported keys: make the chat open the messages it could not read before. */
	onKeysImported?: () => void;
	/**
	 * Resolves once the engine has started. Nothing touches the store before: the engine may clear it
	 * then (a removed device), and a second store instance that had read a value under the old at-rest
	 * key would go on writing with it.
	 */
	whenEngineStarted?: () => Promise<unknown>;
};

export class EncryptionUi {
	readonly userId: string;
	readonly server: E2eeServerApi;
	readonly store: E2eeStore | null;
	readonly backup: KeyBackupManager | null;
	readonly trust: TrustStore | null;
	/** Null until first loaded. */
	backupStatus = $state<BackupStatus | null>(null);
	backupBusy = $state<BackupBusy>(null);
	backupError = $state<string | null>(null);
	bannerDismissed = $state(false);
	/** Contacts whose trust state was looked at in this page, by user id. */
	readonly contacts = new SvelteMap<string, ContactTrust>();
	#stops: Array<() => void> = [];
	#onKeysImported: () => void;
	#watched = new Set<string>();

	constructor(options: EncryptionUiOptions) {
		this.userId = options.userId;
		this.server = new E2eeServerApi({ api: options.api });
		let store: E2eeStore | null = options.store ?? null;
		if (!store) {
			try {
				store = new IndexedDbE2eeStore({ userId: options.userId });
			} catch {
				store = null; // no IndexedDB: nothing to back up or trust; the UI says encryption is unavailable
			}
		}
		if (store && options.whenEngineStarted) store = afterEngineStart(store, options.whenEngineStarted);
		this.store = store;
		this.backup =
			store && options.keys
				? new KeyBackupManager({
						store,
						api: this.server,
						keys: options.keys,
						onChange: () => void this.refreshBackup().catch(() => {})
					})
				: null;
		this.#onKeysImported = options.onKeysImported ?? (() => {});
		this.trust = store ? new TrustStore(store) : null;
		this.bannerDismissed = readDismissed(options.userId);
		if (options.connection) {
			this.#stops.push(
				options.connection.on('frame', (frame) => {
					if (frame.t === 'devices.changed' && this.#watched.has(frame.userId)) void this.observe(frame.userId).catch(() => {});
					// A new message usually means a new key once it is opened (a direct message's content
					// key, sent or received): back it up shortly after, in one upload per burst.
					const created =
						(frame.t === 'event' && frame.event.type === 'message.created') ||
						(frame.t === 'events' && frame.events.some((event) => event.type === 'message.created'));
					if (created && this.backupStatus?.state === 'active') this.backup?.scheduleUpload(3000);
				})
			);
		}
	}

	/** Loads the backup status and, when this device holds the backup key, uploads keys now and every few minutes. */
	start(): () => void {
		void this.refreshBackup().catch(() => {});
		if (this.backup) this.#stops.push(this.backup.startPeriodicUpload());
		return () => this.dispose();
	}

	dispose(): void {
		for (const stop of this.#stops.splice(0)) stop();
	}

	async refreshBackup(): Promise<BackupStatus | null> {
		if (!this.backup) return null;
		const status = await this.backup.status();
		this.backupStatus = status;
		return status;
	}

	/** A backup exists that this device cannot read yet, and the user has not dismissed the reminder. */
	get showRestoreBanner(): boolean {
		return this.backupStatus?.state === 'locked' && !this.bannerDismissed;
	}

	dismissBanner(): void {
		this.bannerDismissed = true;
		try {
			localStorage.setItem(BANNER_DISMISSED_KEY + this.userId, '1');
		} catch {
			// private mode: dismissed for this page only
		}
	}

	setUpBackup(passphrase: string): Promise<boolean> {
		return this.#backupAction('setting-up', (backup) => backup.setUp(passphrase));
	}

	changePassphrase(passphrase: string, current?: string): Promise<boolean> {
		return this.#backupAction('changing', (backup) => backup.changePassphrase(passphrase, current));
	}

	resetBackup(passphrase: string): Promise<boolean> {
		return this.#backupAction('resetting', (backup) => backup.reset(passphrase));
	}

	/** Unlocks the backup on this device; resolves with what was imported, or null (error shown in backupError). */
	async restoreBackup(passphrase: string): Promise<RestoreResult | null> {
		let result: RestoreResult | null = null;
		const ok = await this.#backupAction('restoring', async (backup) => {
			result = await backup.restore(passphrase);
			if (result.imported > 0) this.#onKeysImported();
		});
		return ok ? result : null;
	}

	async #backupAction(busy: Exclude<BackupBusy, null>, work: (backup: KeyBackupManager) => Promise<unknown>): Promise<boolean> {
		if (!this.backup || this.backupBusy) return false;
		this.backupBusy = busy;
		this.backupError = null;
		// Argon2id holds the main thread for a few seconds: let the busy state paint first.
		await nextPaint();
		try {
			await work(this.backup);
			await this.refreshBackup();
			return true;
		} catch (error) {
			this.backupError = error instanceof Error ? error.message : 'The key backup could not be changed.';
			return false;
		} finally {
			this.backupBusy = null;
		}
	}

	// --- trust ------------------------------------------------------------------------------------

	/** Checks a contact's current devices against what this device trusted, and remembers to re-check on changes. */
	async observe(userId: string): Promise<ContactTrust | null> {
		if (!this.trust || userId === this.userId) return null;
		this.#watched.add(userId);
		const devices = await this.server.listUserDevices(userId);
		const state = await this.trust.observe(userId, devices);
		this.contacts.set(userId, state);
		return state;
	}

	async safetyNumber(userId: string): Promise<{ number: SafetyNumber; theirDevices: PublicDeviceView[] } | null> {
		const [sodium, mine, theirs] = await Promise.all([loadSodium(), this.server.listUserDevices(this.userId), this.server.listUserDevices(userId)]);
		if (mine.length === 0 || theirs.length === 0) return null;
		return { number: safetyNumberFor(sodium, { userId: this.userId, devices: mine }, { userId, devices: theirs }), theirDevices: theirs };
	}

	/** The user compared the number computed over `theirDevices` (what the dialog showed). */
	async markVerified(userId: string, theirDevices: PublicDeviceView[]): Promise<void> {
		if (!this.trust) return;
		this.contacts.set(userId, await this.trust.markVerified(userId, theirDevices));
	}

	async unverify(userId: string): Promise<void> {
		if (!this.trust) return;
		this.contacts.set(userId, await this.trust.unverify(userId));
	}

	async acknowledge(userId: string): Promise<void> {
		if (!this.trust) return;
		const devices = await this.server.listUserDevices(userId);
		this.contacts.set(userId, await this.trust.acknowledge(userId, devices));
	}
}

/** The store, with every operation waiting for the engine's start (whether it succeeded or not). */
function afterEngineStart(store: E2eeStore, started: () => Promise<unknown>): E2eeStore {
	let gate: Promise<unknown> | undefined;
	const ready = () => (gate ??= started().catch(() => {}));
	return {
		get: async (table, key) => (await ready(), store.get(table, key)),
		put: async (table, key, value) => (await ready(), store.put(table, key, value)),
		delete: async (table, key) => (await ready(), store.delete(table, key)),
		list: async (table, prefix) => (await ready(), store.list(table, prefix)),
		exclusive: async (work) => (await ready(), store.exclusive(work)),
		clear: async () => (await ready(), store.clear())
	};
}

function readDismissed(userId: string): boolean {
	try {
		return localStorage.getItem(BANNER_DISMISSED_KEY + userId) === '1';
	} catch {
		return false;
	}
}

function nextPaint(): Promise<void> {
	if (typeof requestAnimationFrame !== 'function') return Promise.resolve();
	return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

const instances = new WeakMap<object, EncryptionUi>();

/** The page's EncryptionUi, created on first use for a chat state (started then, disposed with the page). */
export function encryptionUiFor(chat: {
	me: { id: string };
	api: ApiClient;
	connection: RealtimeConnection;
	codec: { retryUndecryptable(): void };
	e2ee?: (BackupKeySource & { onKeysChanged(listener: () => void): () => void; start(): Promise<void> }) | null;
}): EncryptionUi {
	let ui = instances.get(chat);
	if (!ui) {
		ui = new EncryptionUi({
			userId: chat.me.id,
			api: chat.api,
			connection: chat.connection,
			...(chat.e2ee ? { whenEngineStarted: () => chat.e2ee!.start(), keys: chat.e2ee } : {}),
			// The engine forgets its "waiting for the key" views on import; the codec re-opens them.
			onKeysImported: () => chat.codec.retryUndecryptable()
		});
		ui.start();
		// Sender keys arriving over to-device messages are backed up a moment later (the periodic
		// scan catches direct-message keys, which arrive without an event).
		const backup = ui.backup;
		if (backup && chat.e2ee) chat.e2ee.onKeysChanged(() => backup.scheduleUpload());
		instances.set(chat, ui);
	}
	return ui;
}
