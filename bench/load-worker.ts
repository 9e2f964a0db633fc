// A load-generator process: holds the WebSocket clients of whole groups, sends bench messages when
// the orchestrator (run.ts) says so, and measures what comes back. Runs as a child process with an
// IPC channel (see ipc.ts), so the server under test keeps its CPU to itself.
//
// Every message carries a marker in its payload, `~B<id>.<send time in µs>~` then padding, where id
// is unique in this worker and the time is this process's performance.now(). Every member of the
// sender's group (sender included) must receive it exactly once: the worker keeps one record per
// message in flight, with a bit per member. Frames are searched for the marker as bytes and only
// the rare control frames (ready, ack, error, presence) are JSON-parsed: parsing every delivery
// would make the load generator, not the server, the bottleneck of the saturation phase.
import WebSocket, { type RawData } from 'ws';
import { Histogram } from './histogram.ts';
import type {
	ConnectResult,
	DeliveryCheck,
	GroupPlan,
	ParentToWorker,
	PhaseResult,
	StormResult,
	WorkerPlan,
	WorkerStatus,
	WorkerToParent
} from './ipc.ts';

const MARK = Buffer.from('~B');
// Hearth event frames are {"t":"event","channelId":…,"event":{"seq":N,…}}: the first "seq" is the
// channel sequence number (messages.ts builds the event with seq as its first key).
const SEQ_KEY = Buffer.from('"seq":');
const CHAR_0 = 48;
const CHAR_9 = 57;
// How often a draining phase checks whether everything arrived.
const DRAIN_POLL_MS = 20;
// Sockets still open this long after close() are terminated.
const CLOSE_GRACE_MS = 5_000;

type Group = {
	plan: GroupPlan;
	channelId: string;
	members: Client[];
	ready: number;
	/** Messages of this group sent and not yet received by every member. */
	inflight: number;
	/** Round-robin position of the next sender. */
	nextSender: number;
};

type Client = {
	group: Group;
	index: number;
	ws: WebSocket | null;
	ready: boolean;
	/** Highest message id received from each member of the group (order check). */
	lastFrom: Float64Array;
	/** Hearth: last channel sequence number received (gap check); -1 before the first. */
	lastSeq: number;
	onReady?: () => void;
	/** Reconnect storm: the last sequence number before the cut, and every one received since. */
	stormFrom: number;
	stormSeen: Map<number, number> | null;
	stormResumeId: string | null;
	onResumed?: () => void;
};

type Outgoing = {
	group: Group;
	senderIndex: number;
	remaining: number;
	receivedBy: Uint8Array;
	measured: boolean;
};

type Phase = {
	mode: 'open' | 'closed';
	inflightPerGroup: number;
	sending: boolean;
	measuring: boolean;
	windowStart: number;
	windowMs: number;
	sent: number;
	deliveries: number;
	perSecond: number[];
	latency: Histogram;
	ack: Histogram;
	sendLag: Histogram;
	check: DeliveryCheck;
	timer: NodeJS.Timeout | undefined;
};

let plan: WorkerPlan;
let groups: Group[] = [];
let clients: Client[] = [];
/** Clients of groups left for `connect-rest`. */
let notYetConnecting: Client[] = [];
let padding = '';
let nextMessageId = 0;
const outgoing = new Map<number, Outgoing>();
const pendingAcks = new Map<number, { sentAt: number; measured: boolean }>();
/** Messages given up on by an earlier phase's drain; their late copies are not duplicates. */
const abandoned = new Set<number>();
let phase: Phase | null = null;
let closing = false;
/** A reconnect storm is on: cut sockets are not drops, and frames are checked by sequence number. */
let storming = false;
let storm: { duplicates: number; overlap: number; replayed: number; sent: number; acked: number; refused: number; lastSeqOf: Map<Group, number> } | null = null;
const EVENT_PREFIX = Buffer.from('{"t":"event",');
const EVENTS_PREFIX = Buffer.from('{"t":"events",');
const status: WorkerStatus = { ready: 0, drops: 0, dropReasons: {}, socketErrors: 0 };

function send(message: WorkerToParent) {
	process.send!(message);
}

function bump(counts: Record<string, number>, key: string) {
	counts[key] = (counts[key] ?? 0) + 1;
}

function emptyCheck(): DeliveryCheck {
	return { messages: 0, expected: 0, delivered: 0, missing: 0, duplicates: 0, reordered: 0, seqGaps: 0, late: 0, errors: {}, acks: 0, acksMissing: 0 };
}

// --- connecting -----------------------------------------------------------------------------

function connectClient(client: Client): Promise<string | null> {
	return new Promise((resolve) => {
		let settled = false;
		const settle = (failure: string | null) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			if (failure !== null) {
				client.ws?.terminate();
				client.ws = null;
			}
			resolve(failure);
		};
		const hearth = plan.target === 'hearth';
		const nodes = plan.wsUrls ?? [plan.wsUrl];
		// In a cluster, consecutive members of a group sit on different nodes: every message crosses nodes.
		const base = nodes[(client.group.plan.index + client.index) % nodes.length]!;
		const url = hearth ? base : `${base}?g=${client.group.plan.index}`;
		const ws = new WebSocket(url, {
			headers: hearth ? { cookie: `hearth_session=${client.group.plan.tokens![client.index]}`, origin: plan.origin! } : {},
			perMessageDeflate: false,
			// The load generator trusts the server's UTF-8; validating it would only cost client CPU.
			skipUTF8Validation: true
		});
		client.ws = ws;
		const timer = setTimeout(() => settle('timeout waiting for ready'), plan.connectTimeoutMs);
		client.onReady = () => settle(null);
		ws.on('message', (data: RawData) => onFrame(client, toBuffer(data)));
		ws.on('unexpected-response', (_request, response) => settle(`HTTP ${response.statusCode}`));
		ws.on('error', (error: NodeJS.ErrnoException) => {
			status.socketErrors += 1;
			settle(`socket error ${error.code ?? error.message}`);
		});
		ws.on('close', (code) => {
			if (!client.ready) return settle(`closed ${code} before ready`);
			client.ready = false;
			client.group.ready -= 1;
			status.ready -= 1;
			if (!closing && !storming) {
				status.drops += 1;
				bump(status.dropReasons, `close ${code}`);
			}
		});
	});
}

/** Connects the given clients; `ready` counts every client ready so far. */
async function connectAll(list: Client[]): Promise<ConnectResult> {
	const startedAt = performance.now();
	const failures: Record<string, number> = {};
	let next = 0;
	const lane = async () => {
		while (next < list.length) {
			const client = list[next++]!;
			const failure = await connectClient(client);
			if (failure !== null) bump(failures, failure);
		}
	};
	await Promise.all(Array.from({ length: Math.min(plan.connectConcurrency, list.length) }, lane));
	const failed = Object.values(failures).reduce((a, b) => a + b, 0);
	return { ready: status.ready, failed, failures, ms: Math.round(performance.now() - startedAt) };
}

// --- receiving ------------------------------------------------------------------------------

function toBuffer(data: RawData): Buffer {
	if (Buffer.isBuffer(data)) return data;
	if (Array.isArray(data)) return Buffer.concat(data);
	return Buffer.from(data);
}

/** Reads the decimal integer at `pos`; returns [value, position after it]. */
function readInt(data: Buffer, pos: number): [number, number] {
	let value = 0;
	let char = data[pos]!;
	while (char >= CHAR_0 && char <= CHAR_9) {
		value = value * 10 + (char - CHAR_0);
		char = data[++pos]!;
	}
	return [value, pos];
}

function onFrame(client: Client, data: Buffer) {
	if (storming) return onStormFrame(client, data);
	const at = data.indexOf(MARK);
	if (at === -1) return onControlFrame(client, data);
	const now = performance.now();
	const [id, dot] = readInt(data, at + MARK.length);
	const [sentAtMicros] = readInt(data, dot + 1);
	const current = phase;
	if (!current) return;
	const check = current.check;
	check.delivered += 1;
	if (current.measuring) {
		current.deliveries += 1;
		const second = Math.floor((now - current.windowStart) / 1000);
		current.perSecond[second] = (current.perSecond[second] ?? 0) + 1;
	}
	if (plan.target === 'hearth') {
		const seqAt = data.indexOf(SEQ_KEY);
		if (seqAt !== -1) {
			const [seq] = readInt(data, seqAt + SEQ_KEY.length);
			if (client.lastSeq !== -1 && seq !== client.lastSeq + 1) check.seqGaps += 1;
			client.lastSeq = seq;
		}
	}
	const message = outgoing.get(id);
	if (!message || message.group !== client.group || message.receivedBy[client.index]) {
		if (abandoned.has(id)) check.late += 1;
		else check.duplicates += 1;
		return;
	}
	message.receivedBy[client.index] = 1;
	if (id < client.lastFrom[message.senderIndex]!) check.reordered += 1;
	else client.lastFrom[message.senderIndex] = id;
	if (message.measured) current.latency.record(now - sentAtMicros / 1000);
	message.remaining -= 1;
	if (message.remaining === 0) complete(id, message);
}

function complete(id: number, message: Outgoing) {
	outgoing.delete(id);
	message.group.inflight -= 1;
	if (phase?.mode === 'closed' && phase.sending) sendFrom(message.group);
}

const PRESENCE_PREFIX = Buffer.from('{"t":"presence",');

function onControlFrame(client: Client, data: Buffer) {
	// Presence is not measured, and a large community's snapshot (5,000 members online: ~270 kB)
	// parsed by every client of a reconnect storm made the load generator the slow side.
	if (data.length > PRESENCE_PREFIX.length && data.subarray(0, PRESENCE_PREFIX.length).equals(PRESENCE_PREFIX)) return;
	let frame: { t?: string; id?: string; code?: string };
	try {
		frame = JSON.parse(data.toString('utf8')) as typeof frame;
	} catch {
		if (phase) bump(phase.check.errors, 'unparseable frame');
		return;
	}
	switch (frame.t) {
		case 'ready':
			if (client.ready) return;
			client.ready = true;
			client.group.ready += 1;
			status.ready += 1;
			client.onReady?.();
			return;
		case 'ack': {
			if (client.stormResumeId !== null && frame.id === client.stormResumeId) {
				client.stormResumeId = null;
				client.onResumed?.();
				return;
			}
			const id = Number(frame.id);
			const pending = pendingAcks.get(id);
			if (!pending) return;
			pendingAcks.delete(id);
			if (phase) {
				phase.check.acks += 1;
				if (pending.measured) phase.ack.record(performance.now() - pending.sentAt);
			}
			return;
		}
		case 'error': {
			if (phase) bump(phase.check.errors, frame.code ?? 'unknown');
			// A refused send will never be delivered: count its deliveries as missing and move on.
			const id = Number(frame.id);
			pendingAcks.delete(id);
			const message = outgoing.get(id);
			if (message) {
				if (phase) phase.check.missing += message.remaining;
				complete(id, message);
			}
			return;
		}
		default:
			// presence, typing and directory notices are not part of the measurement.
			return;
	}
}

// --- sending --------------------------------------------------------------------------------

function sendFrom(group: Group): boolean {
	const current = phase!;
	let sender: Client | undefined;
	for (let tries = 0; tries < group.members.length && !sender; tries += 1) {
		const candidate = group.members[group.nextSender]!;
		group.nextSender = (group.nextSender + 1) % group.members.length;
		if (candidate.ready) sender = candidate;
	}
	if (!sender) return false;
	const id = ++nextMessageId;
	const sentAt = performance.now();
	const marker = `~B${id}.${Math.round(sentAt * 1000)}~`;
	const payload = marker + padding.slice(marker.length);
	outgoing.set(id, {
		group,
		senderIndex: sender.index,
		remaining: group.ready,
		receivedBy: new Uint8Array(group.members.length),
		measured: current.measuring
	});
	if (plan.target === 'hearth') pendingAcks.set(id, { sentAt, measured: current.measuring });
	group.inflight += 1;
	current.check.messages += 1;
	current.check.expected += group.ready;
	if (current.measuring) current.sent += 1;
	// The same client frame for both targets; the baseline relays it verbatim. The payload is plain
	// ASCII, so the template needs no JSON escaping.
	sender.ws!.send(
		`{"t":"message.send","id":"${id}","channelId":"${group.channelId}","clientId":"bench-m${id}","payload":"${payload}"}`
	);
	return true;
}

function startPhase(mode: 'open' | 'closed', inflightPerGroup: number): Phase {
	if (phase?.timer) clearTimeout(phase.timer);
	return {
		mode,
		inflightPerGroup,
		sending: true,
		measuring: false,
		windowStart: 0,
		windowMs: 0,
		sent: 0,
		deliveries: 0,
		perSecond: [],
		latency: new Histogram(),
		ack: new Histogram(),
		sendLag: new Histogram(),
		check: emptyCheck(),
		timer: undefined
	};
}

/** Sends on a fixed schedule (message k at start + k/rate), whatever the replies do. */
function runOpenLoop(current: Phase, messagesPerSecond: number) {
	const start = performance.now();
	const interval = 1000 / messagesPerSecond;
	let sent = 0;
	let groupCursor = 0;
	const tick = () => {
		if (!current.sending) return;
		const now = performance.now();
		while (start + sent * interval <= now) {
			if (current.measuring) current.sendLag.record(now - (start + sent * interval));
			// Round-robin over groups, so every channel gets the same share of the traffic.
			for (let tries = 0; tries < groups.length; tries += 1) {
				const group = groups[groupCursor]!;
				groupCursor = (groupCursor + 1) % groups.length;
				if (sendFrom(group)) break;
			}
			sent += 1;
		}
		current.timer = setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
	};
	tick();
}

function runClosedLoop(current: Phase) {
	for (const group of groups) {
		for (let i = 0; i < current.inflightPerGroup; i += 1) sendFrom(group);
	}
}

async function finish(current: Phase, drainTimeoutMs: number): Promise<PhaseResult> {
	current.sending = false;
	clearTimeout(current.timer);
	if (current.measuring) {
		current.measuring = false;
		current.windowMs = performance.now() - current.windowStart;
	}
	const deadline = performance.now() + drainTimeoutMs;
	while ((outgoing.size > 0 || pendingAcks.size > 0) && performance.now() < deadline) {
		await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
	}
	for (const [id, message] of outgoing) {
		current.check.missing += message.remaining;
		message.group.inflight -= 1;
		abandoned.add(id);
	}
	outgoing.clear();
	current.check.acksMissing += pendingAcks.size;
	pendingAcks.clear();
	const fullSeconds = Math.floor(current.windowMs / 1000);
	return {
		windowMs: Math.round(current.windowMs),
		sent: current.sent,
		deliveries: current.deliveries,
		perSecond: Array.from({ length: fullSeconds }, (_, i) => current.perSecond[i] ?? 0),
		latency: current.latency.toJSON(),
		ack: current.ack.toJSON(),
		sendLag: current.sendLag.toJSON(),
		check: current.check
	};
}

async function closeAll(): Promise<void> {
	closing = true;
	const open = clients.filter((c) => c.ws && c.ws.readyState !== WebSocket.CLOSED);
	await Promise.all(
		open.map(
			(client) =>
				new Promise<void>((resolve) => {
					const ws = client.ws!;
					const timer = setTimeout(() => {
						ws.terminate();
						resolve();
					}, CLOSE_GRACE_MS);
					ws.once('close', () => {
						clearTimeout(timer);
						resolve();
					});
					ws.close(1000, 'bench done');
				})
		)
	);
}


// --- reconnect storm --------------------------------------------------------------------------

// How each event reached a client during the storm: live (1), replayed by resume (2), or both.
const LIVE = 1;
const REPLAYED = 2;

function stormRecord(client: Client, seq: number, replayed: boolean) {
	const seen = client.stormSeen;
	if (!seen || seq <= client.stormFrom) return;
	const how = replayed ? REPLAYED : LIVE;
	const before = seen.get(seq) ?? 0;
	// The same event twice by the same way is a real duplicate. Live and replayed is the resume
	// overlap: live events flow from the moment the socket is registered, and the resume that
	// follows replays from the client's cursor; the client drops the copy by sequence number.
	if (before & how) storm!.duplicates += 1;
	else if (before) storm!.overlap += 1;
	seen.set(seq, before | how);
	if (replayed) storm!.replayed += 1;
	const last = storm!.lastSeqOf.get(client.group) ?? -1;
	if (seq > last) storm!.lastSeqOf.set(client.group, seq);
}

/** During a storm every frame is read by sequence number: replays carry many events per frame. */
function onStormFrame(client: Client, data: Buffer) {
	if (data.subarray(0, EVENTS_PREFIX.length).equals(EVENTS_PREFIX)) {
		const frame = JSON.parse(data.toString('utf8')) as { events: Array<{ seq: number }> };
		for (const event of frame.events) stormRecord(client, event.seq, true);
		return;
	}
	if (data.subarray(0, EVENT_PREFIX.length).equals(EVENT_PREFIX)) {
		const seqAt = data.indexOf(SEQ_KEY);
		if (seqAt !== -1) stormRecord(client, readInt(data, seqAt + SEQ_KEY.length)[0], false);
		return;
	}
	let frame: { t?: string; id?: string; result?: { seq?: number } };
	try {
		frame = JSON.parse(data.toString('utf8')) as typeof frame;
	} catch {
		return;
	}
	if (frame.t === 'ready') {
		if (client.ready) return;
		client.ready = true;
		client.group.ready += 1;
		status.ready += 1;
		client.onReady?.();
	} else if (frame.t === 'error') {
		if (frame.id?.startsWith('storm-')) storm!.refused += 1;
	} else if (frame.t === 'ack') {
		if (client.stormResumeId !== null && frame.id === client.stormResumeId) {
			client.stormResumeId = null;
			client.onResumed?.();
		} else if (frame.id?.startsWith('storm-') && typeof frame.result?.seq === 'number') {
			storm!.acked += 1;
			const last = storm!.lastSeqOf.get(client.group) ?? -1;
			if (frame.result.seq > last) storm!.lastSeqOf.set(client.group, frame.result.seq);
		}
	}
}

async function reconnectStorm(messagesPerSecond: number, drainTimeoutMs: number): Promise<StormResult> {
	const hearth = plan.target === 'hearth';
	storm = { duplicates: 0, overlap: 0, replayed: 0, sent: 0, acked: 0, refused: 0, lastSeqOf: new Map() };
	storming = true;
	for (const client of clients) {
		client.stormFrom = client.lastSeq;
		client.stormSeen = new Map();
		const last = storm.lastSeqOf.get(client.group) ?? -1;
		if (client.lastSeq > last) storm.lastSeqOf.set(client.group, client.lastSeq);
	}
	// The cut: every socket dropped at once, as a server restart or a network blip does, except one
	// sender per channel when messages go on meanwhile: what they send is what the others must
	// catch up on by resuming (the first ones back would otherwise be the only senders, and by the
	// time their messages commit everyone is subscribed again: nothing to replay, nothing tested).
	const senders = new Set(messagesPerSecond > 0 ? groups.map((group) => group.members[0]!) : []);
	const cut = clients.filter((client) => !senders.has(client));
	for (const client of cut) {
		if (client.ready) {
			client.ready = false;
			client.group.ready -= 1;
			status.ready -= 1;
		}
		client.ws?.terminate();
		client.ws = null;
	}
	const cutAt = performance.now();
	const backAfter = new Histogram();
	const failures: Record<string, number> = {};
	// Clients already back keep the channels busy, so those still away have events to catch up on.
	let sending = true;
	let counter = 0;
	let groupCursor = 0;
	const interval = messagesPerSecond > 0 ? 1000 / messagesPerSecond : 0;
	const sender = async () => {
		let due = performance.now();
		while (sending && interval > 0) {
			const group = groups[groupCursor]!;
			groupCursor = (groupCursor + 1) % groups.length;
			const member = group.members[0]!;
			if (member.ready && member.ws && hearth) {
				counter += 1;
				storm!.sent += 1;
				const marker = `~S${counter}~`;
				member.ws!.send(
					`{"t":"message.send","id":"storm-${counter}","channelId":"${group.channelId}","clientId":"bench-storm-${process.pid}-${counter}","payload":"${marker + padding.slice(marker.length)}"}`
				);
			}
			due += interval;
			await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
		}
	};
	const sending$ = sender();
	const comeBack = async (client: Client) => {
		const failure = await connectClient(client);
		if (failure !== null) {
			bump(failures, failure);
			return;
		}
		if (hearth) {
			// Resume as the web client does: from the last sequence number it had (0: from the start).
			client.stormResumeId = `resume-${client.group.plan.index}-${client.index}`;
			const resumed = new Promise<void>((resolve) => (client.onResumed = resolve));
			client.ws!.send(JSON.stringify({ t: 'resume', id: client.stormResumeId, cursors: [{ channelId: client.group.channelId, seq: Math.max(0, client.stormFrom) }] }));
			const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), plan.connectTimeoutMs));
			if ((await Promise.race([resumed, timeout])) === 'timeout') {
				bump(failures, 'timeout waiting for the resume answer');
				return;
			}
		}
		backAfter.record(performance.now() - cutAt);
	};
	// Everyone at once: no concurrency limit, as after a restart.
	await Promise.all(cut.map(comeBack));
	const ms = performance.now() - cutAt;
	sending = false;
	await sending$;
	// Drain: every member of a group ends with every event up to the group's last one.
	const complete = () =>
		storm!.acked + storm!.refused >= storm!.sent &&
		clients.every((client) => {
			const last = storm!.lastSeqOf.get(client.group) ?? -1;
			return !client.ready || client.stormSeen!.size >= last - Math.max(client.stormFrom, 0);
		});
	const deadline = performance.now() + drainTimeoutMs;
	while (!complete() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
	let expectedEvents = 0;
	let missingEvents = 0;
	for (const client of clients) {
		const last = storm.lastSeqOf.get(client.group) ?? -1;
		const from = Math.max(client.stormFrom, 0);
		if (last <= from) continue;
		expectedEvents += last - from;
		for (let seq = from + 1; seq <= last; seq += 1) if (!client.stormSeen!.has(seq)) missingEvents += 1;
	}
	const result: StormResult = {
		clients: cut.length,
		back: backAfter.count,
		failures,
		ms: Math.round(ms),
		backAfter: backAfter.toJSON(),
		sent: storm.sent,
		acked: storm.acked,
		expectedEvents,
		missingEvents,
		duplicateEvents: storm.duplicates,
		overlapEvents: storm.overlap,
		replayedEvents: storm.replayed
	};
	// Live tracking resumes from where each client is now.
	for (const client of clients) {
		const seen = client.stormSeen!;
		let last = client.stormFrom;
		for (const seq of seen.keys()) if (seq > last) last = seq;
		client.lastSeq = last;
		client.stormSeen = null;
	}
	storming = false;
	storm = null;
	return result;
}

// --- commands from the orchestrator ----------------------------------------------------------

async function handle(message: ParentToWorker) {
	switch (message.cmd) {
		case 'connect': {
			plan = message.plan;
			padding = 'x'.repeat(plan.payloadBytes);
			groups = plan.groups.map((groupPlan) => {
				const group: Group = {
					plan: groupPlan,
					channelId: groupPlan.channelId ?? crypto.randomUUID(),
					members: [],
					ready: 0,
					inflight: 0,
					nextSender: 0
				};
				for (let index = 0; index < groupPlan.size; index += 1) {
					group.members.push({
						group,
						index,
						ws: null,
						ready: false,
						lastFrom: new Float64Array(groupPlan.size),
						lastSeq: -1,
						stormFrom: -1,
						stormSeen: null,
						stormResumeId: null
					});
				}
				return group;
			});
			clients = groups.flatMap((g) => g.members);
			// Only the first groups when asked: the orchestrator reads memory between the two halves.
			const split = message.firstGroups ?? groups.length;
			notYetConnecting = groups.slice(split).flatMap((g) => g.members);
			send({ type: 'connected', result: await connectAll(groups.slice(0, split).flatMap((g) => g.members)) });
			return;
		}
		case 'connect-rest': {
			const rest = notYetConnecting;
			notYetConnecting = [];
			send({ type: 'connected', result: await connectAll(rest) });
			return;
		}
		case 'open-loop': {
			phase = startPhase('open', 0);
			if (message.messagesPerSecond > 0) runOpenLoop(phase, message.messagesPerSecond);
			return;
		}
		case 'closed-loop': {
			phase = startPhase('closed', message.inflightPerGroup);
			runClosedLoop(phase);
			return;
		}
		case 'measure': {
			if (!phase) return;
			phase.measuring = true;
			phase.windowStart = performance.now();
			return;
		}
		case 'finish': {
			if (!phase) return;
			const result = await finish(phase, message.drainTimeoutMs);
			send({ type: 'phase', result, status: { ...status } });
			return;
		}
		case 'storm': {
			send({ type: 'stormed', result: await reconnectStorm(message.messagesPerSecond, message.drainTimeoutMs) });
			return;
		}
		case 'close': {
			await closeAll();
			send({ type: 'closed', status: { ...status } });
			process.disconnect();
			return;
		}
	}
}

process.on('message', (message: ParentToWorker) => {
	handle(message).catch((error: unknown) => {
		send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
	});
});
