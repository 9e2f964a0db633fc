// The call's media worker: holds this browser's call media keys and runs the frame transforms
// (frame-cryptor.ts) off the main thread. Frames come either as RTCRtpScriptTransform events
// (Firefox, Safari, Chromium 141+) or as encoded streams the page transferred here (older
// Chromium, `createEncodedStreams`). The page drives the keys with the requests below
// (media-crypto.ts is the other end).
import { FrameCryptor, type EncodedFrame, type FrameCounts, type TransformTarget } from './frame-cryptor.ts';
import type { MediaKeyGrant } from '#lib/shared/call-media/media-keys.ts';

export type MediaCryptoRequest =
	| { op: 'startCall' }
	| { op: 'endCall' }
	| { op: 'sendingKeys' }
	| { op: 'ratchetForJoin' }
	| { op: 'rotateForLeave' }
	| { op: 'addKeys'; senderDeviceId: string; grants: MediaKeyGrant[] }
	| { op: 'forget'; senderDeviceId: string }
	| { op: 'counts' }
	| { op: 'pipe'; target: TransformTarget; readable: ReadableStream<EncodedFrame>; writable: WritableStream<EncodedFrame> };

export type MediaCryptoReply = { id: number; result?: MediaKeyGrant[] | MediaKeyGrant | FrameCounts | null; error?: string };
/** Sent unasked: frames from this device arrive under a key this browser lacks. */
export type MediaCryptoNotice = { notice: 'missing-key'; senderDeviceId: string };

type TransformEvent = { transformer: { readable: ReadableStream<EncodedFrame>; writable: WritableStream<EncodedFrame>; options: TransformTarget } };
type WorkerScope = {
	onmessage: ((event: MessageEvent<{ id: number; request: MediaCryptoRequest }>) => void) | null;
	onrtctransform: ((event: TransformEvent) => void) | null;
	postMessage(message: MediaCryptoReply | MediaCryptoNotice): void;
};

const scope = self as unknown as WorkerScope;
const cryptor = new FrameCryptor({ onMissingKey: (senderDeviceId) => scope.postMessage({ notice: 'missing-key', senderDeviceId }) });

function pipe(target: TransformTarget, readable: ReadableStream<EncodedFrame>, writable: WritableStream<EncodedFrame>): void {
	// Ends when the sender or receiver goes away (its streams close); nothing to clean up then.
	void readable.pipeThrough(cryptor.transform(target)).pipeTo(writable).catch(() => {});
}

async function handle(request: MediaCryptoRequest): Promise<MediaCryptoReply['result']> {
	switch (request.op) {
		case 'startCall':
			return cryptor.startCall();
		case 'endCall':
			cryptor.endCall();
			return null;
		case 'sendingKeys':
			return cryptor.sendingKeys();
		case 'ratchetForJoin':
			return cryptor.ratchetForJoin();
		case 'rotateForLeave':
			return cryptor.rotateForLeave();
		case 'addKeys':
			cryptor.addKeys(request.senderDeviceId, request.grants);
			return null;
		case 'forget':
			cryptor.forget(request.senderDeviceId);
			return null;
		case 'counts':
			return { ...cryptor.counts, decryptedFrom: { ...cryptor.counts.decryptedFrom } };
		case 'pipe':
			pipe(request.target, request.readable, request.writable);
			return null;
	}
}

scope.onmessage = (event) => {
	const { id, request } = event.data;
	handle(request).then(
		(result) => scope.postMessage({ id, result }),
		(error: unknown) => scope.postMessage({ id, error: error instanceof Error ? error.message : 'failed' })
	);
};

scope.onrtctransform = (event) => {
	const { readable, writable, options } = event.transformer;
	pipe(options, readable, writable);
};
