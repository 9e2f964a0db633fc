// The browser's call state machine (CallSession) with mediasoup-client's own FakeHandler in place of
// WebRTC and a scripted server: the order of signalling requests, that answers to a superseded
// attempt are ignored, pushes from the server, and the bounded automatic rejoin.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Device, FakeHandler, testFakeParameters } from 'mediasoup-client';
import { CallSession, type CallMedia, type CallSignalling } from '#lib/client/calls/call-session.svelte.ts';
import { RequestFailed } from '#lib/client/realtime/connection.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';

const CHANNEL = '11111111-1111-4111-8111-111111111111';
const ME = '22222222-2222-4222-8222-222222222222';
const OTHER = '33333333-3333-4333-8333-333333333333';

type Request = { t: string } & Record<string, unknown>;

/** A server that answers each request type from a script, recording what was asked. */
class ScriptedServer implements CallSignalling {
	readonly requests: Request[] = [];
	readonly listeners = { frame: new Set<(f: ServerFrame) => void>(), ready: new Set<() => void>() };
	/** Requests of these types wait until release() is called. */
	held = new Map<string, Array<() => void>>();
	hold = new Set<string>();
	fail = new Map<string, RequestFailed>();
	producers: unknown[] = [];

	request = (async (frame: Request) => {
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
					peerId: 'me-peer',
					rtpCapabilities: testFakeParameters.generateRouterRtpCapabilities(),
					participants: [{ peerId: 'other-peer', userId: OTHER, mutedByModerator: false }],
					producers: this.producers,
					iceServers: []
				};
			case 'call.transport.create': {
				const { id, iceParameters, iceCandidates, dtlsParameters } = testFakeParameters.generateTransportRemoteParameters();
				return { transportId: id, iceParameters, iceCandidates, dtlsParameters };
			}
			case 'call.consume': {
				const { id, producerId, kind, rtpParameters } = testFakeParameters.generateConsumerRemoteParameters({ codecMimeType: 'audio/opus' });
				return { consumerId: id, producerId: producerId ?? frame.producerId, kind, rtpParameters };
			}
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

const played: unknown[] = [];
const media: CallMedia = {
	async createDevice() {
		return new Device({ handlerFactory: FakeHandler.createFactory(testFakeParameters) });
	},
	async microphone() {
		// No microphone in Node: the session joins listen-only, as with a denied permission.
		throw Object.assign(new Error('denied'), { name: 'NotAllowedError' });
	},
	play(track) {
		played.push(track);
		return () => played.splice(played.indexOf(track), 1);
	}
};

const otherProducer = { producerId: '44444444-4444-4444-8444-444444444444', peerId: 'other-peer', userId: OTHER, kind: 'audio', source: 'mic', paused: false };

async function settle() {
	for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('CallSession', () => {
	let server: ScriptedServer;
	let session: CallSession;
	beforeEach(() => {
		played.length = 0;
		server = new ScriptedServer();
		session = new CallSession({ signalling: server, userId: ME, media });
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
		expect(session.error).toBe('Microphone access is blocked: allow it in the browser (address bar) to speak. You can still listen.');
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
		expect(session.error).toBe('This call is full (25 participants).');
	});

	it('follows participants and producers pushed by the server', async () => {
		await session.join(CHANNEL);
		server.push({ t: 'call.participant.joined', channelId: CHANNEL, participant: { peerId: 'p3', userId: '55555555-5555-4555-8555-555555555555', mutedByModerator: false } });
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

	it('joins again on the new socket after /ws reconnected (the server dropped the old peer)', async () => {
		await session.join(CHANNEL);
		for (const listener of server.listeners.ready) listener();
		await settle();
		expect(server.types().filter((t) => t === 'call.join')).toHaveLength(2);
		expect(session.phase).toBe('connected');
	});
});
