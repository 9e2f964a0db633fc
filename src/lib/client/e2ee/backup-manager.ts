// The key backup, driven from this device: set it up (passphrase → new backup key), change the
// passphrase (same key, same version), reset it (new key, new version: the server drops the old
// entries), restore it on a new device (passphrase → backup key → every entry imported into the
// store), and upload, incrementally, the keys this device learned since the last upload.
//
// What is backed up is backup-entries.ts's business (inbound sender keys and direct-message content
// keys, as the engine stores them); the manager reads and imports them through the engine
// (BackupKeySource), so an import happens under the device lock and re-opens waiting messages.
//
// Where state lives (the engine's store, so it goes when the engine clears a removed device):
//   'account' / 'backup'                 { v, version, backupKey } — the unwrapped backup key of the
//                                        server's current version. Held by every device that set up,
//                                        restored or reset the backup; never sent anywhere.
//   'account' / 'backup-uploaded:<id>'   a marker per entry uploaded under that version ('sk': the
//                                        earliest iteration uploaded, so a re-share reaching further back
//                                        is uploaded again; 'mk': '1').
// Uploads compare the engine's entries against the markers, so the engine needs no hook; calling
// `scheduleUpload()` when keys arrive only makes it sooner.
//
// Nothing here logs keys, passphrases or entry contents.
import type { KeyBackupEntry, KeyBackupParams, KeyBackupView } from '#lib/shared/e2ee.ts';
import { KEY_BACKUP_BATCH_MAX } from '#lib/shared/e2ee.ts';
import { ApiError } from '#lib/client/api.ts';
import type { E2eeStore } from './contracts.ts';
import { ARGON2ID_MODERATE, type Argon2idLimits } from './argon2id.ts';
import { fromB64Exact, toB64 } from './encoding.ts';
import { backupEntryReach, type BackupEntryPlain } from './backup-entries.ts';
import { DecryptionError } from './errors.ts';
import {
	BACKUP_KEY_BYTES,
	createBackupKey,
	decryptEntry,
	encryptEntry,
	newBackupParams,
	passphraseStrength,
	unwrapBackupKey,
	wrapBackupKey
} from './key-backup.ts';
import { loadSodium } from './sodium.ts';

/** What the manager needs of the server (E2eeServerApi has it all). */
export interface KeyBackupApi {
	keyBackup(): Promise<KeyBackupView | null>;
	putKeyBackup(backup: { version: number; params: KeyBackupParams; wrappedKey: string }): Promise<KeyBackupView>;
	putKeyBackupEntries(version: number, entries: KeyBackupEntry[]): Promise<{ entryCount: number }>;
	keyBackupEntries(after?: string, limit?: number): Promise<{ version: number; entries: KeyBackupEntry[]; next: string | null }>;
}

/** The keys to back up, and where restored ones go: the engine (engine.ts) in the app. */
export interface BackupKeySource {
	exportBackupEntries(): Promise<BackupEntryPlain[]>;
	/** Returns how many of the entries were taken. */
	importBackupEntries(entries: Array<{ id: string; value: unknown }>): Promise<number>;
}

const BACKUP_RECORD = 'backup';
const UPLOADED_PREFIX = 'backup-uploaded:';

type BackupKeyRecord = { v: 1; version: number; backupKey: string };
type UploadedMarker = { version: number; mark: string };

export type BackupStatus =
	/** No backup on the server. */
	| { state: 'none' }
	/** A backup exists but this device does not hold its key: the passphrase unlocks it. */
	| { state: 'locked'; version: number; entryCount: number; updatedAt: string }
	/** This device holds the current backup key and uploads new keys. */
	| { state: 'active'; version: number; entryCount: number; updatedAt: string };

/** `imported`: entries taken; `skipped`: entries that did not decrypt, did not match their id, or conflict with a key held here. */
export type RestoreResult = { imported: number; skipped: number };

export class BackupExistsError extends Error {
	override name = 'BackupExistsError';
	constructor() {
		super('A key backup exists already: unlock it with its passphrase, or reset it.');
	}
}

export class NoBackupError extends Error {
	override name = 'NoBackupError';
	constructor() {
		super('There is no key backup on the server.');
	}
}

export class WeakPassphraseError extends Error {
	override name = 'WeakPassphraseError';
}

export type BackupManagerOptions = {
	store: E2eeStore;
	api: KeyBackupApi;
	keys: BackupKeySource;
	/** Argon2id cost of new wrappings (MODERATE by default; tests pass lower limits). */
	limits?: Argon2idLimits;
	/** Called after anything that may change the status (upload, restore, reset, a stale key dropped). */
	onChange?: () => void;
};

export class KeyBackupManager {
	#store: E2eeStore;
	#api: KeyBackupApi;
	#keys: BackupKeySource;
	#limits: Argon2idLimits;
	#onChange: () => void;
	/** Uploads run one at a time; a request while one runs makes one more run after it. */
	#uploading: Promise<number> | undefined;
	#uploadAgain = false;
	#timer: ReturnType<typeof setTimeout> | undefined;

	constructor(options: BackupManagerOptions) {
		this.#store = options.store;
		this.#api = options.api;
		this.#keys = options.keys;
		this.#limits = options.limits ?? ARGON2ID_MODERATE;
		this.#onChange = options.onChange ?? (() => {});
	}

	/** The server's backup as seen from this device. A local key of another version (reset elsewhere) is dropped. */
	async status(): Promise<BackupStatus> {
		const server = await this.#api.keyBackup();
		if (!server) {
			if (await this.#localKey()) await this.#forgetLocalKey();
			return { state: 'none' };
		}
		const local = await this.#localKey();
		const base = { version: server.version, entryCount: server.entryCount, updatedAt: server.updatedAt };
		if (local && local.version === server.version) return { state: 'active', ...base };
		if (local) await this.#forgetLocalKey();
		return { state: 'locked', ...base };
	}

	/** Whether this device holds the backup key (no server round trip). */
	async holdsBackupKey(): Promise<boolean> {
		return (await this.#localKey()) !== undefined;
	}

	/** Creates the backup (version 1, or after the last version when one was deleted) and uploads every key held. */
	async setUp(passphrase: string): Promise<void> {
		checkStrength(passphrase);
		if (await this.#api.keyBackup()) throw new BackupExistsError();
		await this.#create(passphrase, 1);
	}

	/**
	 * A new backup key and version: the server deletes every old entry, and the old passphrase opens
	 * nothing any more. This device's keys are uploaded again under the new key.
	 */
	async reset(passphrase: string): Promise<void> {
		checkStrength(passphrase);
		const server = await this.#api.keyBackup();
		await this.#create(passphrase, (server?.version ?? 0) + 1);
	}

	/**
	 * Re-wraps the same backup key under a new passphrase (same version, so every entry stays valid).
	 * A device without the key must give the current passphrase to unlock it first.
	 */
	async changePassphrase(newPassphrase: string, currentPassphrase?: string): Promise<void> {
		checkStrength(newPassphrase);
		const sodium = await loadSodium();
		const server = await this.#api.keyBackup();
		if (!server) throw new NoBackupError();
		const local = await this.#localKey();
		let backupKey: Uint8Array;
		if (local && local.version === server.version) {
			backupKey = fromB64Exact(local.backupKey, BACKUP_KEY_BYTES, 'backupKey');
		} else {
			if (currentPassphrase === undefined) throw new Error('The current passphrase is needed on this device.');
			backupKey = await unwrapBackupKey(sodium, server.wrappedKey, currentPassphrase, server.params);
		}
		const params = newBackupParams(sodium, this.#limits);
		const wrappedKey = await wrapBackupKey(sodium, backupKey, newPassphrase, params);
		await this.#api.putKeyBackup({ version: server.version, params, wrappedKey });
		if (!local || local.version !== server.version) await this.#rememberKey(server.version, backupKey);
		this.#onChange();
	}

	/**
	 * Unlocks the backup with the passphrase (WrongPassphraseError when it does not), downloads every
	 * entry and imports it into the store, merged with what the store holds. Entries that do not
	 * decrypt or do not match their id are skipped and counted. Then uploads what this device has
	 * that the backup lacks.
	 */
	async restore(passphrase: string): Promise<RestoreResult> {
		const sodium = await loadSodium();
		const server = await this.#api.keyBackup();
		if (!server) throw new NoBackupError();
		const backupKey = await unwrapBackupKey(sodium, server.wrappedKey, passphrase, server.params);
		const result: RestoreResult = { imported: 0, skipped: 0 };
		let after = '';
		for (;;) {
			const page = await this.#api.keyBackupEntries(after);
			if (page.version !== server.version) throw new Error('The key backup was reset while it was being restored; try again.');
			const opened: Array<{ id: string; value: unknown }> = [];
			for (const entry of page.entries) {
				try {
					opened.push({ id: entry.id, value: decryptEntry(sodium, backupKey, entry.id, entry.ciphertext) });
				} catch (error) {
					if (!(error instanceof DecryptionError) && !(error instanceof SyntaxError)) throw error;
					result.skipped++;
				}
			}
			const taken = opened.length > 0 ? await this.#keys.importBackupEntries(opened) : 0;
			result.imported += taken;
			result.skipped += opened.length - taken;
			// Whatever came from the server is in the backup already: never upload it again as it is.
			for (const { id, value } of opened) await this.#markUploaded(id, server.version, String(reachOf(value)));
			if (!page.next) break;
			after = page.next;
		}
		await this.#rememberKey(server.version, backupKey);
		this.#onChange();
		await this.uploadPending();
		return result;
	}

	/**
	 * Uploads every key of the store not yet in the backup (batches of KEY_BACKUP_BATCH_MAX). Returns
	 * how many entries were uploaded. Does nothing without a local backup key; a 409 (the backup was
	 * reset on another device) drops the local key, so the status turns 'locked'.
	 */
	uploadPending(): Promise<number> {
		if (this.#uploading) {
			this.#uploadAgain = true;
			return this.#uploading;
		}
		const run = async (): Promise<number> => {
			let total = 0;
			do {
				this.#uploadAgain = false;
				total += await this.#uploadOnce();
			} while (this.#uploadAgain);
			return total;
		};
		this.#uploading = run().finally(() => {
			this.#uploading = undefined;
		});
		return this.#uploading;
	}

	/** Uploads soon (keys arrived); several calls within `delayMs` make one upload. */
	scheduleUpload(delayMs = 2000): void {
		if (this.#timer !== undefined) return;
		this.#timer = setTimeout(() => {
			this.#timer = undefined;
			this.uploadPending().catch(() => {
				// Offline or the server refused: the next scheduled or periodic run tries again.
			});
		}, delayMs);
	}

	/** Uploads now and then every `intervalMs` (keys opened from direct messages arrive without an event). Returns a stop function. */
	startPeriodicUpload(intervalMs = 5 * 60_000): () => void {
		const tick = () => this.uploadPending().catch(() => {});
		void tick();
		const interval = setInterval(tick, intervalMs);
		return () => {
			clearInterval(interval);
			if (this.#timer !== undefined) clearTimeout(this.#timer);
			this.#timer = undefined;
		};
	}

	// ----------------------------------------------------------------------------------------------

	async #create(passphrase: string, version: number): Promise<void> {
		const sodium = await loadSodium();
		const backupKey = createBackupKey(sodium);
		const params = newBackupParams(sodium, this.#limits);
		const wrappedKey = await wrapBackupKey(sodium, backupKey, passphrase, params);
		await this.#api.putKeyBackup({ version, params, wrappedKey });
		await this.#rememberKey(version, backupKey);
		this.#onChange();
		await this.uploadPending();
	}

	async #localKey(): Promise<BackupKeyRecord | undefined> {
		return this.#store.get<BackupKeyRecord>('account', BACKUP_RECORD);
	}

	async #rememberKey(version: number, backupKey: Uint8Array): Promise<void> {
		const previous = await this.#localKey();
		if (previous && previous.version !== version) await this.#clearMarkers();
		await this.#store.put<BackupKeyRecord>('account', BACKUP_RECORD, { v: 1, version, backupKey: toB64(backupKey) });
	}

	async #forgetLocalKey(): Promise<void> {
		await this.#store.delete('account', BACKUP_RECORD);
		await this.#clearMarkers();
		this.#onChange();
	}

	async #clearMarkers(): Promise<void> {
		for (const { key } of await this.#store.list('account', UPLOADED_PREFIX)) await this.#store.delete('account', key);
	}

	async #markUploaded(entryId: string, version: number, mark: string): Promise<void> {
		await this.#store.put<UploadedMarker>('account', UPLOADED_PREFIX + entryId, { version, mark });
	}

	/** Entries for every key whose marker is missing, of another version, or (sender keys) reaching further back than uploaded. */
	async #pendingEntries(version: number): Promise<Array<{ id: string; mark: string; value: unknown }>> {
		const markers = new Map(
			(await this.#store.list<UploadedMarker>('account', UPLOADED_PREFIX)).map(({ key, value }) => [key.slice(UPLOADED_PREFIX.length), value])
		);
		const pending: Array<{ id: string; mark: string; value: unknown }> = [];
		for (const { id, value } of await this.#keys.exportBackupEntries()) {
			const reach = backupEntryReach(value);
			const marker = markers.get(id);
			if (marker && marker.version === version && Number(marker.mark) <= reach) continue;
			pending.push({ id, mark: String(reach), value });
		}
		return pending;
	}

	async #uploadOnce(): Promise<number> {
		const local = await this.#localKey();
		if (!local) return 0;
		const sodium = await loadSodium();
		const backupKey = fromB64Exact(local.backupKey, BACKUP_KEY_BYTES, 'backupKey');
		const pending = await this.#pendingEntries(local.version);
		let uploaded = 0;
		for (let i = 0; i < pending.length; i += KEY_BACKUP_BATCH_MAX) {
			const batch = pending.slice(i, i + KEY_BACKUP_BATCH_MAX);
			const entries = batch.map(({ id, value }) => ({ id, ciphertext: encryptEntry(sodium, backupKey, id, value) }));
			try {
				await this.#api.putKeyBackupEntries(local.version, entries);
			} catch (error) {
				if (error instanceof ApiError && (error.status === 409 || error.status === 404)) {
					// Reset or deleted from another device: this key writes nothing any more.
					await this.#forgetLocalKey();
					return uploaded;
				}
				throw error;
			}
			for (const { id, mark } of batch) await this.#markUploaded(id, local.version, mark);
			uploaded += batch.length;
		}
		if (uploaded > 0) this.#onChange();
		return uploaded;
	}
}

function checkStrength(passphrase: string): void {
	const strength = passphraseStrength(passphrase);
	if (!strength.acceptable) throw new WeakPassphraseError(strength.hint);
}

/** The marker of a restored entry (backup-entries.ts backupEntryReach for a well-formed one). */
function reachOf(value: unknown): number {
	const iteration = (value as { distribution?: { iteration?: unknown } } | null)?.distribution?.iteration;
	return typeof iteration === 'number' ? iteration : 0;
}
