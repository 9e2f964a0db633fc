// The browser side of a call: one object per page, over the same /ws connection as chat. Its state
// machine:
//
//   idle ──join()──▶ joining ──joined, transports and mic ready──▶ connected
//     ▲                 │                                              │
//     └──leave() / call ended / failure (error shown)◀──────────────────┘
//   connected ──call.ended with rejoin, or /ws reconnected──▶ joining (same channel)
//
// Every join is an attempt with a generation number: answers and events from a superseded attempt
// (left, or replaced by a rejoin) are ignored, so a late ack cannot resurrect a call the person
// left. mediasoup-client does the WebRTC work (one send transport for the microphone, one receive
// transport for everyone else's streams); it is loaded on first join, off the chat's critical path.
import type { types as ms } from 'mediasoup-client';
import type { CallParticipantView, CallProducerView, ServerFrame } from '#lib/shared/protocol/frames.ts';
import type { RealtimeConnection } from '../realtime/connection.ts';
import { RequestFailed } from '../realtime/connection.ts';

export type CallPhase = 'idle' | 'joining' | 'connected';

/** The part of the realtime connection a call uses (tests pass their own). */
export type CallSignalling = Pick<RealtimeConnection, 'request' | 'on'>;

export type CallMedia = {
	/** A mediasoup-client Device (tests use mediasoup-client's FakeHandler). */
	createDevice(): Promise<ms.Device>;
	/** The microphone track, or throws (no permission, no device). */
	microphone(): Promise<MediaStreamTrack>;
	/** Plays a received audio track; returns how to stop it. */
	play(track: MediaStreamTrack): () => void;
};

export type CallParticipant = CallParticipantView & {
	/** Audio bytes received from this participant so far (from getStats; grows while they speak). */
	bytesReceived: number;
};

type JoinAnswer = {
	peerId: string;
	rtpCapabilities: ms.RtpCapabilities;
	participants: CallParticipantView[];
	producers: CallProducerView[];
	iceServers: RTCIceServer[];
};
type TransportAnswer = { transportId: string; iceParameters: ms.IceParameters; iceCandidates: ms.IceCandidate[]; dtlsParameters: ms.DtlsParameters };
type ConsumeAnswer = { consumerId: string; producerId: string; kind: ms.MediaKind; rtpParameters: ms.RtpParameters };

type Received = { consumer: ms.Consumer; userId: string; stop: () => void };

// After the server replaced a failed media worker, rejoin after this pause (it needs a moment to
// start the new worker; joining earlier is answered "unavailable" and retried anyway).
const REJOIN_DELAY_MS = 1_000;
// Automatic rejoins (after the server lost the call) allowed within REJOIN_WINDOW_MS: a server
// whose media worker keeps failing must not keep the browser in a join loop; the person is told.
const MAX_REJOINS = 3;
const REJOIN_WINDOW_MS = 60_000;
// Receive statistics are read this often for the per-participant "receiving audio" indicator.
const STATS_INTERVAL_MS = 1_000;

export const browserCallMedia: CallMedia = {
	async createDevice() {
		const { Device } = await import('mediasoup-client');
		return new Device();
	},
	async microphone() {
		const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
		return stream.getAudioTracks()[0]!;
	},
	play(track) {
		const audio = new Audio();
		audio.autoplay = true;
		audio.srcObject = new MediaStream([track]);
		void audio.play().catch(() => {});
		return () => {
			audio.pause();
			audio.srcObject = null;
		};
	}
};

export class CallSession {
	phase = $state<CallPhase>('idle');
	channelId = $state<string | null>(null);
	/** Everyone in the call, this client included (first). */
	participants = $state<CallParticipant[]>([]);
	/** The microphone is off (by this person or a moderator). */
	muted = $state(false);
	mutedByModerator = $state(false);
	/** Joined without a microphone (permission denied, none present): listening only. */
	listenOnly = $state(false);
	/** A message a person can act on, when joining failed or the call ended unexpectedly. */
	error = $state<string | null>(null);
	#signalling: CallSignalling;
	#media: CallMedia;
	#userId: string;
	#attempt = 0;
	#peerId: string | null = null;
	#device: ms.Device | null = null;
	#send: ms.Transport | null = null;
	#recv: ms.Transport | null = null;
	#mic: ms.Producer | null = null;
	#received = new Map<string, Received>();
	#stats: ReturnType<typeof setInterval> | undefined;
	#stops: (() => void)[] = [];
	#rejoins: number[] = [];

	constructor(options: { signalling: CallSignalling; userId: string; media?: CallMedia }) {
		this.#signalling = options.signalling;
		this.#media = options.media ?? browserCallMedia;
		this.#userId = options.userId;
		this.#stops.push(
			this.#signalling.on('frame', (frame) => this.#onFrame(frame)),
			// The server dropped this peer when the socket closed: join again on the new one.
			this.#signalling.on('ready', () => {
				if (this.phase !== 'idle' && this.channelId) void this.join(this.channelId);
			})
		);
	}

	async join(channelId: string): Promise<void> {
		this.#teardown();
		const attempt = ++this.#attempt;
		const current = () => attempt === this.#attempt;
		this.phase = 'joining';
		this.channelId = channelId;
		this.error = null;
		try {
			const joined = (await this.#signalling.request({ t: 'call.join', channelId })) as unknown as JoinAnswer;
			if (!current()) return;
			this.#peerId = joined.peerId;
			this.participants = [
				{ peerId: joined.peerId, userId: this.#userId, mutedByModerator: false, bytesReceived: 0 },
				...joined.participants.map((p) => ({ ...p, bytesReceived: 0 }))
			];
			const device = await this.#media.createDevice();
			await device.load({ routerRtpCapabilities: joined.rtpCapabilities });
			if (!current()) return;
			this.#device = device;
			this.#recv = await this.#createTransport('recv', joined.iceServers, attempt);
			this.#send = await this.#createTransport('send', joined.iceServers, attempt);
			if (!current()) return;
			await this.#startMicrophone(attempt);
			for (const producer of joined.producers) await this.#consume(producer, attempt);
			if (!current()) return;
			this.phase = 'connected';
			this.#stats = setInterval(() => void this.#readStats(), STATS_INTERVAL_MS);
		} catch (error) {
			if (!current()) return;
			this.error = describeFailure(error);
			await this.#leaveServer();
			this.#reset();
		}
	}

	async leave(): Promise<void> {
		if (this.phase === 'idle') return;
		this.#attempt += 1;
		await this.#leaveServer();
		this.#reset();
	}

	async toggleMute(): Promise<void> {
		const mic = this.#mic;
		if (!mic) return;
		if (this.muted) {
			if (this.mutedByModerator) return;
			await this.#signalling.request({ t: 'call.producer.resume', producerId: mic.id });
			mic.resume();
			this.muted = false;
		} else {
			mic.pause();
			this.muted = true;
			await this.#signalling.request({ t: 'call.producer.pause', producerId: mic.id });
		}
	}

	/** Moderators: mute, unmute or remove someone (the server checks the role). */
	async moderate(userId: string, action: 'mute' | 'unmute' | 'remove'): Promise<void> {
		if (!this.channelId) return;
		await this.#signalling.request({ t: 'call.moderate', channelId: this.channelId, userId, action });
	}

	destroy(): void {
		void this.leave();
		for (const stop of this.#stops) stop();
	}

	// ------------------------------------------------------------------------------------------

	async #createTransport(direction: 'send' | 'recv', iceServers: RTCIceServer[], attempt: number): Promise<ms.Transport> {
		const answer = (await this.#signalling.request({ t: 'call.transport.create', direction })) as unknown as TransportAnswer;
		const options = { id: answer.transportId, iceParameters: answer.iceParameters, iceCandidates: answer.iceCandidates, dtlsParameters: answer.dtlsParameters, iceServers };
		const transport = direction === 'send' ? this.#device!.createSendTransport(options) : this.#device!.createRecvTransport(options);
		transport.on('connect', ({ dtlsParameters }, callback, errback) => {
			if (attempt !== this.#attempt) return errback(new Error('superseded'));
			this.#signalling
				.request({ t: 'call.transport.connect', transportId: transport.id, dtlsParameters: dtlsParameters as unknown as Record<string, unknown> })
				.then(() => callback(), errback);
		});
		if (direction === 'send') {
			transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
				if (attempt !== this.#attempt) return errback(new Error('superseded'));
				const source = (appData as { source?: 'mic' }).source ?? 'mic';
				this.#signalling
					.request({ t: 'call.produce', transportId: transport.id, kind, source, rtpParameters: rtpParameters as unknown as Record<string, unknown> })
					.then((result) => callback({ id: (result as { producerId: string }).producerId }), errback);
			});
		}
		return transport;
	}

	async #startMicrophone(attempt: number): Promise<void> {
		let track: MediaStreamTrack;
		try {
			track = await this.#media.microphone();
		} catch (error) {
			// Still join to listen; say why the others cannot hear this person.
			this.listenOnly = true;
			this.muted = true;
			this.error = describeMicrophoneFailure(error);
			return;
		}
		if (attempt !== this.#attempt) {
			track.stop();
			return;
		}
		this.#mic = await this.#send!.produce({ track, appData: { source: 'mic' }, stopTracks: true });
		if (this.muted) this.#mic.pause();
	}

	async #consume(producer: CallProducerView, attempt: number): Promise<void> {
		if (producer.peerId === this.#peerId || !this.#recv || !this.#device) return;
		const answer = (await this.#signalling.request({
			t: 'call.consume',
			transportId: this.#recv.id,
			producerId: producer.producerId,
			rtpCapabilities: this.#device.recvRtpCapabilities as unknown as Record<string, unknown>
		})) as unknown as ConsumeAnswer;
		if (attempt !== this.#attempt) return;
		const consumer = await this.#recv.consume({ id: answer.consumerId, producerId: answer.producerId, kind: answer.kind, rtpParameters: answer.rtpParameters });
		const stop = consumer.kind === 'audio' ? this.#media.play(consumer.track) : () => {};
		this.#received.set(producer.producerId, { consumer, userId: producer.userId, stop });
		await this.#signalling.request({ t: 'call.consumer.resume', consumerId: consumer.id });
	}

	#dropConsumer(producerId: string): void {
		const received = this.#received.get(producerId);
		if (!received) return;
		this.#received.delete(producerId);
		received.stop();
		received.consumer.close();
	}

	#onFrame(frame: ServerFrame): void {
		if (!('channelId' in frame) || frame.channelId !== this.channelId || this.phase === 'idle') return;
		const attempt = this.#attempt;
		switch (frame.t) {
			case 'call.participant.joined':
				if (!this.participants.some((p) => p.peerId === frame.participant.peerId)) this.participants.push({ ...frame.participant, bytesReceived: 0 });
				break;
			case 'call.participant.left':
				this.participants = this.participants.filter((p) => p.peerId !== frame.peerId);
				break;
			case 'call.producer.new':
				void this.#consume(frame.producer, attempt).catch(() => {});
				break;
			case 'call.producer.closed':
				this.#dropConsumer(frame.producerId);
				break;
			case 'call.muted':
				this.mutedByModerator = frame.muted;
				if (frame.muted) {
					this.#mic?.pause();
					this.muted = true;
				}
				break;
			case 'call.ended': {
				const channelId = frame.channelId;
				this.#attempt += 1;
				this.#reset();
				const now = Date.now();
				this.#rejoins = this.#rejoins.filter((at) => now - at < REJOIN_WINDOW_MS);
				if (frame.rejoin && this.#rejoins.length < MAX_REJOINS) {
					this.#rejoins.push(now);
					// Shown while rejoining; cleared by the join.
					this.phase = 'joining';
					this.channelId = channelId;
					setTimeout(() => {
						if (attempt + 1 === this.#attempt && this.channelId === channelId) void this.join(channelId);
					}, REJOIN_DELAY_MS);
				} else if (frame.rejoin) {
					this.error = 'The call keeps failing on the server. Try joining again later.';
				} else {
					this.error = frame.reason === 'removed' ? 'A moderator removed you from the call.' : 'You no longer have access to this call.';
				}
				break;
			}
		}
	}

	async #readStats(): Promise<void> {
		const totals = new Map<string, number>();
		for (const { consumer, userId } of this.#received.values()) {
			const report = await consumer.getStats().catch(() => null);
			report?.forEach((stat: { type: string; bytesReceived?: number }) => {
				if (stat.type === 'inbound-rtp') totals.set(userId, (totals.get(userId) ?? 0) + (stat.bytesReceived ?? 0));
			});
		}
		for (const participant of this.participants) {
			const bytes = totals.get(participant.userId);
			if (bytes !== undefined) participant.bytesReceived = bytes;
		}
	}

	async #leaveServer(): Promise<void> {
		await this.#signalling.request({ t: 'call.leave' }).catch(() => {});
	}

	/** Closes local media objects (the server frees its side on call.leave or socket close). */
	#teardown(): void {
		clearInterval(this.#stats);
		for (const producerId of [...this.#received.keys()]) this.#dropConsumer(producerId);
		this.#mic?.close();
		this.#send?.close();
		this.#recv?.close();
		this.#mic = this.#send = this.#recv = null;
		this.#device = null;
		this.#peerId = null;
	}

	#reset(): void {
		this.#teardown();
		this.phase = 'idle';
		this.channelId = null;
		this.participants = [];
		this.muted = false;
		this.mutedByModerator = false;
		this.listenOnly = false;
	}
}

function describeFailure(error: unknown): string {
	// The server's messages are written for people (call full, calls unavailable here, no access).
	if (error instanceof RequestFailed) return error.message;
	return 'Could not connect to the call. Check your connection and try again.';
}

function describeMicrophoneFailure(error: unknown): string {
	const name = error instanceof Error ? error.name : '';
	if (name === 'NotAllowedError') return 'Microphone access is blocked: allow it in the browser (address bar) to speak. You can still listen.';
	if (name === 'NotFoundError') return 'No microphone found. You can still listen.';
	return 'The microphone could not be started. You can still listen.';
}
