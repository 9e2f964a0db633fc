// The media side of `npm run bench:calls`: a child process that plays every participant's
// microphone and camera as plain RTP over UDP to the SFU, so the orchestrator (which reads the
// worker's CPU and the consumers' stats) and the worker are not timed by the sender's own work.
//
// The packets have the shape the SFU looks at, not content a decoder could use: an RTP header
// (payload type, sequence number, timestamp, SSRC, marker at the end of a video frame), an Opus-sized
// payload 50 times a second, and VP8 frames 30 times a second split into ≤1,100-byte packets with a
// VP8 payload descriptor (S bit on a frame's first packet) and a payload header whose inverse key
// frame bit is clear every KEY_FRAME_INTERVAL frames: mediasoup's video consumers forward nothing
// until they have seen a key frame, exactly as with a browser's stream.
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

export type RtpSender = {
	/** UDP port of the participant's send PlainTransport (comedia: it learns our address from the first packet). */
	port: number;
	audio: { ssrc: number; payloadType: number };
	video: { ssrc: number; payloadType: number };
};
export type RtpParentMessage =
	| { type: 'configure'; audioKbps: number; videoKbps: number }
	| { type: 'add'; senders: RtpSender[] }
	| { type: 'clear' }
	| { type: 'exit' };
export type RtpChildMessage = { type: 'added'; senders: number } | { type: 'cleared'; packets: number; bytes: number };

const AUDIO_PACKETS_PER_SECOND = 50; // 20 ms Opus frames, what browsers send
const VIDEO_FRAMES_PER_SECOND = 30;
const MAX_VIDEO_PAYLOAD = 1_100;
const KEY_FRAME_INTERVAL = 60; // one key frame every 2 s
const TICK_MS = 5;
const RTP_HEADER_BYTES = 12;

type Stream = { ssrc: number; payloadType: number; seq: number; timestamp: number; nextDueMs: number };
type Participant = { socket: Socket; port: number; audio: Stream; video: Stream; frames: number };

let audioPayload = 80;
let videoFrameBytes = 2_083;
const participants: Participant[] = [];
let packets = 0;
let bytes = 0;
const filler = randomBytes(MAX_VIDEO_PAYLOAD + 16);

function rtpPacket(stream: Stream, marker: boolean, payload: Buffer): Buffer {
	const packet = Buffer.allocUnsafe(RTP_HEADER_BYTES + payload.length);
	packet[0] = 0x80; // version 2, no padding, no extension, no CSRC
	packet[1] = (marker ? 0x80 : 0) | stream.payloadType;
	packet.writeUInt16BE(stream.seq, 2);
	packet.writeUInt32BE(stream.timestamp >>> 0, 4);
	packet.writeUInt32BE(stream.ssrc, 8);
	payload.copy(packet, RTP_HEADER_BYTES);
	stream.seq = (stream.seq + 1) & 0xffff;
	return packet;
}

function send(participant: Participant, packet: Buffer): void {
	packets += 1;
	bytes += packet.length;
	participant.socket.send(packet, participant.port, '127.0.0.1');
}

function sendAudio(participant: Participant): void {
	send(participant, rtpPacket(participant.audio, false, filler.subarray(0, audioPayload)));
	participant.audio.timestamp += 48_000 / AUDIO_PACKETS_PER_SECOND;
}

function sendVideoFrame(participant: Participant): void {
	const keyFrame = participant.frames % KEY_FRAME_INTERVAL === 0;
	participant.frames += 1;
	const count = Math.max(1, Math.ceil(videoFrameBytes / MAX_VIDEO_PAYLOAD));
	const size = Math.ceil(videoFrameBytes / count);
	for (let index = 0; index < count; index++) {
		const payload = Buffer.from(filler.subarray(0, size));
		// VP8 payload descriptor: X=0, N=0, S=start of the frame's first partition, PID=0.
		payload[0] = index === 0 ? 0x10 : 0x00;
		// VP8 payload header (first packet only): bit 0 is the inverse key frame flag.
		if (index === 0) payload[1] = keyFrame ? 0x00 : 0x01;
		send(participant, rtpPacket(participant.video, index === count - 1, payload));
	}
	participant.video.timestamp += 90_000 / VIDEO_FRAMES_PER_SECOND;
}

function tick(): void {
	const now = performance.now();
	for (const participant of participants) {
		// Catch up after a late tick instead of drifting, but never burst more than 100 ms.
		const { audio, video } = participant;
		if (now - audio.nextDueMs > 100) audio.nextDueMs = now;
		if (now - video.nextDueMs > 100) video.nextDueMs = now;
		while (audio.nextDueMs <= now) {
			sendAudio(participant);
			audio.nextDueMs += 1000 / AUDIO_PACKETS_PER_SECOND;
		}
		while (video.nextDueMs <= now) {
			sendVideoFrame(participant);
			video.nextDueMs += 1000 / VIDEO_FRAMES_PER_SECOND;
		}
	}
}

function stream(ssrc: number, payloadType: number, startMs: number): Stream {
	return { ssrc, payloadType, seq: Math.floor(Math.random() * 0xffff), timestamp: Math.floor(Math.random() * 0xffffffff), nextDueMs: startMs };
}

async function add(senders: RtpSender[]): Promise<void> {
	for (const sender of senders) {
		const socket = createSocket('udp4');
		// RTCP from the SFU (receiver reports, PLI/NACK) comes back here; this sender ignores it.
		socket.on('message', () => {});
		await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
		// Spread the participants' frame times over a frame interval, as independent cameras are.
		const start = performance.now() + Math.random() * (1000 / VIDEO_FRAMES_PER_SECOND);
		participants.push({ socket, port: sender.port, audio: stream(sender.audio.ssrc, sender.audio.payloadType, start), video: stream(sender.video.ssrc, sender.video.payloadType, start), frames: 0 });
	}
}

if (import.meta.main) {
	const timer = setInterval(tick, TICK_MS);
	process.on('message', async (message: RtpParentMessage) => {
		const reply = (answer: RtpChildMessage) => process.send!(answer);
		switch (message.type) {
			case 'configure':
				audioPayload = Math.max(20, Math.round((message.audioKbps * 1000) / 8 / AUDIO_PACKETS_PER_SECOND) - RTP_HEADER_BYTES);
				videoFrameBytes = Math.max(100, Math.round((message.videoKbps * 1000) / 8 / VIDEO_FRAMES_PER_SECOND));
				break;
			case 'add':
				await add(message.senders);
				reply({ type: 'added', senders: participants.length });
				break;
			case 'clear':
				for (const participant of participants.splice(0)) participant.socket.close();
				reply({ type: 'cleared', packets, bytes });
				packets = 0;
				bytes = 0;
				break;
			case 'exit':
				clearInterval(timer);
				for (const participant of participants.splice(0)) participant.socket.close();
				process.disconnect();
				break;
		}
	});
}
