// `npm run bench:calls`: the calls benchmark (issue 4). No browser: Node plays the participants.
//
// Part 1, join time through the real signalling. The built Hearth server runs as a child process
// on a freshly seeded database (one voice channel, one session per participant; bench/seed.ts) with
// one mediasoup worker. Participants join one after another over /ws, each doing what
// mediasoup-client does: call.join → send and receive transports → produce microphone and camera →
// consume every producer already in the call → resume. Join time is call.join sent → first
// consumer resumed (ready to play), and → every consumer resumed. Those already in the call consume
// the newcomer's two producers (call.producer.new) before the next one joins. Side by side, the
// same steps run directly against a bare mediasoup worker and router in this process (no /ws, no
// authorization, no database): the floor the SFU itself sets. No media flows in this part: mediasoup
// accepts produce/consume before ICE/DTLS connect, and Node has no WebRTC stack to complete them.
//
// Part 2, media load, directly against Hearth's worker pool (server/calls/worker-pool.ts) and
// Hearth's router codecs. Hearth's signalling only creates WebRtcTransports (ICE + DTLS + SRTP),
// which a Node process cannot drive without a WebRTC implementation; adding PlainTransport frames to
// the product for a bench would open an unauthenticated-media path. So here every participant gets
// a PlainTransport to send on (RTP from bench/calls-rtp.ts: Opus-sized audio at 50 packets/s, VP8
// frames at 30 fps with periodic key frames) and one to receive on, whose consumers send to a UDP
// sink in this process that counts packets per consumer SSRC. Forwarding RTP from a producer to a
// consumer is the same work in the worker for both transport types; SRTP encryption (WebRTC only)
// is not included and is reported as such. For each call size (default 5, 10, 25, side by side):
// worker CPU with producers only, then with every participant receiving every other's audio and
// video (N·(N−1) audio + N·(N−1) video consumers), from the worker's own getrusage
// (getResourceUsage ru_utime + ru_stime); per consumer = the difference / consumers. Every
// consumer must show its byteCount growing (consumer.getStats) and its packets at the sink.
//
// Results: bench/results/calls-<time>.json (not in git) and a table on stdout. See bench/README.md.
import { fork, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, homedir, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import WebSocket from 'ws';
import { createLogger } from '#lib/server/logger.ts';
import type { CallsConfig } from '#lib/server/config/config.ts';
import { MEDIA_CODECS } from '../server/calls/call-service.ts';
import { resolveWorkerBin } from '../server/calls/worker-bin.ts';
import { CallWorkerPool } from '../server/calls/worker-pool.ts';
import type { RtpChildMessage, RtpParentMessage, RtpSender } from './calls-rtp.ts';
import { Histogram } from './histogram.ts';
import { parseOptions as parseRealtimeOptions } from './options.ts';
import { loadAverage, machineCpu } from './proc.ts';
import { ROOT, startHearth, type RunningServer } from './servers.ts';

const USAGE = `Usage: node bench/calls.ts [options]   (or: npm run bench:calls -- [options])
  --join-participants N  participants joining one call in part 1              (default 25)
  --sizes A,B,C          call sizes of part 2 (media), side by side           (default 5,10,25)
  --warmup S             seconds of media before each measured window         (default 3)
  --window S             seconds per measured window                          (default 10)
  --audio-kbps K         each microphone's bitrate incl. RTP header            (default 32)
  --video-kbps K         each camera's bitrate                                (default 500)
  --skip-join            part 2 only     --skip-media   part 1 only
  --skip-browser         without part 3 (encryption in Chromium, bench/calls-encryption.ts)
  --out DIR              where the JSON goes                                  (default bench/results)
The worker: MEDIASOUP_WORKER_BIN, else ~/.cache/hearth/mediasoup-worker, else node_modules/mediasoup.`;

const log = (text: string) => console.error(text);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const round = (value: number, digits = 1) => Number(value.toFixed(digits));
// Where the tests and this machine keep a worker built outside the repository (docs/calls.md).
const CACHED_WORKER_BIN = join(homedir(), '.cache/hearth/mediasoup-worker');
const METRICS_TOKEN = 'b3c1a7e9d5f2084c6a1e3b5d7f9c2e4a6b8d0f1e3c5a7b9d2f4e6a8c0b1d3e5f';
const OPUS_PT = 111;
const VP8_PT = 96;
const VP8_FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }];

type Options = {
	joinParticipants: number;
	sizes: number[];
	warmupSeconds: number;
	windowSeconds: number;
	audioKbps: number;
	videoKbps: number;
	skipJoin: boolean;
	skipMedia: boolean;
	skipBrowser: boolean;
	outDir: string;
};

function parseOptions(argv: string[]): Options | 'help' {
	const { values } = parseArgs({
		args: argv,
		strict: true,
		options: {
			'join-participants': { type: 'string' },
			sizes: { type: 'string' },
			warmup: { type: 'string' },
			window: { type: 'string' },
			'audio-kbps': { type: 'string' },
			'video-kbps': { type: 'string' },
			'skip-join': { type: 'boolean' },
			'skip-media': { type: 'boolean' },
			'skip-browser': { type: 'boolean' },
			out: { type: 'string' },
			help: { type: 'boolean', short: 'h' }
		}
	});
	if (values.help) return 'help';
	const positive = (name: string, text: string | undefined, fallback: number) => {
		const value = text === undefined ? fallback : Number(text);
		if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
		return value;
	};
	const sizes = (values.sizes ?? '5,10,25').split(',').map((size) => Math.floor(positive('sizes', size, 0)));
	if (sizes.some((size) => size < 2)) throw new Error('--sizes: a call needs at least 2 participants');
	return {
		joinParticipants: Math.max(2, Math.floor(positive('join-participants', values['join-participants'], 25))),
		sizes,
		warmupSeconds: positive('warmup', values.warmup, 3),
		windowSeconds: positive('window', values.window, 10),
		audioKbps: positive('audio-kbps', values['audio-kbps'], 32),
		videoKbps: positive('video-kbps', values['video-kbps'], 500),
		skipJoin: values['skip-join'] ?? false,
		skipMedia: values['skip-media'] ?? false,
		skipBrowser: values['skip-browser'] ?? false,
		outDir: values.out ?? 'bench/results'
	};
}

// --- what a browser declares (mediasoup-client derives the same from its SDP) -------------------

let nextSsrc = 10_000;
function audioRtpParameters(ssrc = nextSsrc++): types.RtpParameters {
	return {
		codecs: [{ mimeType: 'audio/opus', payloadType: OPUS_PT, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1, minptime: 10 }, rtcpFeedback: [{ type: 'transport-cc' }] }],
		encodings: [{ ssrc, dtx: false }],
		rtcp: { cname: `bench-${ssrc}`, reducedSize: true }
	};
}
function videoRtpParameters(ssrc = nextSsrc++): types.RtpParameters {
	return {
		codecs: [{ mimeType: 'video/VP8', payloadType: VP8_PT, clockRate: 90000, parameters: {}, rtcpFeedback: VP8_FEEDBACK }],
		encodings: [{ ssrc }],
		rtcp: { cname: `bench-${ssrc}`, reducedSize: true }
	};
}
/** A Chromium-like receiver: Opus and VP8 with their usual feedback. */
const RECEIVER_CAPABILITIES: types.RtpCapabilities = {
	codecs: [
		{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc' }] },
		{ kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: VP8_FEEDBACK },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 102, clockRate: 90000, parameters: { apt: 101 }, rtcpFeedback: [] }
	],
	headerExtensions: []
};

// --- part 1: join time ---------------------------------------------------------------------------

type JoinSample = { firstConsumerMs: number; allConsumersMs: number; consumers: number };
type JoinReport = {
	label: string;
	participants: number;
	firstConsumer: { p50: number; p95: number; max: number };
	allConsumers: { p50: number; p95: number; max: number };
	consumersAtEnd: number;
	workerCpuSeconds: number;
	workerCpuMsPerConsumer: number;
	samples: JoinSample[];
};

function summarize(values: number[]) {
	const histogram = new Histogram();
	for (const value of values) histogram.record(value);
	return { p50: round(histogram.percentile(50), 2), p95: round(histogram.percentile(95), 2), max: round(Math.max(...values), 2) };
}

function joinReport(label: string, participants: number, samples: JoinSample[], consumersAtEnd: number, cpuSeconds: number): JoinReport {
	return {
		label,
		participants,
		firstConsumer: summarize(samples.map((s) => s.firstConsumerMs)),
		allConsumers: summarize(samples.map((s) => s.allConsumersMs)),
		consumersAtEnd,
		workerCpuSeconds: round(cpuSeconds, 3),
		workerCpuMsPerConsumer: round((cpuSeconds * 1000) / Math.max(1, consumersAtEnd), 3),
		samples
	};
}

async function workerCpuSeconds(worker: types.Worker): Promise<number> {
	const usage = await worker.getResourceUsage();
	return (usage.ru_utime + usage.ru_stime) / 1000;
}

/** The same steps as a participant over /ws, straight on a bare mediasoup router. */
async function joinBaseline(workerBin: string, participants: number): Promise<JoinReport> {
	const worker = await mediasoup.createWorker({ workerBin, logLevel: 'warn' });
	try {
		const webRtcServer = await worker.createWebRtcServer({ listenInfos: (['udp', 'tcp'] as const).map((protocol) => ({ protocol, ip: '127.0.0.1', port: 0 })) });
		const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
		const cpuBefore = await workerCpuSeconds(worker);
		type Peer = { recv: types.WebRtcTransport; producers: types.Producer[] };
		const peers: Peer[] = [];
		const samples: JoinSample[] = [];
		let consumers = 0;
		const consume = async (recv: types.WebRtcTransport, producer: types.Producer) => {
			const consumer = await recv.consume({ producerId: producer.id, rtpCapabilities: RECEIVER_CAPABILITIES, paused: true });
			await consumer.resume();
			consumers += 1;
		};
		for (let index = 0; index < participants; index++) {
			const started = performance.now();
			const transportOptions = { webRtcServer, enableUdp: true, enableTcp: true, preferUdp: true };
			const send = await router.createWebRtcTransport(transportOptions);
			const recv = await router.createWebRtcTransport(transportOptions);
			const producers = [await send.produce({ kind: 'audio', rtpParameters: audioRtpParameters() }), await send.produce({ kind: 'video', rtpParameters: videoRtpParameters() })];
			let first = 0;
			const existing = peers.flatMap((peer) => peer.producers);
			for (const producer of existing) {
				await consume(recv, producer);
				first ||= performance.now() - started;
			}
			if (existing.length > 0) samples.push({ firstConsumerMs: first, allConsumersMs: performance.now() - started, consumers: existing.length });
			// Those already in the call receive the newcomer before the next one joins.
			for (const peer of peers) for (const producer of producers) await consume(peer.recv, producer);
			peers.push({ recv, producers });
		}
		const cpu = (await workerCpuSeconds(worker)) - cpuBefore;
		return joinReport('bare mediasoup router (no /ws)', participants, samples, consumers, cpu);
	} finally {
		worker.close();
	}
}

type Frame = { t: string; id?: string; [key: string]: unknown };

/** One participant on /ws: requests by id, and consumes whatever the call announces. */
class WsParticipant {
	readonly #socket: WebSocket;
	readonly #pending = new Map<string, { resolve: (frame: Frame) => void; reject: (error: Error) => void }>();
	#nextId = 0;
	recvTransportId = '';
	consumers = 0;
	#background: Promise<unknown> = Promise.resolve();
	failures: string[] = [];

	private constructor(socket: WebSocket) {
		this.#socket = socket;
		socket.on('message', (data) => {
			const frame = JSON.parse(String(data)) as Frame;
			if ((frame.t === 'ack' || frame.t === 'error') && frame.id) {
				const waiter = this.#pending.get(frame.id);
				this.#pending.delete(frame.id);
				if (frame.t === 'ack') waiter?.resolve(frame);
				else waiter?.reject(new Error(`${String(frame.code)}: ${String(frame.message)}`));
			} else if (frame.t === 'call.producer.new' && this.recvTransportId) {
				const producer = frame.producer as { producerId: string };
				// One after another, as a client that renders each new stream in turn.
				this.#background = this.#background.then(() => this.consume(producer.producerId)).catch((error: Error) => this.failures.push(error.message));
			}
		});
	}

	static async connect(server: RunningServer, token: string): Promise<WsParticipant> {
		const socket = new WebSocket(server.wsUrl, { headers: { cookie: `hearth_session=${token}`, origin: server.origin! } });
		const participant = new WsParticipant(socket);
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error('no ready frame within 10 s')), 10_000);
			socket.on('message', (data) => {
				if ((JSON.parse(String(data)) as Frame).t === 'ready') {
					clearTimeout(timer);
					resolve();
				}
			});
			socket.once('error', reject);
			socket.once('close', (code) => reject(new Error(`closed (${code}) before ready`)));
		});
		return participant;
	}

	request<T = Record<string, unknown>>(frame: Record<string, unknown>): Promise<T> {
		const id = `b${this.#nextId++}`;
		return new Promise<Frame>((resolve, reject) => {
			this.#pending.set(id, { resolve, reject });
			this.#socket.send(JSON.stringify({ ...frame, id }));
		}).then((ack) => (ack.result ?? {}) as T);
	}

	async consume(producerId: string): Promise<void> {
		const { consumerId } = await this.request<{ consumerId: string }>({ t: 'call.consume', transportId: this.recvTransportId, producerId, rtpCapabilities: RECEIVER_CAPABILITIES });
		await this.request({ t: 'call.consumer.resume', consumerId });
		this.consumers += 1;
	}

	close(): void {
		this.#socket.close();
	}
}

async function metricValue(server: RunningServer, pattern: RegExp): Promise<number> {
	const url = server.wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, '/metrics');
	const text = await (await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
	let sum = 0;
	for (const line of text.split('\n')) {
		const match = pattern.exec(line);
		if (match) sum += Number(match[1]);
	}
	return sum;
}

async function joinHearth(workerBin: string, participants: number): Promise<{ report: JoinReport; serverLog: string[] }> {
	const realtime = parseRealtimeOptions(['--connections', String(participants), '--group-size', String(participants)]);
	if (realtime === 'help') throw new Error('unreachable');
	const server = await startHearth(realtime, {
		channelKind: 'voice',
		env: { MEDIASOUP_WORKER_BIN: workerBin, CALL_WORKERS: '1', CALL_PORT: '0', CALL_MAX_PARTICIPANTS: String(participants), METRICS_TOKEN }
	});
	const clients: WsParticipant[] = [];
	try {
		const group = server.groups[0]!;
		const cpuPattern = /^hearth_call_worker_cpu_seconds\{[^}]*\} ([\d.e+-]+)$/;
		const cpuBefore = await metricValue(server, cpuPattern);
		const samples: JoinSample[] = [];
		let expectedConsumers = 0;
		for (let index = 0; index < participants; index++) {
			const client = await WsParticipant.connect(server, group.tokens![index]!);
			const started = performance.now();
			const joined = await client.request<{ producers: { producerId: string }[] }>({ t: 'call.join', channelId: group.channelId });
			const send = await client.request<{ transportId: string }>({ t: 'call.transport.create', direction: 'send' });
			const recv = await client.request<{ transportId: string }>({ t: 'call.transport.create', direction: 'recv' });
			await client.request({ t: 'call.produce', transportId: send.transportId, kind: 'audio', source: 'mic', rtpParameters: audioRtpParameters() });
			await client.request({ t: 'call.produce', transportId: send.transportId, kind: 'video', source: 'camera', rtpParameters: videoRtpParameters() });
			client.recvTransportId = recv.transportId;
			let first = 0;
			for (const producer of joined.producers) {
				await client.consume(producer.producerId);
				first ||= performance.now() - started;
			}
			if (joined.producers.length > 0) samples.push({ firstConsumerMs: first, allConsumersMs: performance.now() - started, consumers: joined.producers.length });
			clients.push(client);
			// Those already in the call consume the newcomer's two producers before the next one joins.
			expectedConsumers += 2 * index * 2;
			const deadline = Date.now() + 30_000;
			while (clients.reduce((sum, c) => sum + c.consumers, 0) < expectedConsumers) {
				if (Date.now() > deadline) throw new Error(`consumers stalled at ${clients.reduce((sum, c) => sum + c.consumers, 0)}/${expectedConsumers}`);
				await sleep(2);
			}
		}
		const failures = clients.flatMap((c) => c.failures);
		if (failures.length > 0) throw new Error(`consume failures: ${failures.slice(0, 3).join('; ')}`);
		const cpu = (await metricValue(server, cpuPattern)) - cpuBefore;
		const consumersAtEnd = await metricValue(server, /^hearth_call_consumers ([\d.]+)$/);
		return { report: joinReport('Hearth over /ws', participants, samples, consumersAtEnd, cpu), serverLog: server.log };
	} finally {
		for (const client of clients) client.close();
		await server.stop();
	}
}

// --- part 2: media load --------------------------------------------------------------------------

/** The RTP sender process (bench/calls-rtp.ts); one request at a time. */
class RtpChild {
	readonly child: ChildProcess;
	#waiting: { resolve: (message: RtpChildMessage) => void; reject: (error: Error) => void } | null = null;
	#exited: Error | null = null;
	constructor() {
		this.child = fork(join(ROOT, 'bench/calls-rtp.ts'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
		this.child.on('message', (message: RtpChildMessage) => {
			const waiter = this.#waiting;
			this.#waiting = null;
			waiter?.resolve(message);
		});
		this.child.once('exit', (code, signal) => {
			this.#exited = new Error(`the RTP sender exited (${signal ?? code})`);
			this.#waiting?.reject(this.#exited);
			this.#waiting = null;
		});
	}
	send(message: RtpParentMessage): void {
		if (!this.#exited) this.child.send(message);
	}
	request(message: RtpParentMessage): Promise<RtpChildMessage> {
		if (this.#exited) return Promise.reject(this.#exited);
		return new Promise((resolve, reject) => {
			this.#waiting = { resolve, reject };
			this.child.send(message);
		});
	}
}

/** Counts RTP packets and bytes per SSRC (RTCP is recognised by its packet type and left out). */
class RtpSink {
	readonly socket: Socket = createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
	readonly packets = new Map<number, number>();
	port = 0;
	async open(): Promise<void> {
		this.socket.on('message', (packet) => {
			if (packet.length < 12 || (packet[1]! >= 192 && packet[1]! <= 223)) return;
			const ssrc = packet.readUInt32BE(8);
			this.packets.set(ssrc, (this.packets.get(ssrc) ?? 0) + 1);
		});
		await new Promise<void>((done) => this.socket.bind(0, '127.0.0.1', done));
		this.port = this.socket.address().port;
	}
	snapshot(): Map<number, number> {
		return new Map(this.packets);
	}
}

type MediaReport = {
	participants: number;
	producers: number;
	consumers: number;
	/** Worker CPU in % of one core over the window. */
	workerCpuProducersOnly: number;
	workerCpuFull: number;
	/** (full − producers only) / consumers, in % of one core and in µs of CPU per forwarded packet. */
	workerCpuPerConsumer: number;
	cpuMicrosecondsPerForwardedPacket: number;
	forwardedPacketsPerSecond: number;
	forwardedMbitPerSecond: number;
	consumersWithGrowingByteCount: number;
	consumersSeenAtSink: number;
	setupMs: number;
	machineBusyPercent: number;
	loadAverage1m: number;
};

type ConsumerStats = { byteCount: number; packetCount: number };
async function consumerStats(consumer: types.Consumer): Promise<ConsumerStats> {
	const outbound = (await consumer.getStats()).find((stat) => stat.type === 'outbound-rtp');
	return { byteCount: outbound?.byteCount ?? 0, packetCount: outbound?.packetCount ?? 0 };
}

async function measureWindow(worker: types.Worker, seconds: number): Promise<{ cpuPercent: number; busyPercent: number }> {
	const machineBefore = machineCpu();
	const before = await workerCpuSeconds(worker);
	const started = performance.now();
	await sleep(seconds * 1000);
	const after = await workerCpuSeconds(worker);
	const elapsed = (performance.now() - started) / 1000;
	const machineAfter = machineCpu();
	return {
		cpuPercent: ((after - before) / elapsed) * 100,
		busyPercent: ((machineAfter.busySeconds - machineBefore.busySeconds) / (machineAfter.totalSeconds - machineBefore.totalSeconds)) * 100 * cpus().length
	};
}

async function mediaRun(pool: CallWorkerPool, rtp: RtpChild, sink: RtpSink, size: number, options: Options): Promise<MediaReport> {
	const slot = pool.workers()[0]!;
	const worker = slot.worker;
	const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
	try {
		const setupStarted = performance.now();
		const listenInfo = { protocol: 'udp' as const, ip: '127.0.0.1' };
		type Participant = { recv: types.PlainTransport; producers: types.Producer[] };
		const participants: Participant[] = [];
		const senders: RtpSender[] = [];
		for (let index = 0; index < size; index++) {
			const send = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: true });
			const recv = await router.createPlainTransport({ listenInfo, rtcpMux: true, comedia: false });
			await recv.connect({ ip: '127.0.0.1', port: sink.port });
			const audio = audioRtpParameters();
			const video = videoRtpParameters();
			const producers = [await send.produce({ kind: 'audio', rtpParameters: audio }), await send.produce({ kind: 'video', rtpParameters: video })];
			senders.push({ port: send.tuple.localPort, audio: { ssrc: audio.encodings![0]!.ssrc!, payloadType: OPUS_PT }, video: { ssrc: video.encodings![0]!.ssrc!, payloadType: VP8_PT } });
			participants.push({ recv, producers });
		}
		await rtp.request({ type: 'add', senders });
		await sleep(options.warmupSeconds * 1000);
		const producersOnly = await measureWindow(worker, options.windowSeconds);

		const consumers: types.Consumer[] = [];
		for (const receiver of participants) {
			for (const sender of participants) {
				if (sender === receiver) continue;
				for (const producer of sender.producers) consumers.push(await receiver.recv.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities }));
			}
		}
		const setupMs = performance.now() - setupStarted - options.warmupSeconds * 1000 - options.windowSeconds * 1000;
		await sleep(options.warmupSeconds * 1000);
		const statsBefore = await Promise.all(consumers.map(consumerStats));
		const sinkBefore = sink.snapshot();
		const full = await measureWindow(worker, options.windowSeconds);
		const statsAfter = await Promise.all(consumers.map(consumerStats));
		const sinkAfter = sink.snapshot();
		await rtp.request({ type: 'clear' });

		const forwardedPackets = statsAfter.reduce((sum, stats, index) => sum + stats.packetCount - statsBefore[index]!.packetCount, 0);
		const forwardedBytes = statsAfter.reduce((sum, stats, index) => sum + stats.byteCount - statsBefore[index]!.byteCount, 0);
		const growing = statsAfter.filter((stats, index) => stats.byteCount > statsBefore[index]!.byteCount).length;
		const seen = consumers.filter((consumer) => {
			const ssrc = consumer.rtpParameters.encodings![0]!.ssrc!;
			return (sinkAfter.get(ssrc) ?? 0) > (sinkBefore.get(ssrc) ?? 0);
		}).length;
		const cpuPerConsumer = (full.cpuPercent - producersOnly.cpuPercent) / consumers.length;
		const packetsPerSecond = forwardedPackets / options.windowSeconds;
		return {
			participants: size,
			producers: size * 2,
			consumers: consumers.length,
			workerCpuProducersOnly: round(producersOnly.cpuPercent),
			workerCpuFull: round(full.cpuPercent),
			workerCpuPerConsumer: round(cpuPerConsumer, 3),
			cpuMicrosecondsPerForwardedPacket: round(((full.cpuPercent - producersOnly.cpuPercent) / 100) * 1e6 / Math.max(1, packetsPerSecond), 2),
			forwardedPacketsPerSecond: Math.round(packetsPerSecond),
			forwardedMbitPerSecond: round((forwardedBytes * 8) / options.windowSeconds / 1e6),
			consumersWithGrowingByteCount: growing,
			consumersSeenAtSink: seen,
			setupMs: Math.round(setupMs),
			machineBusyPercent: round(full.busyPercent),
			loadAverage1m: loadAverage()[0]
		};
	} finally {
		router.close();
	}
}

// --- the run -------------------------------------------------------------------------------------

function table(rows: string[][]): string {
	const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
	return rows.map((row) => `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`).join('\n');
}

async function main(): Promise<void> {
	const options = parseOptions(process.argv.slice(2));
	if (options === 'help') {
		console.log(USAGE);
		return;
	}
	const bin = resolveWorkerBin(process.env.MEDIASOUP_WORKER_BIN ?? (existsSync(CACHED_WORKER_BIN) ? CACHED_WORKER_BIN : undefined));
	if (!bin.ok) throw new Error(`no mediasoup worker to benchmark: ${bin.reason}`);
	const startedAt = new Date().toISOString();
	log(`calls bench: worker ${bin.path}; load average ${loadAverage().join(' ')} on ${cpus().length} cores`);

	const joins: JoinReport[] = [];
	let serverLog: string[] = [];
	if (!options.skipJoin) {
		log(`part 1: ${options.joinParticipants} participants join one call, bare mediasoup first`);
		joins.push(await joinBaseline(bin.path, options.joinParticipants));
		log('part 1: the same through Hearth over /ws');
		const hearth = await joinHearth(bin.path, options.joinParticipants);
		joins.push(hearth.report);
		serverLog = hearth.serverLog;
	}

	const media: MediaReport[] = [];
	if (!options.skipMedia) {
		const config: CallsConfig = {
			workerBin: bin.path, workers: 1, listenIp: '127.0.0.1', announcedAddress: undefined, port: 0, maxParticipants: Math.max(...options.sizes),
			stunUrls: [], turnUrls: [], turnSecret: undefined, turnTtlSeconds: 3600, testTapPort: 0
		};
		const pool = await CallWorkerPool.start(config, bin.path, createLogger('warn'));
		const rtp = new RtpChild();
		const sink = new RtpSink();
		await sink.open();
		try {
			rtp.send({ type: 'configure', audioKbps: options.audioKbps, videoKbps: options.videoKbps });
			for (const size of options.sizes) {
				log(`part 2: ${size} participants with audio and video (${size * (size - 1) * 2} consumers)`);
				const report = await mediaRun(pool, rtp, sink, size, options);
				log(`  worker ${report.workerCpuFull}% of a core; ${report.consumersWithGrowingByteCount}/${report.consumers} consumers growing`);
				media.push(report);
			}
		} finally {
			rtp.send({ type: 'exit' });
			sink.socket.close();
			pool.close();
		}
	}

	const report = {
		kind: 'calls',
		startedAt,
		machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', memoryBytes: totalmem(), kernel: release(), node: process.version, workerBin: bin.path },
		options,
		join: joins,
		media,
		serverLog
	};
	const dir = resolve(ROOT, options.outDir);
	mkdirSync(dir, { recursive: true });
	const file = join(dir, `calls-${report.startedAt.replace(/[:.]/g, '-')}.json`);
	writeFileSync(file, `${JSON.stringify(report, null, '\t')}\n`);

	if (joins.length > 0) {
		console.log(`\nJoin time, ${options.joinParticipants} participants joining one call one after another (ms; call.join → consumer resumed)\n`);
		console.log(
			table([
				['', ...joins.map((j) => j.label)],
				['first consumer p50 / p95 / max', ...joins.map((j) => `${j.firstConsumer.p50} / ${j.firstConsumer.p95} / ${j.firstConsumer.max}`)],
				['all consumers p50 / p95 / max', ...joins.map((j) => `${j.allConsumers.p50} / ${j.allConsumers.p95} / ${j.allConsumers.max}`)],
				['consumers at the end', ...joins.map((j) => String(j.consumersAtEnd))],
				['worker CPU for the joins (ms per consumer)', ...joins.map((j) => `${j.workerCpuSeconds} s (${j.workerCpuMsPerConsumer})`)]
			])
		);
	}
	if (media.length > 0) {
		console.log(`\nMedia through one worker: every participant sends ${options.audioKbps} kbit/s audio + ${options.videoKbps} kbit/s video and receives all others (plain RTP, ${options.windowSeconds} s windows)\n`);
		console.log(
			table([
				['participants', ...media.map((m) => String(m.participants))],
				['consumers (audio + video)', ...media.map((m) => String(m.consumers))],
				['worker CPU, producers only (% of a core)', ...media.map((m) => String(m.workerCpuProducersOnly))],
				['worker CPU, everyone receiving (% of a core)', ...media.map((m) => String(m.workerCpuFull))],
				['worker CPU per consumer (% of a core)', ...media.map((m) => String(m.workerCpuPerConsumer))],
				['CPU per forwarded packet (µs)', ...media.map((m) => String(m.cpuMicrosecondsPerForwardedPacket))],
				['forwarded packets/s (Mbit/s)', ...media.map((m) => `${m.forwardedPacketsPerSecond} (${m.forwardedMbitPerSecond})`)],
				['consumers with growing byteCount', ...media.map((m) => `${m.consumersWithGrowingByteCount}/${m.consumers}`)],
				['consumers whose packets reached the sink', ...media.map((m) => `${m.consumersSeenAtSink}/${m.consumers}`)],
				['machine busy during the window (% of one core, all processes)', ...media.map((m) => String(m.machineBusyPercent))]
			])
		);
		const ten = media.find((m) => m.participants === 10);
		const largest = media.at(-1)!;
		console.log('');
		if (ten) console.log(`Target (issue): 10-person audio+video call within one worker core with headroom: ${ten.workerCpuFull < 70 ? 'PASS' : 'FAIL'} (${ten.workerCpuFull}% of a core)`);
		const allWork = largest.consumersWithGrowingByteCount === largest.consumers && largest.consumersSeenAtSink === largest.consumers;
		console.log(`Target (issue): ${largest.participants} participants working (every consumer receives): ${allWork ? 'PASS' : 'FAIL'}`);
	}
	console.log(`\nResults: ${file}`);
	if (!options.skipBrowser) await encryptionPart(resolve(ROOT, options.outDir));
}

/**
 * Part 3, in its own process (it drives Chromium): join time and browser CPU with and without call
 * media encryption, in the same run (bench/calls-encryption.ts says how).
 */
async function encryptionPart(outDir: string): Promise<void> {
	const child = fork(join(ROOT, 'bench/calls-encryption.ts'), ['--out', outDir], { stdio: 'inherit' });
	const code = await new Promise<number | null>((done) => child.once('exit', done));
	if (code !== 0) throw new Error(`part 3 (bench/calls-encryption.ts) failed with exit code ${code}`);
}

main().then(
	() => process.exit(0),
	(error: Error) => {
		log(`calls bench failed: ${error.stack ?? error.message}`);
		process.exit(1);
	}
);
