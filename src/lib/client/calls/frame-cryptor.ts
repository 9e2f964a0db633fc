// Encrypts what this browser sends and decrypts what it receives, frame by frame, inside the
// call's media worker (media-crypto.worker.ts): the keys never leave it except as the grants the
// page hands to other devices over pairwise sessions. The rules of the keys are media-keys.ts;
// the frame layout is media-frame.ts. A frame that cannot be decrypted is dropped, never passed
// on as it came: there is no plaintext fallback in either direction.
import type { MediaCodec } from '#lib/shared/call-media/clear-prefix.ts';
import { decryptMediaFrame, encryptMediaFrame, UnknownMediaKeyError } from '#lib/shared/call-media/media-frame.ts';
import { InboundMediaKeys, OutboundMediaKeys, type MediaKeyGrant } from '#lib/shared/call-media/media-keys.ts';

/** What a transform is attached to: this browser's sender of a kind, or a receiver of one device's stream. */
export type TransformTarget =
	| { direction: 'send'; codec: MediaCodec }
	| { direction: 'recv'; codec: MediaCodec; senderDeviceId: string };

/** Frame counts since the call started (tests and the call's diagnostics; no contents). */
export type FrameCounts = {
	encrypted: number;
	decrypted: number;
	/** Decrypted frames per sending device. */
	decryptedFrom: Record<string, number>;
	/** Dropped on receipt: no key for the KID (yet, or any more). */
	droppedNoKey: number;
	/** Dropped on receipt: the frame did not authenticate (tampered, or a key that is not the sender's). */
	droppedInvalid: number;
};

/** The part of an encoded audio or video frame a transform reads and replaces. */
export type EncodedFrame = { data: ArrayBuffer };

function emptyCounts(): FrameCounts {
	return { encrypted: 0, decrypted: 0, decryptedFrom: {}, droppedNoKey: 0, droppedInvalid: 0 };
}

/**
 * How often a device that sends frames this one has no key for is reported (and so asked for its
 * keys): often enough to recover within seconds, rarely enough not to flood it at 50 frames a second.
 */
export const MISSING_KEY_REPORT_INTERVAL_MS = 3_000;

export class FrameCryptor {
	#outbound: OutboundMediaKeys | null = null;
	readonly #inbound = new Map<string, InboundMediaKeys>();
	readonly #now: () => number;
	readonly #onMissingKey: (senderDeviceId: string) => void;
	readonly #reported = new Map<string, number>();
	counts: FrameCounts = emptyCounts();

	constructor(options: { now?: () => number; onMissingKey?: (senderDeviceId: string) => void } = {}) {
		this.#now = options.now ?? Date.now;
		this.#onMissingKey = options.onMissingKey ?? (() => {});
	}

	/** A new call: a fresh sending key, and nobody's keys held. Returns the key to hand to the others. */
	async startCall(): Promise<MediaKeyGrant[]> {
		// Cleared before the await: keys added while the new sending key is made belong to the new call.
		this.#inbound.clear();
		this.#reported.clear();
		this.counts = emptyCounts();
		this.#outbound = await OutboundMediaKeys.create(this.#now());
		return this.#outbound.all();
	}

	endCall(): void {
		this.#outbound = null;
		this.#inbound.clear();
	}

	#sending(): OutboundMediaKeys {
		if (!this.#outbound) throw new Error('no call');
		return this.#outbound;
	}

	/** Every sending key others may still see frames under (for a device that missed them). */
	sendingKeys(): MediaKeyGrant[] {
		return this.#sending().all();
	}

	ratchetForJoin(): Promise<MediaKeyGrant> {
		return this.#sending().ratchetForJoin(this.#now());
	}

	rotateForLeave(): Promise<MediaKeyGrant> {
		return this.#sending().rotateForLeave(this.#now());
	}

	addKeys(senderDeviceId: string, grants: MediaKeyGrant[]): void {
		let keys = this.#inbound.get(senderDeviceId);
		if (!keys) this.#inbound.set(senderDeviceId, (keys = new InboundMediaKeys()));
		for (const grant of grants) keys.add(grant);
	}

	/** The device left the call: its keys are forgotten (a rejoin starts its KIDs over). */
	forget(senderDeviceId: string): void {
		this.#inbound.delete(senderDeviceId);
	}

	async encrypt(codec: MediaCodec, frame: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
		const { key, ctr } = this.#sending().next(this.#now());
		const out = await encryptMediaFrame(key, ctr, codec, frame);
		this.counts.encrypted += 1;
		return out;
	}

	/** The plaintext frame, or null when it is to be dropped. */
	async decrypt(senderDeviceId: string, codec: MediaCodec, frame: Uint8Array): Promise<Uint8Array<ArrayBuffer> | null> {
		const keys = this.#inbound.get(senderDeviceId);
		const now = this.#now();
		let usedKid = -1;
		try {
			const plain = await decryptMediaFrame(
				(kid) => {
					usedKid = kid;
					return keys?.keyFor(kid, now);
				},
				codec,
				frame
			);
			await keys!.confirm(usedKid, now);
			this.counts.decrypted += 1;
			this.counts.decryptedFrom[senderDeviceId] = (this.counts.decryptedFrom[senderDeviceId] ?? 0) + 1;
			return plain;
		} catch (error) {
			if (error instanceof UnknownMediaKeyError) {
				this.counts.droppedNoKey += 1;
				this.#missing(senderDeviceId, now);
			} else {
				this.counts.droppedInvalid += 1;
			}
			return null;
		}
	}

	#missing(senderDeviceId: string, now: number): void {
		if (!senderDeviceId || now - (this.#reported.get(senderDeviceId) ?? -Infinity) < MISSING_KEY_REPORT_INTERVAL_MS) return;
		this.#reported.set(senderDeviceId, now);
		this.#onMissingKey(senderDeviceId);
	}

	/**
	 * The stream transform for one sender or receiver: frames in order, each replaced by its
	 * encrypted or decrypted bytes, or dropped. Empty frames (Chromium sends some while a track is
	 * muted) carry nothing and go through as they are.
	 */
	transform(target: TransformTarget): TransformStream<EncodedFrame, EncodedFrame> {
		return new TransformStream<EncodedFrame, EncodedFrame>({
			transform: async (frame, controller) => {
				if (frame.data.byteLength === 0) return controller.enqueue(frame);
				const bytes = new Uint8Array(frame.data);
				if (target.direction === 'send') {
					if (!this.#outbound) return; // between calls: nothing leaves unencrypted
					frame.data = (await this.encrypt(target.codec, bytes)).buffer;
					return controller.enqueue(frame);
				}
				const plain = await this.decrypt(target.senderDeviceId, target.codec, bytes);
				if (!plain) return;
				frame.data = plain.buffer;
				controller.enqueue(frame);
			}
		});
	}
}
