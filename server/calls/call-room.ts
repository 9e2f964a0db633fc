// A call: one mediasoup router for one voice channel, and its peers (one per /ws connection that
// joined). Owners close their children: room → peers → transports → producers and consumers, so
// closing a peer frees every server-side object it had (mediasoup closes a transport's producers
// and consumers with it, and consumers of a closed producer with the producer).
import type { types } from 'mediasoup';
import type { CallParticipantView, CallProducerView, ServerFrame, ServerFrameOf } from '#lib/shared/protocol/frames.ts';
import type { Logger } from '#lib/server/logger.ts';
import type { Connection } from '../realtime/connection.ts';
import type { WorkerSlot } from './worker-pool.ts';

// Speaking: louder than -60 dBov on average over the interval (mediasoup's scale: 0 is the loudest,
// -127 silence). Measured through Chromium: continuous voice-like sound averages -20 to -35, while
// Chromium's fake microphone (a short beep a second, mostly silence) averages -63 to -88, like a
// quiet room's noise. Checked every 400 ms — quick enough for a ring
// that follows speech, slow enough to cost a frame a few times a second at most. Up to the call's
// size: everyone who talks at once is shown.
const SPEAKING = { threshold: -60, interval: 400, maxEntries: 25 };

/**
 * What a call needs of a participant's connection: a /ws connection on this node, or (cluster mode)
 * a stand-in for one on another node whose frames are relayed (server/calls/cluster-calls.ts).
 */
export type CallConnection = Pick<Connection, 'id' | 'userId' | 'sessionId' | 'closed' | 'send' | 'sendRaw'>;

export type MediaSource = CallProducerView['source'];
export type ProducerEntry = { producer: types.Producer; source: MediaSource };

export class CallPeer {
	readonly id: string;
	readonly userId: string;
	/** The encryption device media keys for this peer go to (null: the session has none). */
	readonly deviceId: string | null;
	readonly conn: CallConnection;
	readonly transports = new Map<string, types.WebRtcTransport>();
	readonly producers = new Map<string, ProducerEntry>();
	readonly consumers = new Map<string, types.Consumer>();
	/** A moderator paused this peer's microphone; it stays paused until they unmute it. */
	mutedByModerator = false;
	closed = false;

	constructor(conn: CallConnection, deviceId: string | null) {
		this.id = conn.id;
		this.userId = conn.userId;
		this.deviceId = deviceId;
		this.conn = conn;
	}

	view(): CallParticipantView {
		return { peerId: this.id, userId: this.userId, deviceId: this.deviceId, mutedByModerator: this.mutedByModerator };
	}

	producerView(entry: ProducerEntry): CallProducerView {
		return { producerId: entry.producer.id, peerId: this.id, userId: this.userId, kind: entry.producer.kind, source: entry.source, paused: entry.producer.paused };
	}

	/** Idempotent. Closing the transports closes this peer's producers and consumers too. */
	close(): void {
		if (this.closed) return;
		this.closed = true;
		for (const transport of this.transports.values()) transport.close();
	}
}

export class CallRoom {
	/**
	 * This call's own id, new each time the channel's call starts: call media keys are bound to it,
	 * so a key from an earlier call in the channel (a to-device message delivered late) is not taken.
	 */
	readonly callId = crypto.randomUUID();
	readonly channelId: string;
	readonly communityId: string;
	readonly router: types.Router;
	readonly slot: WorkerSlot;
	readonly log: Logger;
	readonly peers = new Map<string, CallPeer>();
	/** Peers whose microphone is above the speaking threshold, as last broadcast (call.speaking). */
	speaking: string[] = [];
	/** The microphones' audio-level observer (observeSpeakers); closed with the router. */
	audioLevels: types.AudioLevelObserver | null = null;
	/** Joins that hold this room while they finish (it must not close under them). */
	pendingJoins = 0;
	closed = false;

	constructor(options: { channelId: string; communityId: string; router: types.Router; slot: WorkerSlot; log: Logger }) {
		this.channelId = options.channelId;
		this.communityId = options.communityId;
		this.router = options.router;
		this.slot = options.slot;
		this.log = options.log;
	}

	/** Sends a frame to every peer but `exceptPeerId`, serialised once. */
	broadcast(frame: ServerFrame, exceptPeerId?: string): void {
		const text = JSON.stringify(frame);
		for (const peer of this.peers.values()) if (peer.id !== exceptPeerId) peer.conn.sendRaw(text);
	}

	/**
	 * Watches every microphone in this call: an AudioLevelObserver on the router reports the loud
	 * producers each interval (or silence); the others hear of it only when the set of speakers
	 * changes, so a steady speaker costs no frames. Closed with the router.
	 */
	async observeSpeakers(): Promise<types.AudioLevelObserver> {
		const observer = await this.router.createAudioLevelObserver(SPEAKING);
		observer.on('volumes', (volumes) => this.#setSpeaking(volumes.map(({ producer }) => (producer.appData as { peerId: string }).peerId)));
		observer.on('silence', () => this.#setSpeaking([]));
		this.audioLevels = observer;
		return observer;
	}

	#setSpeaking(peerIds: string[]): void {
		const next = [...new Set(peerIds)].sort();
		if (this.closed || (next.length === this.speaking.length && next.every((id, i) => id === this.speaking[i]))) return;
		this.speaking = next;
		this.broadcast({ t: 'call.speaking', channelId: this.channelId, peerIds: next });
	}

	producers(): CallProducerView[] {
		return [...this.peers.values()].flatMap((peer) => [...peer.producers.values()].map((entry) => peer.producerView(entry)));
	}

	/** Ends the call for everyone in it (worker died, shutdown) and frees the router. Idempotent. */
	close(reason: ServerFrameOf<'call.ended'>['reason'], rejoin: boolean): void {
		if (this.closed) return;
		this.closed = true;
		for (const peer of this.peers.values()) {
			peer.close();
			peer.conn.send({ t: 'call.ended', channelId: this.channelId, reason, rejoin });
		}
		this.peers.clear();
		this.router.close();
	}
}
