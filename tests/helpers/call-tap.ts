// The test side of server/calls/test-tap.ts: the SFU sends a plain-RTP copy of every stream it
// forwards to CALL_TEST_TAP_PORT, and logs which producer each SSRC is. This reassembles the copies
// into frames and reads each one's SFrame trailer, so a test can prove what left the server was
// ciphertext (used by the Chromium e2e test and the Firefox + Chromium cross-browser test).
import { createSocket, type Socket } from 'node:dgram';
import type { MediaCodec } from '#lib/shared/call-media/clear-prefix.ts';
import { readMediaFrameTrailer } from '#lib/shared/call-media/media-frame.ts';
import type { TestServer } from './test-server.ts';
import { parseRtp, Vp8FrameAssembler } from './rtp.ts';

export type Tap = { producerId: string; peerId: string; userId: string; kind: 'audio' | 'video'; mimeType: string; ssrc: number };
/** One forwarded frame; `kid` is its SFrame key id, null when it had no trailer (media in the clear). */
export type TappedFrame = { at: number; peerId: string; userId: string; kind: 'audio' | 'video'; codec: MediaCodec; frame: Uint8Array; kid: number | null };

export class CallTapView {
	readonly frames: TappedFrame[] = [];
	readonly socket: Socket = createSocket('udp4');
	readonly #taps = new Map<number, Tap>();
	readonly #assemblers = new Map<number, Vp8FrameAssembler>();
	#server: TestServer | null = null;

	/** Listens on a free loopback port: pass it to the server as CALL_TEST_TAP_PORT. */
	async bind(): Promise<number> {
		await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
		this.socket.on('message', (message) => this.#receive(new Uint8Array(message)));
		return this.socket.address().port;
	}

	/** The server whose log names the tapped streams. */
	watch(server: TestServer): void {
		this.#server = server;
	}

	fromPeer(peerId: string, kind: 'audio' | 'video', after = 0): TappedFrame[] {
		return this.frames.filter((f) => f.peerId === peerId && f.kind === kind && f.at > after);
	}

	fromUser(userId: string, kind: 'audio' | 'video', after = 0): TappedFrame[] {
		return this.frames.filter((f) => f.userId === userId && f.kind === kind && f.at > after);
	}

	close(): void {
		this.socket.close();
	}

	#tap(ssrc: number): Tap | undefined {
		if (!this.#taps.has(ssrc) && this.#server) {
			for (const line of this.#server.logs) {
				if (!line.includes('"call test tap"')) continue;
				const tap = (JSON.parse(line) as { tap: Tap }).tap;
				this.#taps.set(tap.ssrc, tap);
			}
		}
		return this.#taps.get(ssrc);
	}

	#receive(bytes: Uint8Array): void {
		const packet = parseRtp(bytes);
		const tap = packet && this.#tap(packet.ssrc);
		if (!packet || !tap) return;
		const codec: MediaCodec = tap.kind === 'audio' ? 'opus' : 'vp8';
		let frame: Uint8Array | null = packet.payload;
		if (tap.kind === 'video') {
			let assembler = this.#assemblers.get(packet.ssrc);
			if (!assembler) this.#assemblers.set(packet.ssrc, (assembler = new Vp8FrameAssembler()));
			frame = assembler.push(packet);
		}
		if (!frame || frame.length === 0) return;
		let kid: number | null = null;
		try {
			kid = readMediaFrameTrailer(codec, frame).kid;
		} catch {
			// No SFrame trailer: media in the clear. Counted by the tests.
		}
		this.frames.push({ at: Date.now(), peerId: tap.peerId, userId: tap.userId, kind: tap.kind, codec, frame: new Uint8Array(frame), kid });
		// Bounded: the tests look at recent frames only.
		if (this.frames.length > 20_000) this.frames.splice(0, 5_000);
	}
}
