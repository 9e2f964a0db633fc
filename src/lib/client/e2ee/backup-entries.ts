// What goes into the key backup and how it comes back: the one definition of a backup entry's
// plaintext, read from and merged into the engine's store tables. The engine exposes these through
// exportBackupEntries/importBackupEntries (under its device lock, and re-opening waiting messages
// after an import); the backup manager encrypts, uploads and downloads them (key-backup.ts does the
// crypto). Entry ids are key-backup.ts's:
//   sk:<senderDeviceId>:<senderKeyId>  an inbound sender key at its earliest known iteration, with the
//                                      user and device that distributed it (the author check needs both);
//   mk:<messageKeyId>                  a direct message's content key ('messageKeys', keyed `dm:<device>:<nonce>`).
import * as v from 'valibot';
import type { E2eeStore } from './contracts.ts';
import { SenderKeyDistribution } from './envelopes.ts';
import { DecryptionError } from './errors.ts';
import { messageKeyEntryId, senderKeyEntryId } from './key-backup.ts';
import { exportInboundSenderKey, importSenderKey, mergeInboundSenderKeys, type InboundSenderKey } from './sender-key.ts';
import type { Sodium } from './sodium.ts';

/** A direct message's content key ('messageKeys', keyed `dm:<device>:<nonce>`). */
export type MessageKeyRecord = { channelId: string; senderUserId: string; contentKey: string };

const Id = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
export const BackupEntryValue = v.variant('kind', [
	v.strictObject({ kind: v.literal('sk'), senderUserId: Id, senderDeviceId: Id, distribution: SenderKeyDistribution }),
	v.strictObject({ kind: v.literal('mk'), channelId: Id, senderUserId: Id, contentKey: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/)) })
]);
export type BackupEntryValue = v.InferOutput<typeof BackupEntryValue>;
export type BackupEntryPlain = { id: string; value: BackupEntryValue };

/** Every key the store holds for reading history, as backup entries. */
export async function collectBackupEntries(store: E2eeStore): Promise<BackupEntryPlain[]> {
	const entries: BackupEntryPlain[] = [];
	for (const { value } of await store.list<InboundSenderKey>('inboundSenderKeys')) {
		entries.push({
			id: senderKeyEntryId(value.senderDeviceId, value.senderKeyId),
			value: { kind: 'sk', senderUserId: value.senderUserId, senderDeviceId: value.senderDeviceId, distribution: exportInboundSenderKey(value) }
		});
	}
	for (const { key, value } of await store.list<MessageKeyRecord>('messageKeys')) {
		entries.push({ id: messageKeyEntryId(key), value: { kind: 'mk', channelId: value.channelId, senderUserId: value.senderUserId, contentKey: value.contentKey } });
	}
	return entries;
}

/**
 * Merges decrypted backup entries into the store. An entry whose shape or id does not match, or a
 * sender key that disagrees with the copy this device received itself, is refused (the device's own
 * copy wins). A content key already held is kept. Returns how many entries were taken.
 */
export async function importBackupEntries(sodium: Sodium, store: E2eeStore, entries: Array<{ id: string; value: unknown }>): Promise<number> {
	let taken = 0;
	for (const { id, value } of entries) {
		const parsed = v.safeParse(BackupEntryValue, value);
		if (!parsed.success) continue;
		const entry = parsed.output;
		if (entry.kind === 'sk') {
			if (id !== senderKeyEntryId(entry.senderDeviceId, entry.distribution.senderKeyId)) continue;
			const incoming = importSenderKey(entry.distribution, { userId: entry.senderUserId, deviceId: entry.senderDeviceId });
			const key = `${entry.senderDeviceId}:${entry.distribution.senderKeyId}`;
			const held = await store.get<InboundSenderKey>('inboundSenderKeys', key);
			let merged = incoming;
			if (held) {
				try {
					merged = mergeInboundSenderKeys(sodium, held, incoming);
				} catch (error) {
					if (!(error instanceof DecryptionError)) throw error;
					continue;
				}
			}
			await store.put('inboundSenderKeys', key, merged);
		} else {
			if (!id.startsWith('mk:')) continue;
			const keyId = id.slice(3);
			if (messageKeyEntryId(keyId) !== id) continue;
			if (!(await store.get<MessageKeyRecord>('messageKeys', keyId))) {
				await store.put<MessageKeyRecord>('messageKeys', keyId, { channelId: entry.channelId, senderUserId: entry.senderUserId, contentKey: entry.contentKey });
			}
		}
		taken += 1;
	}
	return taken;
}

/**
 * How far an entry reaches, for the manager's "already uploaded" markers: a sender key re-shared
 * from an earlier iteration must be uploaded again; a content key never changes.
 */
export function backupEntryReach(value: BackupEntryValue): number {
	return value.kind === 'sk' ? value.distribution.iteration : 0;
}
