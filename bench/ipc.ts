// Messages between the bench orchestrator (run.ts) and its load-generator processes
// (load-worker.ts), over Node's child-process IPC channel. The parent decides when phases start
// and stop so that several workers measure the same window; each worker owns whole groups (a
// sender and all its recipients live in one process), so send-to-receive latency is read on one
// process's monotonic clock.
import type { HistogramJson } from './histogram.ts';

export type TargetKind = 'baseline' | 'hearth';

/** One channel (Hearth) or broadcast group (baseline) and the clients that are its members. */
export type GroupPlan = {
	/** Global group number (baseline: sent in the connection URL). */
	index: number;
	/** Hearth: the channel the members send to. */
	channelId?: string;
	/** Hearth: one session token per member (each member is its own user). */
	tokens?: string[];
	size: number;
};

export type WorkerPlan = {
	target: TargetKind;
	wsUrl: string;
	/** Cluster: every node's /ws URL; members of a group are spread over them (cross-node fan-out). */
	wsUrls?: string[];
	/** Hearth checks the Origin header of the upgrade (cross-site WebSocket hijacking). */
	origin?: string;
	groups: GroupPlan[];
	payloadBytes: number;
	/** Handshakes in flight at once while connecting. */
	connectConcurrency: number;
	/** A client that is not `ready` within this time counts as failed. */
	connectTimeoutMs: number;
};

export type ParentToWorker =
	/** Connects the plan's clients; with `firstGroups`, only the members of that many groups (the rest on `connect-rest`). */
	| { cmd: 'connect'; plan: WorkerPlan; firstGroups?: number }
	| { cmd: 'connect-rest' }
	/** Open loop: send this many messages per second (this worker's share), whatever the replies do. */
	| { cmd: 'open-loop'; messagesPerSecond: number }
	/** Closed loop: keep this many messages per group in flight (sent, not yet received by every member). */
	| { cmd: 'closed-loop'; inflightPerGroup: number }
	/** Start of the measured window: counters restart, later sends are "measured". */
	| { cmd: 'measure' }
	/** End of the window: stop sending, wait for outstanding deliveries, report. */
	| { cmd: 'finish'; drainTimeoutMs: number }
	/**
	 * Reconnect storm: every client's socket is cut at once, and all reconnect at once (Hearth: each
	 * resumes its channel from the last sequence number it had). Meanwhile the clients already back
	 * keep sending `messagesPerSecond`, so those still away have something to catch up on.
	 */
	| { cmd: 'storm'; messagesPerSecond: number; drainTimeoutMs: number }
	| { cmd: 'close' };

export type ConnectResult = {
	ready: number;
	failed: number;
	/** Why connections failed, with counts (close codes, HTTP statuses, timeouts). */
	failures: Record<string, number>;
	ms: number;
};

export type PhaseResult = {
	windowMs: number;
	/** Messages sent inside the window. */
	sent: number;
	/** Frames carrying a bench message received inside the window (any send time). */
	deliveries: number;
	/** Deliveries per second of the window, to show stability. */
	perSecond: number[];
	/** Send → receive, for messages sent inside the window (received whenever). */
	latency: HistogramJson;
	/** Send → durable ack (Hearth only), for messages sent inside the window. */
	ack: HistogramJson;
	/** How late the open-loop sender was against its schedule (client saturation shows here). */
	sendLag: HistogramJson;
	check: DeliveryCheck;
};

/** Exactly-once delivery, checked over every message of the phase (warm-up included). */
export type DeliveryCheck = {
	messages: number;
	/** Sum over messages of the members that should receive it (all members at send time). */
	expected: number;
	delivered: number;
	/** Expected deliveries that never came (after the drain timeout). */
	missing: number;
	/** A member received a message it already had, or one it should not get. */
	duplicates: number;
	/** A member received a sender's messages out of send order. */
	reordered: number;
	/** Hearth: a member's channel sequence numbers skipped or repeated (gap-free delivery broken). */
	seqGaps: number;
	/** Copies of messages that an earlier phase's drain had given up on (already counted missing). */
	late: number;
	/** Error frames received (rate limits, validation, server errors), by code. */
	errors: Record<string, number>;
	/** Hearth: acks received, and sends never acked by the end of the drain. */
	acks: number;
	acksMissing: number;
};

/** A reconnect storm, from the cut to the last client back (ready, and Hearth: resumed). */
export type StormResult = {
	clients: number;
	/** Back = ready, and for Hearth, the resume answered. */
	back: number;
	failures: Record<string, number>;
	/** Cut → last client back. */
	ms: number;
	/** Cut → each client back. */
	backAfter: HistogramJson;
	/** Messages sent (and acked) while the storm lasted. */
	sent: number;
	acked: number;
	/** Hearth: per client, channel events between its last one before the cut and the group's last one. */
	expectedEvents: number;
	/** …of which never arrived (live or replayed) by the end of the drain, and which arrived twice. */
	missingEvents: number;
	duplicateEvents: number;
	/** Events a client got both live and replayed (the resume overlap; dropped by seq client-side). */
	overlapEvents: number;
	/** Events replayed by resume (the rest came live). */
	replayedEvents: number;
};

export type WorkerStatus = {
	ready: number;
	/** Connections that closed or failed after `ready`, before the parent asked to close. */
	drops: number;
	dropReasons: Record<string, number>;
	socketErrors: number;
};

export type WorkerToParent =
	| { type: 'connected'; result: ConnectResult }
	| { type: 'phase'; result: PhaseResult; status: WorkerStatus }
	| { type: 'closed'; status: WorkerStatus }
	| { type: 'stormed'; result: StormResult }
	| { type: 'fatal'; message: string };
