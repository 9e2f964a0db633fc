// End-to-end encryption of one call's media, as the call session drives it: this device's media
// keys reach the other participants' devices over the pairwise encrypted sessions (the E2EE
// engine's to-device path), theirs come back the same way, and the media worker (media-crypto.ts)
// encrypts and decrypts every frame with them. The rules (ratchet on join, fresh key on leave,
// switch delay, grace for late frames) are src/lib/shared/call-media/media-keys.ts.
//
// Keys are bound to the call (its callId), the sending device and the KID: keys for another call,
// or naming a device other than the one whose session delivered them, are not taken.
import type { CallMediaKeysWanted, ReceivedCallMediaKeys } from '../e2ee/engine.ts';
import type { TransformTarget } from './frame-cryptor.ts';
import type { MediaCrypto } from './media-crypto.ts';
import type { MediaKeyGrant } from '#lib/shared/call-media/media-keys.ts';

/** The part of the E2EE engine a call uses (E2eeEngine has it). */
export type CallKeyExchange = {
	readonly deviceId: string | undefined;
	start(): Promise<void>;
	sendCallMediaKeys(channelId: string, callId: string, deviceIds: string[], keys: MediaKeyGrant[]): Promise<string[]>;
	onCallMediaKeys(listener: (keys: ReceivedCallMediaKeys) => void): () => void;
	requestCallMediaKeys(channelId: string, callId: string, deviceId: string): Promise<void>;
	onCallMediaKeyRequests(listener: (wanted: CallMediaKeysWanted) => void): () => void;
};

export class CallEncryptionUnavailableError extends Error {
	override name = 'CallEncryptionUnavailableError';
}

type ActiveCall = { channelId: string; callId: string; ownDeviceId: string };

export class CallMediaEncryption {
	readonly #exchange: () => CallKeyExchange | null;
	readonly #crypto: () => MediaCrypto | null;
	#media: MediaCrypto | null = null;
	#call: ActiveCall | null = null;
	#stopListening: (() => void) | null = null;
	/** Encryption devices of the others in the call: who may ask for this device's keys. */
	#devices = new Set<string>();
	/** Keys that arrived for a call before this page knew it was in it (the join answer was on its way). */
	#early: ReceivedCallMediaKeys[] = [];

	constructor(options: { exchange: () => CallKeyExchange | null; crypto: () => MediaCrypto | null }) {
		this.#exchange = options.exchange;
		this.#crypto = options.crypto;
	}

	/**
	 * Checks that this browser can take part in an encrypted call (encoded transforms, an encryption
	 * device) before joining, so a browser that cannot is told why and never joins.
	 */
	async prepare(): Promise<{ transportSettings: Partial<RTCConfiguration> }> {
		const media = (this.#media ??= this.#crypto());
		if (!media) throw new CallEncryptionUnavailableError(NO_TRANSFORMS);
		const exchange = this.#exchange();
		if (!exchange) throw new CallEncryptionUnavailableError(NO_DEVICE);
		await exchange.start().catch(() => {
			throw new CallEncryptionUnavailableError(NO_DEVICE);
		});
		if (!exchange.deviceId) throw new CallEncryptionUnavailableError(NO_DEVICE);
		if (!this.#stopListening) {
			const stopKeys = exchange.onCallMediaKeys((keys) => this.#received(keys));
			const stopRequests = exchange.onCallMediaKeyRequests((wanted) => void this.#wanted(wanted));
			this.#stopListening = () => {
				stopKeys();
				stopRequests();
			};
			// A device whose frames arrive under a key this browser lacks (its key message was lost, or
			// it changed keys while this one was reconnecting) is asked for its keys.
			media.onMissingKey((deviceId) => void this.#askFor(deviceId));
		}
		// A new join (also a rejoin of the same call): keys from here on wait for begin().
		this.#call = null;
		this.#early = [];
		return { transportSettings: media.transportSettings };
	}

	/** Joined: a fresh sending key (ready when this resolves), handed to everyone already in the call. */
	async begin(call: { channelId: string; callId: string; participantDevices: (string | null)[] }): Promise<void> {
		const media = this.#media!;
		const exchange = this.#exchange()!;
		// Keys that arrive meanwhile wait in #early: startCall forgets every key held before.
		const grants = await media.startCall();
		this.#call = { channelId: call.channelId, callId: call.callId, ownDeviceId: exchange.deviceId! };
		this.#devices = new Set(devicesOf(call.participantDevices));
		const early = this.#early;
		this.#early = [];
		for (const keys of early) this.#received(keys);
		// Not awaited: joining goes on while the key travels (their first frames from us may be
		// dropped until it lands, a few milliseconds; their decoders ask for a keyframe).
		void this.#send(devicesOf(call.participantDevices), grants);
	}

	/** Someone joined: ratchet forward and hand them (only them) the ratcheted key. */
	async joined(deviceId: string | null): Promise<void> {
		if (!this.#call || !this.#media) return;
		if (deviceId) this.#devices.add(deviceId);
		const grant = await this.#media.ratchetForJoin();
		if (deviceId) await this.#send([deviceId], [grant]);
	}

	/**
	 * Someone left or was removed: a fresh key for those who remain, switched to after a short delay;
	 * the one who left is forgotten (unless the same device is still in the call from another tab).
	 */
	async left(deviceId: string | null, remainingDevices: (string | null)[]): Promise<void> {
		if (!this.#call || !this.#media) return;
		const remaining = devicesOf(remainingDevices);
		this.#devices = new Set(remaining);
		if (deviceId && !remaining.includes(deviceId)) this.#media.forget(deviceId);
		const grant = await this.#media.rotateForLeave();
		await this.#send(remaining, [grant]);
	}

	end(): void {
		this.#call = null;
		this.#devices.clear();
		this.#early = [];
		this.#media?.endCall();
	}

	attachSender(sender: RTCRtpSender, target: TransformTarget): void {
		this.#media?.attachSender(sender, target);
	}

	attachReceiver(receiver: RTCRtpReceiver, target: TransformTarget): void {
		this.#media?.attachReceiver(receiver, target);
	}

	/** Frame counts of this call (encrypted, decrypted, dropped), for the call's diagnostics and tests. */
	counts() {
		return this.#media?.counts() ?? Promise.resolve(null);
	}

	dispose(): void {
		this.#stopListening?.();
		this.#stopListening = null;
		this.end();
	}

	#received(keys: ReceivedCallMediaKeys): void {
		const call = this.#call;
		if (!call) {
			// Between call.join's answer and begin(): kept (a few) until the call is known.
			if (this.#early.length < 64) this.#early.push(keys);
			return;
		}
		if (keys.callId !== call.callId || keys.channelId !== call.channelId || keys.senderDeviceId === call.ownDeviceId) return;
		this.#media?.addKeys(keys.senderDeviceId, keys.keys);
	}

	/**
	 * Someone in this call asks for this device's keys: the current and pending ones, never older
	 * (they got the ratcheted key when they joined, so nothing from before their join is handed out).
	 * Anyone not in the call (as this browser knows it) gets nothing.
	 */
	async #wanted(wanted: CallMediaKeysWanted): Promise<void> {
		const call = this.#call;
		if (!call || !this.#media || wanted.callId !== call.callId || wanted.channelId !== call.channelId || !this.#devices.has(wanted.senderDeviceId)) return;
		await this.#send([wanted.senderDeviceId], await this.#media.sendingKeys());
	}

	async #askFor(deviceId: string): Promise<void> {
		const call = this.#call;
		const exchange = this.#exchange();
		if (!call || !exchange || !this.#devices.has(deviceId)) return;
		await exchange.requestCallMediaKeys(call.channelId, call.callId, deviceId).catch((error: unknown) => console.warn('Asking for call media keys failed:', error));
	}

	async #send(deviceIds: string[], grants: MediaKeyGrant[]): Promise<void> {
		const call = this.#call;
		const exchange = this.#exchange();
		if (!call || !exchange || deviceIds.length === 0) return;
		try {
			await exchange.sendCallMediaKeys(call.channelId, call.callId, deviceIds, grants);
		} catch (error) {
			// Those devices hear nothing from this one until the next key change; the call goes on.
			console.warn('Handing call media keys to the others failed:', error);
		}
	}
}

function devicesOf(ids: (string | null)[]): string[] {
	return [...new Set(ids.filter((id): id is string => id !== null))];
}

const NO_TRANSFORMS =
	'Calls here are end-to-end encrypted, and this browser cannot encrypt call audio and video (it lacks WebRTC encoded transforms). Join with a current Firefox, Chrome, Edge or Safari.';
const NO_DEVICE =
	'Calls here are end-to-end encrypted, and this browser has no encryption keys yet (or cannot store them). Reload the page; if this stays, check Settings → Encryption.';
