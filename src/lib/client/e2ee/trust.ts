// Trust in other people's devices: trust on first use per device, verification per contact (by
// comparing safety numbers), and the warnings the conversation shows when either is broken.
//
// Records, all in the store's 'identities' table:
//   <deviceId>       the engine's TOFU record (engine.ts IdentityRecord): the identity key first seen
//                    for that device id, `changed` once a different key was presented for it. The engine
//                    writes it on first contact and refuses a changed key; this module writes the same
//                    record when it first sees a device listed, and replaces the key only when the user
//                    acknowledges the change (that is what lets the engine talk to the device again).
//   user:<userId>    ContactTrustRecord: the device set the user last accepted (device id → identity key),
//                    the identity keys they verified (null when not verified) and the open warning.
// Device ids are UUIDs, so the `user:` prefix never collides with them.
//
// When a warning opens (the conversation shows "Safety number changed"):
//   - a device's identity key differs from the one first seen (always: this is what an attacker in
//     the middle looks like; a real new browser gets a new device id instead);
//   - a verified contact's device set changes (a device added or removed): the safety number changed,
//     so the verification no longer holds and is cleared.
// An unverified contact adding or removing devices is accepted silently (trust on first use).
// The warning stays until the user acknowledges it or verifies again.
import type { PublicDeviceView } from '#lib/shared/e2ee.ts';
import type { E2eeStore } from './contracts.ts';
import { computeSafetyNumber, type SafetyNumber } from './safety-number.ts';
import type { Sodium } from './sodium.ts';

/** The engine's TOFU record per device (engine.ts IdentityRecord), keyed by device id. */
export type DeviceIdentityRecord = { userId: string; identityKey: string; firstSeenAt: number; changed?: boolean };

export type TrustWarning = {
	reason: 'identity-changed' | 'new-device' | 'device-removed';
	/** Devices concerned (changed key, added, or removed), relative to the set last accepted. */
	deviceIds: string[];
	since: number;
};

export type ContactTrustRecord = {
	v: 1;
	userId: string;
	/** The device set last accepted: device id → identity key. */
	devices: Record<string, string>;
	/** Identity keys (sorted) the user verified by safety number; null when not verified. */
	verified: string[] | null;
	warning: TrustWarning | null;
};

/** What the UI shows for a contact. */
export type ContactTrust = { userId: string; verified: boolean; warning: TrustWarning | null };

const USER_PREFIX = 'user:';

function userKey(userId: string): string {
	return USER_PREFIX + userId;
}

function sortedKeys(devices: Record<string, string>): string[] {
	return Object.values(devices).sort();
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
	return a.length === b.length && a.every((key, i) => key === b[i]);
}

function toView(record: ContactTrustRecord | undefined, userId: string): ContactTrust {
	if (!record) return { userId, verified: false, warning: null };
	return { userId, verified: record.verified !== null && sameKeys(record.verified, sortedKeys(record.devices)), warning: record.warning };
}

function deviceMap(userId: string, devices: readonly PublicDeviceView[]): Record<string, string> {
	const map: Record<string, string> = {};
	for (const device of devices) if (device.userId === userId) map[device.id] = device.identityKey;
	return map;
}

export class TrustStore {
	#store: E2eeStore;
	#now: () => number;

	constructor(store: E2eeStore, now: () => number = Date.now) {
		this.#store = store;
		this.#now = now;
	}

	/** The contact's state as last observed (no server round trip). */
	async contact(userId: string): Promise<ContactTrust> {
		return toView(await this.#store.get<ContactTrustRecord>('identities', userKey(userId)), userId);
	}

	/**
	 * Takes in a user's current device list (GET /api/users/:id/devices, after `devices.changed` or
	 * when a conversation opens): records first-seen keys, and opens a warning as the header says.
	 */
	async observe(userId: string, listed: readonly PublicDeviceView[]): Promise<ContactTrust> {
		const current = deviceMap(userId, listed);
		const now = this.#now();
		const changedKeys: string[] = [];
		for (const [deviceId, identityKey] of Object.entries(current)) {
			const known = await this.#store.get<DeviceIdentityRecord>('identities', deviceId);
			if (!known) {
				await this.#store.put<DeviceIdentityRecord>('identities', deviceId, { userId, identityKey, firstSeenAt: now });
			} else if (known.userId !== userId || known.identityKey !== identityKey || known.changed) {
				changedKeys.push(deviceId);
				if (!known.changed) await this.#store.put<DeviceIdentityRecord>('identities', deviceId, { ...known, changed: true });
			}
		}

		const held = await this.#store.get<ContactTrustRecord>('identities', userKey(userId));
		if (!held) {
			// First sight of this contact: accepted as listed, unless a device's key already changed.
			const record: ContactTrustRecord = {
				v: 1,
				userId,
				devices: current,
				verified: null,
				warning: changedKeys.length > 0 ? { reason: 'identity-changed', deviceIds: changedKeys, since: now } : null
			};
			await this.#store.put('identities', userKey(userId), record);
			return toView(record, userId);
		}

		const added = Object.keys(current).filter((id) => !(id in held.devices));
		const removed = Object.keys(held.devices).filter((id) => !(id in current));
		for (const [id, key] of Object.entries(current)) if (id in held.devices && held.devices[id] !== key && !changedKeys.includes(id)) changedKeys.push(id);
		const wasVerified = toView(held, userId).verified;
		const record: ContactTrustRecord = { ...held };
		if (changedKeys.length > 0) {
			record.warning = { reason: 'identity-changed', deviceIds: changedKeys, since: held.warning?.since ?? now };
			record.verified = null;
		} else if ((wasVerified || held.warning) && added.length > 0) {
			record.warning = { reason: 'new-device', deviceIds: added, since: held.warning?.since ?? now };
			record.verified = null;
		} else if ((wasVerified || held.warning) && removed.length > 0) {
			record.warning = { reason: 'device-removed', deviceIds: removed, since: held.warning?.since ?? now };
			record.verified = null;
		} else if (!held.warning) {
			// Unverified and nothing suspicious: the new set is accepted (trust on first use).
			record.devices = current;
		}
		if (JSON.stringify(record) !== JSON.stringify(held)) await this.#store.put('identities', userKey(userId), record);
		return toView(record, userId);
	}

	/**
	 * The user accepts the contact's current devices without verifying: the warning closes, and a
	 * device whose key changed is trusted with its new key (the engine talks to it again).
	 */
	async acknowledge(userId: string, listed: readonly PublicDeviceView[]): Promise<ContactTrust> {
		const current = deviceMap(userId, listed);
		await this.#acceptDevices(userId, current);
		const held = await this.#store.get<ContactTrustRecord>('identities', userKey(userId));
		const record: ContactTrustRecord = { v: 1, userId, devices: current, verified: null, warning: null };
		// An acknowledgement does not verify: a verification that still matches the same keys survives it.
		if (held?.verified && sameKeys(held.verified, sortedKeys(current))) record.verified = held.verified;
		await this.#store.put('identities', userKey(userId), record);
		return toView(record, userId);
	}

	/** The user compared safety numbers for exactly these devices and they matched. */
	async markVerified(userId: string, listed: readonly PublicDeviceView[]): Promise<ContactTrust> {
		const current = deviceMap(userId, listed);
		if (Object.keys(current).length === 0) throw new Error('A contact without devices cannot be verified.');
		await this.#acceptDevices(userId, current);
		const record: ContactTrustRecord = { v: 1, userId, devices: current, verified: sortedKeys(current), warning: null };
		await this.#store.put('identities', userKey(userId), record);
		return toView(record, userId);
	}

	/** Removes the verification (the user changed their mind); the device set stays accepted. */
	async unverify(userId: string): Promise<ContactTrust> {
		const held = await this.#store.get<ContactTrustRecord>('identities', userKey(userId));
		if (!held) return toView(undefined, userId);
		const record = { ...held, verified: null };
		await this.#store.put('identities', userKey(userId), record);
		return toView(record, userId);
	}

	async #acceptDevices(userId: string, current: Record<string, string>): Promise<void> {
		const now = this.#now();
		for (const [deviceId, identityKey] of Object.entries(current)) {
			const known = await this.#store.get<DeviceIdentityRecord>('identities', deviceId);
			if (!known || known.identityKey !== identityKey || known.userId !== userId || known.changed) {
				await this.#store.put<DeviceIdentityRecord>('identities', deviceId, { userId, identityKey, firstSeenAt: now });
			}
		}
	}
}

/**
 * The safety number between me and a contact over both users' current devices (as the server lists
 * them; the same list the trust records are checked against).
 */
export function safetyNumberFor(
	sodium: Pick<Sodium, 'crypto_hash'>,
	me: { userId: string; devices: readonly PublicDeviceView[] },
	them: { userId: string; devices: readonly PublicDeviceView[] }
): SafetyNumber {
	return computeSafetyNumber(
		sodium,
		{ userId: me.userId, identityKeys: me.devices.filter((d) => d.userId === me.userId).map((d) => d.identityKey) },
		{ userId: them.userId, identityKeys: them.devices.filter((d) => d.userId === them.userId).map((d) => d.identityKey) }
	);
}
