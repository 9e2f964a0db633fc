// The browser's call state machine (CallSession) with mediasoup-client's own FakeHandler in place of
// WebRTC and a scripted server: the order of signalling requests, that answers to a superseded
// attempt are ignored, pushes from the server, and the bounded automatic rejoin.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Device, FakeHandler, testFakeParameters, type types as ms } from 'mediasoup-client';
// mediasoup-client's own fake track (its dependency, used by its FakeHandler): Node has no MediaStreamTrack.
import { FakeMediaStreamTrack } from 'fake-mediastreamtrack';
import { CallSession, ICE_RESTART_AFTER_MS, type AudioOutput, type CallMedia, type CallSignalling, type MediaDevice } from '#lib/client/calls/call-session.svelte.ts';
import { CallPreferences } from '#lib/client/calls/call-preferences.ts';
import { CallMediaEncryption, type CallKeyExchange } from '#lib/client/calls/call-media-encryption.ts';
import { FrameCryptor, type TransformTarget } from '#lib/client/calls/frame-cryptor.ts';
import type { MediaCrypto } from '#lib/client/calls/media-crypto.ts';
import type { CallMediaKeysWanted, ReceivedCallMediaKeys } from '#lib/client/e2ee/engine.ts';
import type { MediaKeyGrant } from '#lib/shared/call-media/media-keys.ts';
import { Disconnected, RequestFailed } from '#lib/client/realtime/connection.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';

const CHANNEL = '11111111-1111-4111-8111-111111111111';
const CALL_ID = '66666666-6666-4666-8666-666666666666';
const MY_DEVICE = '77777777-7777-4777-8777-777777777777';
const OTHER_DEVICE = '88888888-8888-4888-8888-888888888888';
const ME = '22222222-2222-4222-8222-222222222222';
const OTHER = '33333333-3333-4333-8333-333333333333';

type Request = { t: string } & Record<string, unknown>;

/** A server that answers each request type from a script, recording what was asked. */
class ScriptedServer implements CallSignalling {
	readonly requests: Request[] = [];
	state: CallSignalling['state'] = 'open';
	readonly listeners = { frame: new Set<(f: ServerFrame) => void>(), ready: new Set<() => void>() };
	/** Requests of these types wait until release() is called. */
	held = new Map<string, Array<() => void>>();
	hold = new Set<string>();
	fail = new Map<string, RequestFailed>();
	producers: unknown[] = [];
	/** Producer ids the consume answer describes as VP8 video (else Opus audio). */
	videoProducers = new Set<string>();

	request = (async (frame: Request) => {
		// Like the real connection: refused before anything is sent while not open.
		if (this.state !== 'open') throw new Disconnected();
		this.requests.push(frame);
		if (this.hold.has(frame.t)) await new Promise<void>((resolve) => this.held.set(frame.t, [...(this.held.get(frame.t) ?? []), resolve]));
		const failure = this.fail.get(frame.t);
		if (failure) throw failure;
		return this.answer(frame);
	}) as unknown as CallSignalling['request'];

	on = ((event: 'frame' | 'ready', listener: (...args: never[]) => void) => {
		const set = this.listeners[event] as Set<typeof listener>;
		set.add(listener);
		return () => set.delete(listener);
	}) as unknown as CallSignalling['on'];

	answer(frame: Request): Record<string, unknown> {
		switch (frame.t) {
			case 'call.join':
				return {
					channelId: CHANNEL,
					callId: CALL_ID,
					peerId: 'me-peer',
					deviceId: MY_DEVICE,
					rtpCapabilities: testFakeParameters.generateRouterRtpCapabilities(),
					participants: [{ peerId: 'other-peer', userId: OTHER, deviceId: OTHER_DEVICE, mutedByModerator: false }],
					producers: this.producers,
					iceServers: []
				};
			case 'call.transport.create': {
				const { id, iceParameters, iceCandidates, dtlsParameters } = testFakeParameters.generateTransportRemoteParameters();
				return { transportId: id, iceParameters, iceCandidates, dtlsParameters };
			}
			case 'call.consume': {
				const codecMimeType = this.videoProducers.has(frame.producerId as string) ? 'video/VP8' : 'audio/opus';
				const { id, producerId, kind, rtpParameters } = testFakeParameters.generateConsumerRemoteParameters({ codecMimeType });
				return { consumerId: id, producerId: producerId ?? frame.producerId, kind, rtpParameters };
			}
			case 'call.produce':
				return { producerId: `99999999-9999-4999-8999-${String(this.requests.length).padStart(12, '0')}`, paused: false };
			case 'call.transport.restartIce':
				return { iceParameters: { usernameFragment: 'new-ufrag', password: 'new-password', iceLite: true } };
			default:
				return {};
		}
	}

	release(type: string) {
		for (const resolve of this.held.get(type) ?? []) resolve();
		this.held.delete(type);
		this.hold.delete(type);
	}

	push(frame: ServerFrame) {
		for (const listener of this.listeners.frame) listener(frame);
	}

	types() {
		return this.requests.map((r) => r.t);
	}
}

type Played = { track: unknown; volume: number; sink: string | null };
const played: Played[] = [];
/** Devices the fake browser has, and what it was asked for. */
const browser = {
	microphone: null as null | (() => MediaStreamTrack),
	asked: [] as string[],
	devices: [] as MediaDevice[],
	deviceChange: new Set<() => void>(),
	transports: [] as ms.Transport[],
	cameraFailure: null as Error | null
};
const fakeTrack = (kind: 'audio' | 'video', label: string = kind) => new FakeMediaStreamTrack({ kind, label }) as unknown as MediaStreamTrack;
const media: CallMedia = {
	async createDevice() {
		const device = new Device({ handlerFactory: FakeHandler.createFactory(testFakeParameters) });
		device.observer.on('newtransport', (transport: ms.Transport) => browser.transports.push(transport));
		return device;
	},
	async microphone(deviceId) {
		browser.asked.push(`microphone:${deviceId}`);
		// By default no microphone in Node: the session joins listen-only, as with a denied permission.
		if (!browser.microphone) throw Object.assign(new Error('denied'), { name: 'NotAllowedError' });
		return browser.microphone();
	},
	async camera(deviceId) {
		browser.asked.push(`camera:${deviceId}`);
		if (browser.cameraFailure) throw browser.cameraFailure;
		return fakeTrack('video', 'camera');
	},
	async screen() {
		return { video: fakeTrack('video', 'screen'), audio: fakeTrack('audio', 'screen audio') };
	},
	play(track) {
		const entry: Played = { track, volume: 1, sink: null };
		played.push(entry);
		const output: AudioOutput = {
			setVolume: (volume) => (entry.volume = volume),
			setSink: async (sink) => void (entry.sink = sink),
			stop: () => void played.splice(played.indexOf(entry), 1)
		};
		return output;
	},
	async devices() {
		return browser.devices;
	},
	onDeviceChange(listener) {
		browser.deviceChange.add(listener);
		return () => browser.deviceChange.delete(listener);
	},
	canChooseSpeaker: true
};

const otherProducer = { producerId: '44444444-4444-4444-8444-444444444444', peerId: 'other-peer', userId: OTHER, kind: 'audio', source: 'mic', paused: false };

/**
 * The media worker's FrameCryptor run in process (Node has no Worker, and FakeHandler has no RTP
 * senders to attach to): what is attached is recorded.
 */
class InProcessMediaCrypto implements MediaCrypto {
	readonly transportSettings = {};
	#missingKey: (deviceId: string) => void = () => {};
	readonly cryptor = new FrameCryptor({ onMissingKey: (deviceId) => this.#missingKey(deviceId) });
	onMissingKey = (listener: (deviceId: string) => void) => void (this.#missingKey = listener);
	readonly attached: TransformTarget[] = [];
	startCall = () => this.cryptor.startCall();
	endCall = () => this.cryptor.endCall();
	sendingKeys = async () => this.cryptor.sendingKeys();
	ratchetForJoin = () => this.cryptor.ratchetForJoin();
	rotateForLeave = () => this.cryptor.rotateForLeave();
	addKeys = (device: string, grants: MediaKeyGrant[]) => this.cryptor.addKeys(device, grants);
	forget = (device: string) => this.cryptor.forget(device);
	counts = async () => structuredClone(this.cryptor.counts);
	attachSender = (_sender: RTCRtpSender, target: TransformTarget) => void this.attached.push(target);
	attachReceiver = (_receiver: RTCRtpReceiver, target: TransformTarget) => void this.attached.push(target);
}

/** The E2EE engine's call-key surface: what would go out over pairwise sessions is recorded. */
class RecordingKeyExchange implements CallKeyExchange {
	deviceId: string | undefined = MY_DEVICE;
	readonly sent: { deviceIds: string[]; kids: number[] }[] = [];
	readonly asked: string[] = [];
	readonly listeners = new Set<(keys: ReceivedCallMediaKeys) => void>();
	readonly requestListeners = new Set<(wanted: CallMediaKeysWanted) => void>();
	async start() {}
	async sendCallMediaKeys(_channelId: string, _callId: string, deviceIds: string[], keys: MediaKeyGrant[]) {
		this.sent.push({ deviceIds, kids: keys.map((k) => k.kid) });
		return deviceIds;
	}
	onCallMediaKeys(listener: (keys: ReceivedCallMediaKeys) => void) {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}
	async requestCallMediaKeys(_channelId: string, _callId: string, deviceId: string) {
		this.asked.push(deviceId);
	}
	onCallMediaKeyRequests(listener: (wanted: CallMediaKeysWanted) => void) {
		this.requestListeners.add(listener);
		return () => this.requestListeners.delete(listener);
	}
}

let mediaCrypto: InProcessMediaCrypto | null;
let keyExchange: RecordingKeyExchange;
const encryption = () => new CallMediaEncryption({ exchange: () => keyExchange, crypto: () => mediaCrypto });

function memoryStorage() {
	const values = new Map<string, string>();
	return { values, getItem: (k: string) => values.get(k) ?? null, setItem: (k: string, v: string) => void values.set(k, v), removeItem: (k: string) => void values.delete(k) };
}

// Captured before any test fakes the timers: settle() needs real time to pass.
const realSetTimeout = globalThis.setTimeout;
async function settle() {
	// Joining awaits WebCrypto (the media keys), which completes on Node's thread pool, not in a
	// microtask: event-loop turns alone can outrun it on a busy machine, so real milliseconds pass too.
	for (let round = 0; round < 8; round++) {
		for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
		await new Promise((resolve) => realSetTimeout(resolve, 2));
	}
}

describe('CallSession', () => {
	let server: ScriptedServer;
	let session: CallSession;
	let preferences: CallPreferences;
	beforeEach(() => {
		played.length = 0;
		Object.assign(browser, { microphone: null, asked: [], devices: [], transports: [], cameraFailure: null });
		browser.deviceChange.clear();
		server = new ScriptedServer();
		preferences = new CallPreferences(memoryStorage());
		mediaCrypto = new InProcessMediaCrypto();
		keyExchange = new RecordingKeyExchange();
		session = new CallSession({ signalling: server, userId: ME, media, preferences, encryption: encryption() });
	});
	afterEach(() => {
		session.destroy();
		vi.useRealTimers();
	});

	it('joins: capabilities, receive and send transports, then consumes what others already send, listen-only without a microphone', async () => {
		server.producers = [otherProducer];
		await session.join(CHANNEL);
		expect(session.phase).toBe('connected');
		expect(server.types()).toEqual(['call.join', 'call.transport.create', 'call.transport.create', 'call.consume', 'call.transport.connect', 'call.consumer.resume']);
		expect(server.requests[1]).toMatchObject({ direction: 'recv' });
		expect(server.requests[2]).toMatchObject({ direction: 'send' });
		expect(server.requests[3]).toMatchObject({ producerId: otherProducer.producerId });
		expect(played).toHaveLength(1);
		expect(session.participants.map((p) => p.userId)).toEqual([ME, OTHER]);
		expect(session.listenOnly).toBe(true);
		expect(session.error).toBe('Microphone access is blocked. Click the icon at the left of the address bar, set Microphone to Allow, then try again. You can still listen.');
	});

	describe('end-to-end encryption', () => {
		it('a browser without encoded transforms is told why and never asks the server to join', async () => {
			mediaCrypto = null;
			await session.join(CHANNEL);
			expect(session.phase).toBe('idle');
			expect(session.error).toBe(
				'Calls here are end-to-end encrypted, and this browser cannot encrypt call audio and video (it lacks WebRTC encoded transforms). Join with a current Firefox, Chrome, Edge or Safari.'
			);
			expect(server.types()).toEqual([]);
		});

		it('a browser without an encryption device is told why and never asks the server to join', async () => {
			keyExchange.deviceId = undefined;
			await session.join(CHANNEL);
			expect(session.phase).toBe('idle');
			expect(session.error).toMatch(/^Calls here are end-to-end encrypted, and this browser has no encryption keys yet/);
			expect(server.types()).toEqual([]);
		});

		it('hands its key to those in the call, a ratcheted key to a joiner, a fresh key to those who remain after a leave', async () => {
			server.producers = [otherProducer];
			await session.join(CHANNEL);
			await settle();
			expect(keyExchange.sent).toEqual([{ deviceIds: [OTHER_DEVICE], kids: [0] }]);
			// (FakeHandler has no RTP senders or receivers to attach transforms to: the browser test does that.)

			const joiner = '99999999-9999-4999-8999-999999999999';
			server.push({ t: 'call.participant.joined', channelId: CHANNEL, participant: { peerId: 'p3', userId: '55555555-5555-4555-8555-555555555555', deviceId: joiner, mutedByModerator: false } });
			await settle();
			expect(keyExchange.sent[1]).toEqual({ deviceIds: [joiner], kids: [1] });

			server.push({ t: 'call.participant.left', channelId: CHANNEL, peerId: 'other-peer', userId: OTHER });
			await settle();
			expect(keyExchange.sent[2]).toEqual({ deviceIds: [joiner], kids: [2] });
		});

		it('keeps keys that arrive before the join is answered (those in the call answer the join notice quickly)', async () => {
			const sender = new FrameCryptor();
			const grants = await sender.startCall();
			server.hold.add('call.join');
			const joining = session.join(CHANNEL);
			await settle();
			for (const listener of keyExchange.listeners) listener({ channelId: CHANNEL, callId: CALL_ID, senderUserId: OTHER, senderDeviceId: OTHER_DEVICE, keys: grants });
			server.release('call.join');
			await joining;
			expect(session.phase).toBe('connected');
			const frame = await sender.encrypt('opus', new Uint8Array(40).fill(0x78));
			expect(await mediaCrypto!.cryptor.decrypt(OTHER_DEVICE, 'opus', frame)).toEqual(new Uint8Array(40).fill(0x78));
		});

		it('asks a device in the call for its keys when its frames arrive under a key it lacks, at most every few seconds', async () => {
			await session.join(CHANNEL);
			const sender = new FrameCryptor();
			await sender.startCall();
			const frame = await sender.encrypt('opus', new Uint8Array(40).fill(0x78));
			for (let i = 0; i < 5; i++) await mediaCrypto!.cryptor.decrypt(OTHER_DEVICE, 'opus', frame);
			await mediaCrypto!.cryptor.decrypt('12121212-1212-4212-8212-121212121212', 'opus', frame);
			await settle();
			// Once for the device in the call; a device not in the call is not asked.
			expect(keyExchange.asked).toEqual([OTHER_DEVICE]);
		});

		it('answers a request for its keys from a device in the call with its current keys, and nobody else', async () => {
			await session.join(CHANNEL);
			await settle();
			const sentBefore = keyExchange.sent.length;
			const ask = (wanted: Partial<CallMediaKeysWanted>) => {
				for (const listener of keyExchange.requestListeners) listener({ channelId: CHANNEL, callId: CALL_ID, senderUserId: OTHER, senderDeviceId: OTHER_DEVICE, ...wanted });
			};
			ask({ senderDeviceId: '12121212-1212-4212-8212-121212121212' });
			ask({ callId: '13131313-1313-4313-8313-131313131313' });
			await settle();
			expect(keyExchange.sent.length).toBe(sentBefore);
			ask({});
			await settle();
			expect(keyExchange.sent.slice(sentBefore)).toEqual([{ deviceIds: [OTHER_DEVICE], kids: [0] }]);
		});

		it('takes keys only for its own call from the device that sent them', async () => {
			await session.join(CHANNEL);
			const key = new Uint8Array(16).fill(3);
			const deliver = (keys: Partial<ReceivedCallMediaKeys>) => {
				for (const listener of keyExchange.listeners) listener({ channelId: CHANNEL, callId: CALL_ID, senderUserId: OTHER, senderDeviceId: OTHER_DEVICE, keys: [{ kid: 0, key }], ...keys });
			};
			const sender = new FrameCryptor();
			await sender.startCall();
			const frame = await sender.encrypt('opus', new Uint8Array(40).fill(0x78));
			deliver({ callId: '12121212-1212-4212-8212-121212121212' });
			deliver({ channelId: '13131313-1313-4313-8313-131313131313' });
			deliver({ senderDeviceId: MY_DEVICE });
			expect(await mediaCrypto!.cryptor.decrypt(OTHER_DEVICE, 'opus', frame)).toBeNull();
			expect(mediaCrypto!.cryptor.counts).toMatchObject({ droppedNoKey: 1, droppedInvalid: 0 });
			deliver({});
			// Now KID 0 of the other device is known, and it is not the key this frame was sealed with.
			expect(await mediaCrypto!.cryptor.decrypt(OTHER_DEVICE, 'opus', frame)).toBeNull();
			expect(mediaCrypto!.cryptor.counts).toMatchObject({ droppedNoKey: 1, droppedInvalid: 1 });
			deliver({ keys: [{ kid: 0, key: new Uint8Array(16).fill(9) }] });
			expect(await mediaCrypto!.cryptor.decrypt(OTHER_DEVICE, 'opus', frame)).toBeNull();
			expect(mediaCrypto!.cryptor.counts.decrypted).toBe(0);
		});
	});

	it('ignores the answer to a join that was left before it arrived', async () => {
		server.hold.add('call.join');
		const joining = session.join(CHANNEL);
		await settle();
		await session.leave();
		server.release('call.join');
		await joining;
		expect(session.phase).toBe('idle');
		expect(session.participants).toEqual([]);
		expect(server.types()).toEqual(['call.join', 'call.leave']);
	});

	it('shows the server’s reason when joining is refused, and is idle', async () => {
		server.fail.set('call.join', new RequestFailed('call_full', 'This call is full (25 participants).'));
		await session.join(CHANNEL);
		expect(session.phase).toBe('idle');
		expect(session.error).toBe('This call is full (25 participants). Try again when someone leaves.');
		server.fail.set('call.join', new RequestFailed('unavailable', 'Calls are unavailable on this server: no media worker.'));
		await session.join(CHANNEL);
		expect(session.error).toBe('Calls are unavailable on this server: no media worker. If this lasts, tell the server’s administrator.');
	});

	it('follows participants and producers pushed by the server', async () => {
		await session.join(CHANNEL);
		server.push({ t: 'call.participant.joined', channelId: CHANNEL, participant: { peerId: 'p3', userId: '55555555-5555-4555-8555-555555555555', deviceId: null, mutedByModerator: false } });
		expect(session.participants).toHaveLength(3);
		server.push({ t: 'call.producer.new', channelId: CHANNEL, producer: otherProducer as never });
		await settle();
		expect(played).toHaveLength(1);
		server.push({ t: 'call.producer.closed', channelId: CHANNEL, producerId: otherProducer.producerId });
		expect(played).toHaveLength(0);
		server.push({ t: 'call.participant.left', channelId: CHANNEL, peerId: 'other-peer', userId: OTHER });
		expect(session.participants.map((p) => p.peerId)).toEqual(['me-peer', 'p3']);
	});

	it('rejoins by itself when the server lost the call, at most 3 times a minute, then says so', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'Date'] });
		await session.join(CHANNEL);
		for (let round = 1; round <= 3; round++) {
			server.push({ t: 'call.ended', channelId: CHANNEL, reason: 'server_error', rejoin: true });
			expect(session.phase).toBe('joining');
			await vi.advanceTimersByTimeAsync(1_000);
			await settle();
			expect(session.phase).toBe('connected');
		}
		expect(server.types().filter((t) => t === 'call.join')).toHaveLength(4);
		server.push({ t: 'call.ended', channelId: CHANNEL, reason: 'server_error', rejoin: true });
		await vi.advanceTimersByTimeAsync(5_000);
		expect(session.phase).toBe('idle');
		expect(session.error).toBe('The call keeps failing on the server. Try joining again later.');
		expect(server.types().filter((t) => t === 'call.join')).toHaveLength(4);
	});

	it('does not rejoin after a moderator removed this person', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'Date'] });
		await session.join(CHANNEL);
		server.push({ t: 'call.ended', channelId: CHANNEL, reason: 'removed', rejoin: false });
		await vi.advanceTimersByTimeAsync(5_000);
		expect(session.phase).toBe('idle');
		expect(session.error).toBe('A moderator removed you from the call.');
		expect(server.types().filter((t) => t === 'call.join')).toHaveLength(1);
	});

	it('a join clicked before /ws is connected waits for it, then joins', async () => {
		server.state = 'connecting';
		await session.join(CHANNEL);
		expect(session.phase).toBe('joining');
		expect(session.error).toBeNull();
		server.state = 'open';
		for (const listener of server.listeners.ready) listener();
		await settle();
		expect(session.phase).toBe('connected');
		expect(server.types().filter((t) => t === 'call.join')).toHaveLength(1);
	});

	it('joins again on the new socket after /ws reconnected (the server dropped the old peer)', async () => {
		await session.join(CHANNEL);
		for (const listener of server.listeners.ready) listener();
		await settle();
		expect(server.types().filter((t) => t === 'call.join')).toHaveLength(2);
		expect(session.phase).toBe('connected');
	});
	describe('camera, screen and tiles', () => {
		const cameraProducer = { producerId: '66666666-6666-4666-8666-666666666666', peerId: 'other-peer', userId: OTHER, kind: 'video', source: 'camera', paused: false };
		const screenProducer = { producerId: '77777777-7777-4777-8777-777777777777', peerId: 'other-peer', userId: OTHER, kind: 'video', source: 'screen', paused: false };

		it('sends the camera as three simulcast encodings, shows it as a local preview, and closes it on the server when turned off', async () => {
			await session.join(CHANNEL);
			await session.toggleCamera();
			const produce = server.requests.find((r) => r.t === 'call.produce')!;
			expect(produce).toMatchObject({ kind: 'video', source: 'camera' });
			const encodings = (produce.rtpParameters as { encodings: { scaleResolutionDownBy?: number; maxBitrate?: number }[] }).encodings;
			expect(encodings.map((e) => [e.scaleResolutionDownBy, e.maxBitrate])).toEqual([
				[4, 150_000],
				[2, 500_000],
				[1, 1_500_000]
			]);
			const producedId = `99999999-9999-4999-8999-${String(server.requests.indexOf(produce) + 1).padStart(12, '0')}`;
			expect(session.cameraOn).toBe(true);
			expect(session.videos).toEqual([expect.objectContaining({ key: 'local:camera', peerId: 'me-peer', source: 'camera', local: true })]);

			await session.toggleCamera();
			expect(session.cameraOn).toBe(false);
			expect(session.videos).toEqual([]);
			expect(server.requests.at(-1)).toEqual({ t: 'call.producer.close', producerId: session.videos.length === 0 ? producedId : 'still shown' });
		});

		it('says what to do when the camera is in use, and stays in the call', async () => {
			await session.join(CHANNEL);
			browser.cameraFailure = Object.assign(new Error('busy'), { name: 'NotReadableError' });
			await session.toggleCamera();
			expect(session.cameraOn).toBe(false);
			expect(session.phase).toBe('connected');
			expect(session.error).toBe('The camera is in use by another application or could not start. Close the other application, then try again.');
		});

		it('shares the screen with its audio; the browser’s own "Stop sharing" closes both on the server', async () => {
			await session.join(CHANNEL);
			await session.toggleScreen();
			const produced = server.requests.filter((r) => r.t === 'call.produce');
			expect(produced.map((r) => [r.kind, r.source])).toEqual([
				['video', 'screen'],
				['audio', 'screen-audio']
			]);
			expect(session.screenOn).toBe(true);
			const screen = session.videos.find((v) => v.source === 'screen')!;
			expect(screen).toMatchObject({ key: 'local:screen', local: true });
			(screen.track as unknown as FakeMediaStreamTrack).remoteStop();
			await settle();
			expect(session.screenOn).toBe(false);
			expect(server.types().filter((t) => t === 'call.producer.close')).toHaveLength(2);
			expect(session.videos).toEqual([]);
		});

		it('asks the SFU for a simulcast layer only when the wish for a received camera changes', async () => {
			server.videoProducers = new Set([cameraProducer.producerId]);
			server.producers = [cameraProducer];
			await session.join(CHANNEL);
			const layerRequests = () => server.requests.filter((r) => r.t === 'call.consumer.layers');
			session.preferLayers(new Map([[cameraProducer.producerId, 0]]));
			session.preferLayers(new Map([[cameraProducer.producerId, 0]]));
			// Unknown (not received) producers are ignored.
			session.preferLayers(new Map([['00000000-0000-4000-8000-000000000000', 1]]));
			session.preferLayers(new Map([[cameraProducer.producerId, 2]]));
			await settle();
			expect(layerRequests().map((r) => r.spatialLayer)).toEqual([0, 2]);
			expect(layerRequests()[0]!.consumerId).toEqual(expect.any(String));
		});

		it('receives others’ cameras and screens as videos, and drops them when they stop', async () => {
			server.videoProducers = new Set([cameraProducer.producerId, screenProducer.producerId]);
			server.producers = [otherProducer, cameraProducer];
			await session.join(CHANNEL);
			expect(session.videos).toEqual([expect.objectContaining({ key: cameraProducer.producerId, peerId: 'other-peer', userId: OTHER, source: 'camera', local: false })]);
			expect(played).toHaveLength(1);
			server.push({ t: 'call.producer.new', channelId: CHANNEL, producer: screenProducer as never });
			await settle();
			expect(session.videos.map((v) => v.source)).toEqual(['camera', 'screen']);
			server.push({ t: 'call.producer.closed', channelId: CHANNEL, producerId: screenProducer.producerId });
			expect(session.videos.map((v) => v.source)).toEqual(['camera']);
			// Leaving drops whatever was still received from them.
			server.push({ t: 'call.participant.left', channelId: CHANNEL, peerId: 'other-peer', userId: OTHER });
			expect(session.videos).toEqual([]);
			expect(played).toHaveLength(0);
		});
	});

	describe('speaking, deafen and volume', () => {
		it('marks the participants the server says are speaking, and clears them on silence', async () => {
			await session.join(CHANNEL);
			server.push({ t: 'call.speaking', channelId: CHANNEL, peerIds: ['other-peer'] });
			expect(session.participants.map((p) => [p.peerId, p.speaking])).toEqual([
				['me-peer', false],
				['other-peer', true]
			]);
			server.push({ t: 'call.speaking', channelId: CHANNEL, peerIds: [] });
			expect(session.participants.every((p) => !p.speaking)).toBe(true);
		});

		it('keeps the active speaker through silence and while they talk over others; not oneself; cleared when they leave', async () => {
			await session.join(CHANNEL);
			server.push({ t: 'call.participant.joined', channelId: CHANNEL, participant: { peerId: 'p3', userId: '55555555-5555-4555-8555-555555555555', deviceId: null, mutedByModerator: false } });
			expect(session.activeSpeaker).toBeNull();
			server.push({ t: 'call.speaking', channelId: CHANNEL, peerIds: ['me-peer'] });
			expect(session.activeSpeaker).toBeNull();
			server.push({ t: 'call.speaking', channelId: CHANNEL, peerIds: ['me-peer', 'other-peer'] });
			expect(session.activeSpeaker).toBe('other-peer');
			server.push({ t: 'call.speaking', channelId: CHANNEL, peerIds: [] });
			expect(session.activeSpeaker).toBe('other-peer');
			server.push({ t: 'call.speaking', channelId: CHANNEL, peerIds: ['other-peer', 'p3'] });
			expect(session.activeSpeaker).toBe('other-peer');
			server.push({ t: 'call.speaking', channelId: CHANNEL, peerIds: ['p3'] });
			expect(session.activeSpeaker).toBe('p3');
			server.push({ t: 'call.participant.left', channelId: CHANNEL, peerId: 'p3', userId: '55555555-5555-4555-8555-555555555555' });
			expect(session.activeSpeaker).toBeNull();
		});

		it('deafening silences every received stream and the microphone; undeafening restores both as they were', async () => {
			browser.microphone = () => fakeTrack('audio', 'mic');
			server.producers = [otherProducer];
			await session.join(CHANNEL);
			expect(session.muted).toBe(false);
			await session.toggleDeafen();
			expect(session.deafened).toBe(true);
			expect(session.muted).toBe(true);
			expect(played.map((p) => p.volume)).toEqual([0]);
			expect(server.types().at(-1)).toBe('call.producer.pause');
			// A stream that starts while deafened is silent too.
			const another = { ...otherProducer, producerId: '88888888-8888-4888-8888-888888888888', source: 'screen-audio' };
			server.push({ t: 'call.producer.new', channelId: CHANNEL, producer: another as never });
			await settle();
			expect(played.map((p) => p.volume)).toEqual([0, 0]);

			await session.toggleDeafen();
			expect(session.deafened).toBe(false);
			expect(session.muted).toBe(false);
			expect(played.map((p) => p.volume)).toEqual([1, 1]);
			expect(server.types().at(-1)).toBe('call.producer.resume');
		});

		it('undeafening leaves a microphone muted before deafening muted', async () => {
			browser.microphone = () => fakeTrack('audio', 'mic');
			await session.join(CHANNEL);
			await session.toggleMute();
			await session.toggleDeafen();
			await session.toggleDeafen();
			expect(session.muted).toBe(true);
		});

		it('remembers a participant’s volume by user id, for this call and the next', async () => {
			server.producers = [otherProducer];
			await session.join(CHANNEL);
			session.setVolume(OTHER, 0.35);
			expect(played.map((p) => p.volume)).toEqual([0.35]);
			expect(session.participants.find((p) => p.userId === OTHER)!.volume).toBe(0.35);
			await session.leave();

			const later = new CallSession({ signalling: server, userId: ME, media, preferences, encryption: encryption() });
			await later.join(CHANNEL);
			expect(later.participants.find((p) => p.userId === OTHER)!.volume).toBe(0.35);
			expect(played.map((p) => p.volume)).toEqual([0.35]);
			later.destroy();
		});
	});

	describe('devices', () => {
		const mics: MediaDevice[] = [
			{ kind: 'audioinput', deviceId: 'usb-mic', label: 'USB microphone' },
			{ kind: 'audioinput', deviceId: 'default', label: 'Default' }
		];

		it('uses the chosen microphone, switches a live one at once, and falls back to the default when it is unplugged', async () => {
			browser.microphone = () => fakeTrack('audio', 'mic');
			browser.devices = mics;
			await session.chooseDevice('microphone', 'usb-mic');
			await session.join(CHANNEL);
			expect(browser.asked).toEqual(['microphone:usb-mic']);
			await settle();
			expect(session.devices.microphones.map((d) => d.deviceId)).toEqual(['usb-mic', 'default']);

			browser.devices = mics.slice(1);
			for (const listener of browser.deviceChange) listener();
			await settle();
			expect(browser.asked).toEqual(['microphone:usb-mic', 'microphone:null']);
			expect(session.devices.microphones.map((d) => d.deviceId)).toEqual(['default']);
			// No new producer: the track was replaced in the one the others already receive.
			expect(server.types().filter((t) => t === 'call.produce')).toHaveLength(1);
		});

		it('plays received audio on the chosen speaker', async () => {
			server.producers = [otherProducer];
			await session.join(CHANNEL);
			await session.chooseDevice('speaker', 'headphones');
			expect(played.map((p) => p.sink)).toEqual(['headphones']);
		});

		it('where speakers come from the browser’s own prompt (Firefox), plays on the one picked there and lists it; a cancelled prompt changes nothing', async () => {
			expect(session.canPromptForSpeaker).toBe(false);
			let answer: () => Promise<MediaDevice> = async () => {
				throw Object.assign(new Error('cancelled'), { name: 'NotAllowedError' });
			};
			const firefox = new CallSession({ signalling: server, userId: ME, media: { ...media, promptForSpeaker: () => answer() }, preferences, encryption: encryption() });
			try {
				expect(firefox.canPromptForSpeaker).toBe(true);
				server.producers = [otherProducer];
				await firefox.join(CHANNEL);
				await firefox.promptForSpeaker();
				expect(firefox.selected.speaker).toBeNull();
				expect(played.map((p) => p.sink)).toEqual([null]);

				const headset: MediaDevice = { kind: 'audiooutput', deviceId: 'usb-headset', label: 'USB headset' };
				answer = async () => {
					browser.devices = [headset];
					return headset;
				};
				await firefox.promptForSpeaker();
				expect(firefox.selected.speaker).toBe('usb-headset');
				expect(firefox.devices.speakers).toEqual([headset]);
				expect(played.map((p) => p.sink)).toEqual(['usb-headset']);

				answer = async () => {
					throw Object.assign(new Error('none'), { name: 'NotFoundError' });
				};
				await expect(firefox.promptForSpeaker()).rejects.toThrow('No speaker or headset found. Connect one, then choose it again.');
				expect(firefox.selected.speaker).toBe('usb-headset');
			} finally {
				firefox.destroy();
			}
		});
	});

	describe('ICE restart', () => {
		const handler = (transport: ms.Transport) => transport.handler as unknown as { setConnectionState(state: string): void };

		it(`restarts ICE on a transport that stays failed for ${ICE_RESTART_AFTER_MS} ms, with the server’s new parameters`, async () => {
			vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'Date'] });
			await session.join(CHANNEL);
			const [recv] = browser.transports;
			const restarted = vi.spyOn(recv!, 'restartIce');
			handler(recv!).setConnectionState('failed');
			expect(session.reconnectingMedia).toBe(true);
			await vi.advanceTimersByTimeAsync(ICE_RESTART_AFTER_MS - 100);
			expect(server.types()).not.toContain('call.transport.restartIce');
			await vi.advanceTimersByTimeAsync(200);
			expect(server.requests.filter((r) => r.t === 'call.transport.restartIce')).toEqual([{ t: 'call.transport.restartIce', transportId: recv!.id }]);
			expect(restarted).toHaveBeenCalledWith({ iceParameters: { usernameFragment: 'new-ufrag', password: 'new-password', iceLite: true } });
			handler(recv!).setConnectionState('connected');
			expect(session.reconnectingMedia).toBe(false);
		});

		it('does not restart a transport that recovers by itself, and rejoins when restarts do not help', async () => {
			vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'Date'] });
			await session.join(CHANNEL);
			const [recv] = browser.transports;
			handler(recv!).setConnectionState('disconnected');
			await vi.advanceTimersByTimeAsync(1_000);
			handler(recv!).setConnectionState('connected');
			await vi.advanceTimersByTimeAsync(ICE_RESTART_AFTER_MS * 2);
			expect(server.types()).not.toContain('call.transport.restartIce');

			handler(recv!).setConnectionState('failed');
			await vi.advanceTimersByTimeAsync(ICE_RESTART_AFTER_MS * 3 + 100);
			await settle();
			expect(server.types().filter((t) => t === 'call.transport.restartIce')).toHaveLength(2);
			expect(server.types().filter((t) => t === 'call.join')).toHaveLength(2);
			expect(session.phase).toBe('connected');
		});
	});
});
