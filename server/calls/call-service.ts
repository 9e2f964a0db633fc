// Calls in voice channels: availability (is there a mediasoup worker?), rooms by channel, and every
// signalling action a participant takes. Handlers in server/realtime/handlers.ts call these after
// the frame was validated; authorization happens here (call-access.ts), as in the domain services.
import type { types } from 'mediasoup';
import { ErrorCode } from '#lib/shared/protocol/codes.ts';
import type { ServerFrameOf } from '#lib/shared/protocol/frames.ts';
import type { AppContext, CallsStatus } from '#lib/server/context.ts';
import type { BusNotice } from '#lib/server/events/bus.ts';
import { AppError, conflict, invalid, notFound } from '#lib/server/errors.ts';
import { safeError, type Logger } from '#lib/server/logger.ts';
import { accessCall, callDevice, requireCallModerator } from './call-access.ts';
import { CallRemovals, type SharedCallRemovals } from './call-removals.ts';
import { CallPeer, CallRoom, type CallConnection, type MediaSource, type ProducerEntry } from './call-room.ts';
import { iceServersFor } from './turn-credentials.ts';
import { tapProducer } from './test-tap.ts';
import { resolveWorkerBin } from './worker-bin.ts';
import { CallWorkerPool } from './worker-pool.ts';

// Opus for voice, VP8 for camera and screen (every browser decodes it; H.264 profiles differ
// between browsers and would need per-client negotiation).
export const MEDIA_CODECS: types.RouterRtpCodecCapability[] = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } }
];
// mic, camera, screen and its audio: one producer per source.
const MAX_PRODUCERS_PER_PEER = 4;

export const callsUnavailable = (reason: string) => new AppError(503, ErrorCode.unavailable, `Calls are unavailable on this server: ${reason}`);
const notInCall = () => new AppError(409, ErrorCode.notInCall, 'Join a call first.');
const callFull = (max: number) => new AppError(409, ErrorCode.callFull, `This call is full (${max} participants).`);
const removedFromCall = (seconds: number) =>
	new AppError(403, ErrorCode.removedFromCall, `A moderator removed you from this call. You can rejoin in ${seconds} s.`);

type Membership = { room: CallRoom; peer: CallPeer };

/** Objects the worker processes themselves hold (from their dumps, not our bookkeeping). */
export type WorkerObjectCounts = { workers: number; routers: number; transports: number; producers: number; consumers: number };

export class CallService implements CallsStatus {
	readonly #app: AppContext;
	readonly #log: Logger;
	readonly #pool: CallWorkerPool | null;
	readonly #unavailableReason: string | null;
	readonly #rooms = new Map<string, CallRoom>();
	readonly #opening = new Map<string, Promise<CallRoom>>();
	readonly #memberships = new Map<string, Membership>();
	readonly #joining = new Set<string>();
	readonly #removals = new CallRemovals();
	/** Cluster mode: the removals of every node (server/calls/cluster-calls.ts). */
	#sharedRemovals: SharedCallRemovals | null = null;
	readonly #unsubscribe: () => void;

	private constructor(app: AppContext, pool: CallWorkerPool | null, unavailableReason: string | null) {
		this.#app = app;
		this.#log = app.log.child({ component: 'calls' });
		this.#pool = pool;
		this.#unavailableReason = unavailableReason;
		this.#unsubscribe = pool ? app.bus.subscribe((notice) => this.#onNotice(notice)) : () => {};
	}

	/** Access can end while someone is in a call: leaving (or deleting) the community ends it for them. */
	#onNotice(notice: BusNotice): void {
		if (notice.type === 'membership' && notice.change === 'left') {
			for (const { room, peer } of [...this.#memberships.values()]) {
				if (room.communityId === notice.communityId && peer.userId === notice.userId) this.leave(peer.conn, { reason: 'access_lost', rejoin: false });
			}
		} else if (notice.type === 'community.deleted') {
			for (const room of [...this.#rooms.values()]) if (room.communityId === notice.communityId) this.#endRoom(room, 'access_lost', false);
		}
	}

	/** Never throws: without a usable worker the server runs and reports calls as unavailable. */
	static async start(app: AppContext): Promise<CallService> {
		const log = app.log.child({ component: 'calls' });
		const config = app.config.calls;
		// mediasoup would announce the wildcard itself as the media address, which no browser can use:
		// calls would connect their signalling and then carry no sound. Say so instead (log, /health).
		if ((config.listenIp === '0.0.0.0' || config.listenIp === '::') && !config.announcedAddress) {
			const reason = `CALL_LISTEN_IP=${config.listenIp} needs CALL_ANNOUNCED_ADDRESS: the public IP or host name browsers send media to`;
			log.warn({ reason }, 'calls unavailable');
			return new CallService(app, null, reason);
		}
		if (config.workers === 0) {
			const reason = 'CALL_WORKERS=0: this node runs no calls';
			log.info({ reason }, 'calls unavailable');
			return new CallService(app, null, reason);
		}
		const bin = resolveWorkerBin(config.workerBin);
		if (!bin.ok) {
			log.warn({ reason: bin.reason }, 'calls unavailable');
			return new CallService(app, null, bin.reason);
		}
		try {
			const pool = await CallWorkerPool.start(config, bin.path, log);
			log.info({ workers: pool.size, workerBin: bin.path, source: bin.source, listenIp: config.listenIp, announced: config.announcedAddress ?? null, port: config.port }, 'calls available');
			return new CallService(app, pool, null);
		} catch (error) {
			const reason = `the mediasoup worker ${bin.path} failed to start (${safeError(error).message})`;
			log.warn({ reason }, 'calls unavailable');
			return new CallService(app, null, reason);
		}
	}

	get available(): boolean {
		return this.#pool !== null;
	}

	status() {
		const counts = this.counts();
		return this.#pool
			? { available: true as const, workers: this.#pool.workers().length, calls: counts.calls, participants: counts.participants }
			: { available: false as const, reason: this.#unavailableReason ?? 'unknown' };
	}

	/** The preflight line. */
	describe(): string {
		if (!this.#pool) return `unavailable: ${this.#unavailableReason}`;
		const config = this.#app.config.calls;
		const ports = config.port === 0 ? 'free ports' : `UDP+TCP ${config.port}${this.#pool.size > 1 ? `-${config.port + this.#pool.size - 1}` : ''}`;
		return `${this.#pool.size} mediasoup worker(s), ${ports} on ${config.listenIp}, announced ${config.announcedAddress ?? '(listen address)'}, max ${config.maxParticipants} per call`;
	}

	/** The channels whose call lives on this node (cluster mode renews their placement). */
	channelsWithCalls(): string[] {
		return [...this.#rooms.keys()];
	}

	counts(): { calls: number; participants: number; producers: number; consumers: number } {
		let participants = 0;
		let producers = 0;
		let consumers = 0;
		for (const room of this.#rooms.values()) {
			for (const peer of room.peers.values()) {
				participants += 1;
				producers += peer.producers.size;
				consumers += peer.consumers.size;
			}
		}
		return { calls: this.#rooms.size, participants, producers, consumers };
	}

	/** What the workers report holding: the leak check (tests, metrics) looks here, not at our maps. */
	async workerObjectCounts(): Promise<WorkerObjectCounts> {
		const counts: WorkerObjectCounts = { workers: 0, routers: 0, transports: 0, producers: 0, consumers: 0 };
		for (const room of this.#rooms.values()) {
			if (room.router.closed) continue;
			const dump = await room.router.dump().catch(() => null);
			if (!dump) continue;
			counts.transports += dump.transportIds.length;
			counts.producers += dump.mapProducerIdConsumerIds.length;
			counts.consumers += dump.mapConsumerIdProducerId.length;
		}
		for (const slot of this.#pool?.workers() ?? []) {
			const dump = await slot.worker.dump().catch(() => null);
			if (!dump) continue;
			counts.workers += 1;
			counts.routers += dump.routerIds.length;
		}
		return counts;
	}

	/** Per-worker CPU seconds (user + system) from getrusage in the worker. */
	async workerCpuSeconds(): Promise<{ worker: number; seconds: number }[]> {
		const result: { worker: number; seconds: number }[] = [];
		for (const slot of this.#pool?.workers() ?? []) {
			const usage = await slot.worker.getResourceUsage().catch(() => null);
			if (usage) result.push({ worker: slot.index, seconds: (usage.ru_utime + usage.ru_stime) / 1000 });
		}
		return result;
	}

	/** Cluster mode: removals are also written to, and read from, the shared store. */
	shareRemovals(store: SharedCallRemovals): void {
		this.#sharedRemovals = store;
	}

	#membership(conn: CallConnection): Membership {
		const membership = this.#memberships.get(conn.id);
		if (!membership || membership.peer.closed) throw notInCall();
		return membership;
	}

	// --- joining and leaving ----------------------------------------------------------------

	async join(conn: CallConnection, channelId: string) {
		// Authorization first: whether this server has calls is no answer to someone who may not see the channel.
		const access = await accessCall(this.#app.database.db, conn.userId, channelId);
		if (!this.#pool) throw callsUnavailable(this.#unavailableReason ?? 'unknown');
		if (this.#joining.has(conn.id)) throw conflict('Already joining a call.');
		this.#joining.add(conn.id);
		try {
			const current = this.#memberships.get(conn.id);
			if (current?.room.channelId === channelId) throw conflict('Already in this call.');
			if (current) this.leave(conn);
			// The admin's ICE settings at this moment (no restart); the secret and TTL stay the environment's.
			// Read before the room opens so nothing is awaited between the capacity check and taking the seat.
			const iceServers = iceServersFor({ ...this.#app.config.calls, ...(await this.#app.services.instance.iceUrls()) }, conn.userId);
			// A removal made on the node that held this call before (it died, the call re-formed here).
			if (this.#sharedRemovals) this.#removals.adopt(channelId, conn.userId, await this.#sharedRemovals.msLeft(channelId, conn.userId));
			const deviceId = await callDevice(this.#app.database.db, conn.sessionId);
			const room = await this.#openRoom(channelId, access.channel.communityId!);
			if (conn.closed) {
				this.#closeIfEmpty(room);
				return null;
			}
			// Checked here, after the last await, so a removal while this join was under way counts too.
			const removedFor = this.#removals.secondsLeft(channelId, conn.userId);
			if (removedFor > 0) {
				this.#closeIfEmpty(room);
				throw removedFromCall(removedFor);
			}
			const max = this.#app.config.calls.maxParticipants;
			if (room.peers.size >= max) {
				this.#closeIfEmpty(room);
				throw callFull(max);
			}
			const peer = new CallPeer(conn, deviceId);
			const others = [...room.peers.values()].map((p) => p.view());
			const producers = room.producers();
			room.peers.set(peer.id, peer);
			this.#memberships.set(conn.id, { room, peer });
			room.broadcast({ t: 'call.participant.joined', channelId, participant: peer.view() }, peer.id);
			room.log.debug({ peer: peer.id, user: peer.userId }, 'peer joined');
			return {
				channelId,
				callId: room.callId,
				peerId: peer.id,
				deviceId,
				rtpCapabilities: room.router.rtpCapabilities,
				participants: others,
				producers,
				iceServers
			};
		} finally {
			this.#joining.delete(conn.id);
		}
	}

	/** One router per channel, created once even when several people join an empty call at once. */
	async #openRoom(channelId: string, communityId: string): Promise<CallRoom> {
		for (;;) {
			const existing = this.#rooms.get(channelId);
			if (existing && !existing.closed) return existing;
			let opening = this.#opening.get(channelId);
			if (!opening) {
				opening = this.#createRoom(channelId, communityId).finally(() => this.#opening.delete(channelId));
				this.#opening.set(channelId, opening);
			}
			const room = await opening;
			if (!room.closed) return room;
		}
	}

	async #createRoom(channelId: string, communityId: string): Promise<CallRoom> {
		const slot = this.#pool!.pick();
		if (!slot) throw callsUnavailable('no media worker is running (one is being restarted); retry in a moment');
		slot.routers += 1;
		let router: types.Router;
		try {
			router = await slot.worker.createRouter({ mediaCodecs: MEDIA_CODECS });
		} catch (error) {
			slot.routers -= 1;
			throw error;
		}
		const room = new CallRoom({ channelId, communityId, router, slot, log: this.#log.child({ call: channelId, worker: slot.index }) });
		try {
			await room.observeSpeakers();
		} catch (error) {
			router.close();
			slot.routers -= 1;
			throw error;
		}
		this.#rooms.set(channelId, room);
		router.observer.once('close', () => {
			slot.routers -= 1;
			if (this.#rooms.get(channelId) === room) this.#rooms.delete(channelId);
		});
		// The worker died: everyone in the call rejoins, landing on a live worker.
		router.once('workerclose', () => this.#endRoom(room, 'server_error', true));
		room.log.info('call started');
		return room;
	}

	/**
	 * Cluster mode: this channel's call belongs on another node (two formed while Redis was away).
	 * Everyone in it here is told to rejoin, which lands them in the other one.
	 */
	endForRejoin(channelId: string): void {
		const room = this.#rooms.get(channelId);
		if (room) this.#endRoom(room, 'server_error', true);
	}

	#endRoom(room: CallRoom, reason: ServerFrameOf<'call.ended'>['reason'], rejoin: boolean): void {
		for (const peer of room.peers.values()) this.#memberships.delete(peer.id);
		room.close(reason, rejoin);
		room.log.info({ reason }, 'call ended');
	}

	/** An empty room is closed on the next tick, unless a join took it meanwhile. */
	#closeIfEmpty(room: CallRoom): void {
		setImmediate(() => {
			if (room.closed || room.peers.size > 0 || this.#opening.has(room.channelId)) return;
			room.close('shutdown', false);
			room.log.info('call ended: empty');
		});
	}

	/** Leaves the current call, if any: frees every transport, producer and consumer of this peer. */
	leave(conn: CallConnection, ended?: { reason: ServerFrameOf<'call.ended'>['reason']; rejoin: boolean }): boolean {
		const membership = this.#memberships.get(conn.id);
		if (!membership) return false;
		const { room, peer } = membership;
		this.#memberships.delete(conn.id);
		room.peers.delete(peer.id);
		peer.close();
		if (ended) conn.send({ t: 'call.ended', channelId: room.channelId, reason: ended.reason, rejoin: ended.rejoin });
		room.broadcast({ t: 'call.participant.left', channelId: room.channelId, peerId: peer.id, userId: peer.userId });
		room.log.debug({ peer: peer.id, user: peer.userId }, 'peer left');
		if (room.peers.size === 0) this.#closeIfEmpty(room);
		return true;
	}

	/** The socket closed (or died): the peer leaves as if it had said so. */
	connectionClosed(conn: CallConnection): void {
		this.leave(conn);
	}

	// --- transports, producers, consumers -------------------------------------------------------

	async createTransport(conn: CallConnection, direction: 'send' | 'recv') {
		const { room, peer } = this.#membership(conn);
		// One transport per direction (what mediasoup-client uses); asking again replaces the old one,
		// which is how a client recovers a transport that failed.
		for (const old of peer.transports.values()) if (old.appData.direction === direction) old.close();
		const transport = await room.router.createWebRtcTransport({
			webRtcServer: room.slot.webRtcServer,
			enableUdp: true,
			enableTcp: true,
			preferUdp: true,
			appData: { direction }
		});
		if (peer.closed) {
			transport.close();
			throw notInCall();
		}
		peer.transports.set(transport.id, transport);
		transport.observer.once('close', () => peer.transports.delete(transport.id));
		transport.on('dtlsstatechange', (state) => {
			if (state === 'closed') transport.close();
		});
		return {
			transportId: transport.id,
			iceParameters: transport.iceParameters,
			iceCandidates: transport.iceCandidates,
			dtlsParameters: transport.dtlsParameters
		};
	}

	#transport(peer: CallPeer, transportId: string, direction?: 'send' | 'recv'): types.WebRtcTransport {
		const transport = peer.transports.get(transportId);
		if (!transport || (direction && transport.appData.direction !== direction)) throw notFound('Transport');
		return transport;
	}

	async connectTransport(conn: CallConnection, transportId: string, dtlsParameters: Record<string, unknown>): Promise<void> {
		const { peer } = this.#membership(conn);
		const transport = this.#transport(peer, transportId);
		await mediasoupCall(() => transport.connect({ dtlsParameters: dtlsParameters as unknown as types.DtlsParameters }));
	}

	async produce(conn: CallConnection, input: { transportId: string; kind: 'audio' | 'video'; source: MediaSource; rtpParameters: Record<string, unknown> }) {
		const { room, peer } = this.#membership(conn);
		const transport = this.#transport(peer, input.transportId, 'send');
		if (peer.producers.size >= MAX_PRODUCERS_PER_PEER) throw conflict(`At most ${MAX_PRODUCERS_PER_PEER} streams per participant.`);
		if ([...peer.producers.values()].some((entry) => entry.source === input.source)) throw conflict(`Already sending ${input.source}; close that stream first.`);
		if (expectedKind(input.source) !== input.kind) throw invalid(`A ${input.source} stream must be ${expectedKind(input.source)}.`);
		const producer = await mediasoupCall(() =>
			transport.produce({
				kind: input.kind,
				rtpParameters: input.rtpParameters as unknown as types.RtpParameters,
				paused: input.source === 'mic' && peer.mutedByModerator,
				appData: { source: input.source, peerId: peer.id }
			})
		);
		// Microphones feed the speaking indicator (a closed producer leaves the observer by itself).
		if (input.source === 'mic' && room.audioLevels) await room.audioLevels.addProducer({ producerId: producer.id }).catch(() => {});
		const entry: ProducerEntry = { producer, source: input.source };
		peer.producers.set(producer.id, entry);
		producer.observer.once('close', () => {
			peer.producers.delete(producer.id);
			if (!room.closed) room.broadcast({ t: 'call.producer.closed', channelId: room.channelId, producerId: producer.id }, peer.id);
		});
		room.broadcast({ t: 'call.producer.new', channelId: room.channelId, producer: peer.producerView(entry) }, peer.id);
		const tapPort = this.#app.config.calls.testTapPort;
		if (tapPort) void tapProducer(room.router, producer, { peerId: peer.id, userId: peer.userId }, tapPort, room.log);
		return { producerId: producer.id, paused: producer.paused };
	}

	/** New ICE credentials for a transport whose connection failed; the browser restarts ICE with them. */
	async restartIce(conn: CallConnection, transportId: string): Promise<{ iceParameters: types.IceParameters }> {
		const { room, peer } = this.#membership(conn);
		const transport = this.#transport(peer, transportId);
		const iceParameters = await transport.restartIce();
		// Worth a line: a peer whose media keeps failing shows up here before it rejoins.
		room.log.info({ peer: peer.id, transport: transport.id, direction: transport.appData.direction }, 'ICE restart');
		return { iceParameters };
	}

	#producer(peer: CallPeer, producerId: string): ProducerEntry {
		const entry = peer.producers.get(producerId);
		if (!entry) throw notFound('Producer');
		return entry;
	}

	closeProducer(conn: CallConnection, producerId: string): void {
		const { peer } = this.#membership(conn);
		this.#producer(peer, producerId).producer.close();
	}

	async setProducerPaused(conn: CallConnection, producerId: string, paused: boolean): Promise<void> {
		const { room, peer } = this.#membership(conn);
		const entry = this.#producer(peer, producerId);
		if (!paused && entry.source === 'mic' && peer.mutedByModerator) throw new AppError(403, ErrorCode.forbidden, 'A moderator muted you in this call.');
		if (paused) await entry.producer.pause();
		else await entry.producer.resume();
		room.broadcast({ t: 'call.producer.paused', channelId: room.channelId, producerId, paused }, peer.id);
	}

	async consume(conn: CallConnection, input: { transportId: string; producerId: string; rtpCapabilities: Record<string, unknown> }) {
		const { room, peer } = this.#membership(conn);
		const transport = this.#transport(peer, input.transportId, 'recv');
		const owner = [...room.peers.values()].find((p) => p.producers.has(input.producerId));
		if (!owner || owner === peer) throw notFound('Producer');
		const rtpCapabilities = input.rtpCapabilities as unknown as types.RtpCapabilities;
		if (!room.router.canConsume({ producerId: input.producerId, rtpCapabilities })) {
			throw invalid('This device cannot decode that stream (no common codec).');
		}
		// Paused until the client has set up its side (call.consumer.resume), so no keyframe is lost.
		const consumer = await mediasoupCall(() => transport.consume({ producerId: input.producerId, rtpCapabilities, paused: true }));
		peer.consumers.set(consumer.id, consumer);
		consumer.observer.once('close', () => peer.consumers.delete(consumer.id));
		return { consumerId: consumer.id, producerId: input.producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
	}

	async resumeConsumer(conn: CallConnection, consumerId: string): Promise<void> {
		const { peer } = this.#membership(conn);
		const consumer = peer.consumers.get(consumerId);
		if (!consumer) throw notFound('Consumer');
		await consumer.resume();
	}

	/** Caps a simulcast consumer at a spatial layer (thumbnails need the smallest); other consumers have one layer and ignore it. */
	async setPreferredLayers(conn: CallConnection, consumerId: string, spatialLayer: number): Promise<{ preferredLayers: types.ConsumerLayers | null }> {
		const { peer } = this.#membership(conn);
		const consumer = peer.consumers.get(consumerId);
		if (!consumer) throw notFound('Consumer');
		if (consumer.type === 'simulcast' || consumer.type === 'svc') await consumer.setPreferredLayers({ spatialLayer });
		return { preferredLayers: consumer.preferredLayers ?? null };
	}

	// --- moderation -----------------------------------------------------------------------------

	async moderate(conn: CallConnection, input: { channelId: string; userId: string; action: 'mute' | 'unmute' | 'remove' }): Promise<void> {
		const access = await accessCall(this.#app.database.db, conn.userId, input.channelId);
		requireCallModerator(access, input.action);
		const room = this.#rooms.get(input.channelId);
		const targets = room ? [...room.peers.values()].filter((peer) => peer.userId === input.userId) : [];
		if (!room || targets.length === 0) throw notFound('Participant');
		if (input.action === 'remove') {
			this.#removals.remove(input.channelId, input.userId);
			this.#sharedRemovals?.remember(input.channelId, input.userId, this.#removals.cooldownMs);
		}
		for (const peer of targets) {
			if (input.action === 'remove') {
				this.leave(peer.conn, { reason: 'removed', rejoin: false });
				continue;
			}
			const muted = input.action === 'mute';
			peer.mutedByModerator = muted;
			peer.conn.send({ t: 'call.muted', channelId: room.channelId, muted });
			if (!muted) continue;
			for (const entry of peer.producers.values()) {
				if (entry.source !== 'mic' || entry.producer.paused) continue;
				await entry.producer.pause();
				room.broadcast({ t: 'call.producer.paused', channelId: room.channelId, producerId: entry.producer.id, paused: true }, peer.id);
			}
		}
		room.log.info({ moderator: conn.userId, target: input.userId, action: input.action }, 'call moderation');
	}

	close(): void {
		this.#unsubscribe();
		for (const room of [...this.#rooms.values()]) this.#endRoom(room, 'shutdown', true);
		this.#pool?.close();
	}
}

function expectedKind(source: MediaSource): 'audio' | 'video' {
	return source === 'mic' || source === 'screen-audio' ? 'audio' : 'video';
}

/** mediasoup refuses malformed parameters with TypeError: that is the client's mistake (invalid), not ours. */
async function mediasoupCall<T>(action: () => Promise<T>): Promise<T> {
	try {
		return await action();
	} catch (error) {
		if (error instanceof TypeError || (error instanceof Error && /invalid|missing|unsupported|wrong/i.test(error.message))) {
			throw invalid(`The media parameters were refused: ${error.message.slice(0, 200)}`);
		}
		throw error;
	}
}
