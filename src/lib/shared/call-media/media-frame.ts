// The layout of an encrypted call media frame, as it leaves the browser's encoder transform:
//
//   clear prefix | AES-GCM ciphertext + 16-byte tag | SFrame header (KID, CTR) | header length
//
// The clear prefix (clear-prefix.ts) stays first so the RTP packetizer and the SFU read what they
// need; the SFrame header goes to the end (a trailer) for the same reason, with one final byte
// saying how long it is. AAD is SFrame header || clear prefix (RFC 9605 §4.4.3 with the prefix as
// the metadata), so neither can be changed without the frame failing to decrypt. For H.264 the
// encrypted part is escaped (clear-prefix.ts escapeH264) so it never looks like a start code.
import {
	clearPrefixLength,
	escapeH264,
	trailingZeros,
	unescapeH264,
	type MediaCodec
} from './clear-prefix.ts';
import { decodeSFrameHeader, sframeOpen, sframeSeal, SFrameError, SFRAME_TAG_BYTES, type SFrameKey } from './sframe.ts';

type Bytes = Uint8Array<ArrayBuffer>;

export class UnknownMediaKeyError extends SFrameError {
	override name = 'UnknownMediaKeyError';
	readonly kid: number;
	constructor(kid: number) {
		super(`no media key with id ${kid}`);
		this.kid = kid;
	}
}

export async function encryptMediaFrame(key: SFrameKey, ctr: number, codec: MediaCodec, frame: Uint8Array): Promise<Bytes> {
	const prefixLength = clearPrefixLength(codec, frame);
	const prefix = frame.subarray(0, prefixLength);
	const { header, ciphertext } = await sframeSeal(key, ctr, prefix, frame.subarray(prefixLength));
	let tail: Uint8Array = new Uint8Array(ciphertext.length + header.length + 1);
	tail.set(ciphertext, 0);
	tail.set(header, ciphertext.length);
	tail[tail.length - 1] = header.length;
	if (codec === 'h264') tail = escapeH264(tail, trailingZeros(prefix));
	const out = new Uint8Array(prefixLength + tail.length);
	out.set(prefix, 0);
	out.set(tail, prefixLength);
	return out;
}

export type MediaFrameTrailer = { kid: number; ctr: number; prefixLength: number };

function split(codec: MediaCodec, frame: Uint8Array): { prefix: Uint8Array; ciphertext: Uint8Array; header: Uint8Array; trailer: MediaFrameTrailer } {
	const prefixLength = clearPrefixLength(codec, frame);
	const prefix = frame.subarray(0, prefixLength);
	let tail = frame.subarray(prefixLength);
	if (codec === 'h264') tail = unescapeH264(tail, trailingZeros(prefix));
	if (tail.length < 1 + 1 + SFRAME_TAG_BYTES) throw new SFrameError('frame too short to be encrypted');
	const headerLength = tail[tail.length - 1]!;
	const headerStart = tail.length - 1 - headerLength;
	if (headerLength < 1 || headerStart < SFRAME_TAG_BYTES) throw new SFrameError('frame trailer malformed');
	const header = tail.subarray(headerStart, tail.length - 1);
	const { kid, ctr, length } = decodeSFrameHeader(header);
	if (length !== headerLength) throw new SFrameError('frame trailer malformed');
	return { prefix, ciphertext: tail.subarray(0, headerStart), header, trailer: { kid, ctr, prefixLength } };
}

/** Reads the key id and counter of an encrypted frame without decrypting it (tests, diagnostics). */
export function readMediaFrameTrailer(codec: MediaCodec, frame: Uint8Array): MediaFrameTrailer {
	return split(codec, frame).trailer;
}

/**
 * Decrypts a frame with the key its trailer names. `keyFor` answers the sender's key for a KID,
 * or undefined (an unknown or expired KID is refused with UnknownMediaKeyError); a frame whose
 * tag does not verify is refused with SFrameError. Either way the caller drops the frame: there
 * is no plaintext fallback.
 */
export async function decryptMediaFrame(
	keyFor: (kid: number) => SFrameKey | undefined | Promise<SFrameKey | undefined>,
	codec: MediaCodec,
	frame: Uint8Array
): Promise<Bytes> {
	const { prefix, ciphertext, header, trailer } = split(codec, frame);
	const key = await keyFor(trailer.kid);
	if (!key) throw new UnknownMediaKeyError(trailer.kid);
	const body = await sframeOpen(key, header, prefix, ciphertext);
	const out = new Uint8Array(prefix.length + body.length);
	out.set(prefix, 0);
	out.set(body, prefix.length);
	return out;
}
