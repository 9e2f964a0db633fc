// Which bytes of an encoded frame stay in the clear, per codec. The SFU and the browser's RTP
// packetizer read them: VP8's payload header says keyframe or not and carries the picture size
// (simulcast layer switching and keyframe requests depend on it), Opus's TOC byte says the frame's
// configuration (speaking detection and packetization), H.264's parameter sets and slice NAL
// header are what the packetizer splits on. They are authenticated as SFrame metadata, so a
// changed prefix makes the frame fail to decrypt.
//
// The receiver recomputes the length from the same clear bytes: nothing about it travels.

export type MediaCodec = 'opus' | 'vp8' | 'h264';

/** The codec of an RTP mime type ("audio/opus", "video/VP8"); null for one calls do not encrypt. */
export function mediaCodecOf(mimeType: string): MediaCodec | null {
	switch (mimeType.toLowerCase()) {
		case 'audio/opus':
			return 'opus';
		case 'video/vp8':
			return 'vp8';
		case 'video/h264':
			return 'h264';
		default:
			return null;
	}
}

/** RFC 6386 §9.1: the frame tag (3 bytes), plus start code and dimensions (7 more) on keyframes. */
const VP8_KEYFRAME_CLEAR = 10;
const VP8_DELTA_CLEAR = 3;
/** RFC 6716 §3.1: the TOC byte. */
const OPUS_CLEAR = 1;

export function clearPrefixLength(codec: MediaCodec, frame: Uint8Array): number {
	if (frame.length === 0) return 0;
	switch (codec) {
		case 'opus':
			return Math.min(OPUS_CLEAR, frame.length);
		case 'vp8': {
			// Bit 0 of the frame tag is "not a keyframe" (inverted).
			const keyframe = (frame[0]! & 0x01) === 0;
			return Math.min(keyframe ? VP8_KEYFRAME_CLEAR : VP8_DELTA_CLEAR, frame.length);
		}
		case 'h264':
			return h264ClearPrefixLength(frame);
	}
}

const H264_SLICE_NON_IDR = 1;
const H264_SLICE_IDR = 5;

/**
 * Annex B H.264: everything up to the first coded slice stays clear (SPS, PPS, SEI, AUD), and of
 * the slice its NAL header and first byte (first_mb_in_slice and slice_type start there, which the
 * depacketizer reads). No slice: nothing stays clear.
 */
function h264ClearPrefixLength(frame: Uint8Array): number {
	for (let i = 0; i + 2 < frame.length; i++) {
		if (frame[i] !== 0 || frame[i + 1] !== 0 || frame[i + 2] !== 1) continue;
		const nalHeader = i + 3;
		if (nalHeader >= frame.length) break;
		const type = frame[nalHeader]! & 0x1f;
		if (type === H264_SLICE_NON_IDR || type === H264_SLICE_IDR) return Math.min(nalHeader + 2, frame.length);
		i = nalHeader - 1;
	}
	return 0;
}

/**
 * H.264 emulation prevention (ITU-T H.264 §7.4.1) over encrypted bytes: ciphertext is random and
 * would now and then contain 00 00 0x, which a depacketizer takes for a start code and splits the
 * frame on. After two zeros, a byte 0..3 gets an 03 in front of it. `zerosBefore` carries the
 * trailing zeros of the clear prefix the escaped bytes follow.
 */
export function escapeH264(bytes: Uint8Array, zerosBefore = 0): Uint8Array<ArrayBuffer> {
	const out: number[] = [];
	let zeros = Math.min(zerosBefore, 2);
	for (const byte of bytes) {
		if (zeros >= 2 && byte <= 3) {
			out.push(3);
			zeros = 0;
		}
		out.push(byte);
		zeros = byte === 0 ? zeros + 1 : 0;
	}
	return new Uint8Array(out);
}

export function unescapeH264(bytes: Uint8Array, zerosBefore = 0): Uint8Array<ArrayBuffer> {
	const out: number[] = [];
	let zeros = Math.min(zerosBefore, 2);
	for (const byte of bytes) {
		if (zeros >= 2 && byte === 3) {
			zeros = 0;
			continue;
		}
		out.push(byte);
		zeros = byte === 0 ? zeros + 1 : 0;
	}
	return new Uint8Array(out);
}

/** Trailing zero bytes (at most 2 matter) of the clear prefix, for escapeH264's context. */
export function trailingZeros(bytes: Uint8Array): number {
	let zeros = 0;
	for (let i = bytes.length - 1; i >= 0 && bytes[i] === 0 && zeros < 2; i--) zeros++;
	return zeros;
}
