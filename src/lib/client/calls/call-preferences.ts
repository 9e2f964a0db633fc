// What a person sets in calls and expects to find again next time: the volume of each other
// participant (by user id, so it follows them across calls and devices they join from) and the
// chosen microphone, camera and speaker. Kept in localStorage, per browser.

export type PreferenceStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

const VOLUME_PREFIX = 'hearth:call-volume:';
const DEVICE_PREFIX = 'hearth:call-device:';
export type DeviceKind = 'microphone' | 'camera' | 'speaker';

/** 0 (silent) to 1 (as sent); browsers' media elements cannot play louder than 1. */
export const DEFAULT_VOLUME = 1;

function memoryStorage(): PreferenceStorage {
	const values = new Map<string, string>();
	return { getItem: (key) => values.get(key) ?? null, setItem: (key, value) => void values.set(key, value), removeItem: (key) => void values.delete(key) };
}

export class CallPreferences {
	readonly #storage: PreferenceStorage;

	constructor(storage?: PreferenceStorage) {
		this.#storage = storage ?? (typeof localStorage === 'undefined' ? memoryStorage() : localStorage);
	}

	volume(userId: string): number {
		const stored = Number(this.#read(VOLUME_PREFIX + userId));
		return this.#read(VOLUME_PREFIX + userId) !== null && Number.isFinite(stored) ? Math.min(1, Math.max(0, stored)) : DEFAULT_VOLUME;
	}

	setVolume(userId: string, volume: number): number {
		const clamped = Math.min(1, Math.max(0, volume));
		// The default is not stored: a person never adjusted stays at whatever the default becomes.
		if (clamped === DEFAULT_VOLUME) this.#remove(VOLUME_PREFIX + userId);
		else this.#write(VOLUME_PREFIX + userId, String(clamped));
		return clamped;
	}

	device(kind: DeviceKind): string | null {
		return this.#read(DEVICE_PREFIX + kind);
	}

	setDevice(kind: DeviceKind, deviceId: string | null): void {
		if (deviceId) this.#write(DEVICE_PREFIX + kind, deviceId);
		else this.#remove(DEVICE_PREFIX + kind);
	}

	// Storage can throw (quota, privacy modes): preferences are a convenience, never a failure.
	#read(key: string): string | null {
		try {
			return this.#storage.getItem(key);
		} catch {
			return null;
		}
	}
	#write(key: string, value: string): void {
		try {
			this.#storage.setItem(key, value);
		} catch {
			/* not remembered */
		}
	}
	#remove(key: string): void {
		try {
			this.#storage.removeItem(key);
		} catch {
			/* not remembered */
		}
	}
}
