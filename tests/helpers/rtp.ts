// Just enough RTP (RFC 3550) and VP8 payload (RFC 7741) parsing for a test to reassemble the
// frames a plain-RTP copy of a call stream carries (server/calls/test-tap.ts).

export type RtpPacket = { ssrc: number; payloadType: number; sequence: number; timestamp: number; marker: boolean; payload: Uint8Array };

/** An RTP packet, or null for RTCP (multiplexed on the same port) and anything malformed. */
export function parseRtp(packet: Uint8Array): RtpPacket | null {
	if (packet.length < 12 || packet[0]! >> 6 !== 2) return null;
	// RTCP sender/receiver reports, SDES, BYE, APP, feedback: packet types 200-206.
	if (packet[1]! >= 200 && packet[1]! <= 206) return null;
	const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
	const csrcCount = packet[0]! & 0x0f;
	let offset = 12 + 4 * csrcCount;
	if (packet[0]! & 0x10) {
		if (offset + 4 > packet.length) return null;
		offset += 4 + 4 * view.getUint16(offset + 2);
	}
	let end = packet.length;
	if (packet[0]! & 0x20) end -= packet[packet.length - 1]!;
	if (offset > end) return null;
	return {
		ssrc: view.getUint32(8),
		payloadType: packet[1]! & 0x7f,
		sequence: view.getUint16(2),
		timestamp: view.getUint32(4),
		marker: (packet[1]! & 0x80) !== 0,
		payload: packet.subarray(offset, end)
	};
}

/** RFC 7741 §4.2: the VP8 payload descriptor's length, and whether this packet starts a frame. */
function vp8Descriptor(payload: Uint8Array): { length: number; startsFrame: boolean } {
	const first = payload[0]!;
	let length = 1;
	if (first & 0x80) {
		const extension = payload[1]!;
		length = 2;
		if (extension & 0x80) length += payload[length]! & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
		if (extension & 0x40) length += 1; // TL0PICIDX
		if (extension & 0x30) length += 1; // TID / KEYIDX
	}
	return { length, startsFrame: (first & 0x10) !== 0 && (first & 0x07) === 0 };
}

/** Reassembles VP8 frames from a stream's packets (in order; a frame with a lost packet is skipped). */
export class Vp8FrameAssembler {
	#parts: Uint8Array[] = [];
	#timestamp = -1;
	#nextSequence = -1;

	/** The frame this packet completes, if any. */
	push(packet: RtpPacket): Uint8Array | null {
		const { length, startsFrame } = vp8Descriptor(packet.payload);
		const body = packet.payload.subarray(length);
		if (startsFrame) {
			this.#parts = [body];
			this.#timestamp = packet.timestamp;
		} else if (packet.timestamp === this.#timestamp && packet.sequence === this.#nextSequence) {
			this.#parts.push(body);
		} else {
			this.#parts = [];
			this.#timestamp = -1;
		}
		this.#nextSequence = (packet.sequence + 1) & 0xffff;
		if (!packet.marker || this.#parts.length === 0) return null;
		const frame = Buffer.concat(this.#parts);
		this.#parts = [];
		this.#timestamp = -1;
		return new Uint8Array(frame);
	}
}
