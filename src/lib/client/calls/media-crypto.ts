// The page's end of call media encryption: which encoded-transform API this browser has, the
// media worker (media-crypto.worker.ts) that holds the keys and transforms the frames, and
// attaching it to mediasoup-client's RTCRtpSenders and RTCRtpReceivers.
//
// RTCRtpScriptTransform where the browser has it (Firefox, Safari, Chromium since 141): the
// browser hands the frames to the worker itself. Older Chromium has only encoded streams
// (`createEncodedStreams`), which need `encodedInsertableStreams: true` on the RTCPeerConnection
// (mediasoup-client's `additionalSettings`) and are transferred to the same worker. A browser
// with neither cannot join: calls are always end-to-end encrypted.
import type { FrameCounts, TransformTarget } from './frame-cryptor.ts';
import type { MediaCryptoNotice, MediaCryptoReply, MediaCryptoRequest } from './media-crypto.worker.ts';
import type { MediaKeyGrant } from '#lib/shared/call-media/media-keys.ts';

export type EncryptionSupport = 'script-transform' | 'encoded-streams';

/** What this browser offers, or null when it can encrypt no call media. */
export function mediaEncryptionSupport(): EncryptionSupport | null {
	if (typeof RTCRtpScriptTransform !== 'undefined' && typeof Worker !== 'undefined') return 'script-transform';
	if (typeof RTCRtpSender !== 'undefined' && 'createEncodedStreams' in RTCRtpSender.prototype && typeof Worker !== 'undefined') return 'encoded-streams';
	return null;
}

/** The key and transform operations a call needs (the worker in browsers; tests run a FrameCryptor in process). */
export interface MediaCrypto {
	/** RTCConfiguration additions for both transports (encoded streams must be asked for up front). */
	readonly transportSettings: Partial<RTCConfiguration>;
	startCall(): Promise<MediaKeyGrant[]>;
	endCall(): void;
	sendingKeys(): Promise<MediaKeyGrant[]>;
	ratchetForJoin(): Promise<MediaKeyGrant>;
	rotateForLeave(): Promise<MediaKeyGrant>;
	addKeys(senderDeviceId: string, grants: MediaKeyGrant[]): void;
	forget(senderDeviceId: string): void;
	counts(): Promise<FrameCounts>;
	attachSender(sender: RTCRtpSender, target: TransformTarget): void;
	attachReceiver(receiver: RTCRtpReceiver, target: TransformTarget): void;
	/** Frames from that device arrive under a key this browser lacks (reported at most every few seconds). */
	onMissingKey(listener: (senderDeviceId: string) => void): void;
}

type EncodedStreams = { readable: ReadableStream; writable: WritableStream };
type WithEncodedStreams = { createEncodedStreams(): EncodedStreams };

export class WorkerMediaCrypto implements MediaCrypto {
	readonly transportSettings: Partial<RTCConfiguration>;
	readonly #support: EncryptionSupport;
	readonly #worker: Worker;
	#nextId = 1;
	readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
	#missingKey: (senderDeviceId: string) => void = () => {};

	constructor(support: EncryptionSupport) {
		this.#support = support;
		// Chromium's non-standard RTCConfiguration member; without it createEncodedStreams throws.
		this.transportSettings = support === 'encoded-streams' ? ({ encodedInsertableStreams: true } as Partial<RTCConfiguration>) : {};
		this.#worker = new Worker(new URL('./media-crypto.worker.ts', import.meta.url), { type: 'module', name: 'hearth-call-media' });
		this.#worker.onmessage = (event: MessageEvent<MediaCryptoReply | MediaCryptoNotice>) => {
			if ('notice' in event.data) return this.#missingKey(event.data.senderDeviceId);
			const waiting = this.#pending.get(event.data.id);
			if (!waiting) return;
			this.#pending.delete(event.data.id);
			if (event.data.error !== undefined) waiting.reject(new Error(event.data.error));
			else waiting.resolve(event.data.result);
		};
	}

	#request<T>(request: MediaCryptoRequest, transfer: Transferable[] = []): Promise<T> {
		const id = this.#nextId++;
		return new Promise<T>((resolve, reject) => {
			this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
			this.#worker.postMessage({ id, request }, transfer);
		});
	}

	startCall(): Promise<MediaKeyGrant[]> {
		return this.#request({ op: 'startCall' });
	}

	endCall(): void {
		void this.#request({ op: 'endCall' });
	}

	sendingKeys(): Promise<MediaKeyGrant[]> {
		return this.#request({ op: 'sendingKeys' });
	}

	ratchetForJoin(): Promise<MediaKeyGrant> {
		return this.#request({ op: 'ratchetForJoin' });
	}

	rotateForLeave(): Promise<MediaKeyGrant> {
		return this.#request({ op: 'rotateForLeave' });
	}

	addKeys(senderDeviceId: string, grants: MediaKeyGrant[]): void {
		void this.#request({ op: 'addKeys', senderDeviceId, grants });
	}

	forget(senderDeviceId: string): void {
		void this.#request({ op: 'forget', senderDeviceId });
	}

	counts(): Promise<FrameCounts> {
		return this.#request({ op: 'counts' });
	}

	onMissingKey(listener: (senderDeviceId: string) => void): void {
		this.#missingKey = listener;
	}

	attachSender(sender: RTCRtpSender, target: TransformTarget): void {
		this.#attach(sender, target);
	}

	attachReceiver(receiver: RTCRtpReceiver, target: TransformTarget): void {
		this.#attach(receiver, target);
	}

	#attach(endpoint: RTCRtpSender | RTCRtpReceiver, target: TransformTarget): void {
		if (this.#support === 'script-transform') {
			endpoint.transform = new RTCRtpScriptTransform(this.#worker, target);
			return;
		}
		const { readable, writable } = (endpoint as unknown as WithEncodedStreams).createEncodedStreams();
		void this.#request({ op: 'pipe', target, readable, writable }, [readable, writable]);
	}
}
