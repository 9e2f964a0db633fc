// The /ws wire catalogue: every frame type in each direction, as runtime schemas that reject unknown
// keys. Client and server import these definitions; nothing about the wire is declared twice.
//
// Frames are JSON objects with a discriminator `t`. Requests that expect an answer carry `id` (chosen
// by the client); the server answers with `ack` (same id, a `result`) or `error` (same id).
import * as v from 'valibot';
import { issueMessage, parseJsonText } from '../validation.ts';
import { DtlsParametersSchema, mediaParameters, RtpCapabilitiesSchema, RtpParametersSchema } from './media-parameters.ts';
import { Mentions } from '../mentions.ts';
import { PresenceChoice } from '../profile.ts';

const Id = v.pipe(v.string(), v.uuid());
/** Correlates a request with its ack/error. Client-chosen, short. */
const RequestId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
const Seq = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
/** Idempotency key of a send: a retry with the same key never creates a second message. */
const ClientId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{8,64}$/, 'clientId must be 8-64 url-safe characters'));
/** Opaque body; the byte limit is configurable and enforced by the server separately. */
const Payload = v.pipe(v.string(), v.minLength(1));
// 128: encrypted reaction keys (a deterministic ciphertext of the emoji, base64url) need more than an emoji.
const ReactionKey = v.pipe(v.string(), v.minLength(1), v.maxLength(128));
const Timestamp = v.string();
/** mediasoup's own ids (transports, producers, consumers): uuids. */
const MediaId = v.pipe(v.string(), v.uuid());
/** mediasoup parameter objects, checked by shape (media-parameters.ts) before mediasoup sees them. */
const DtlsParameters = mediaParameters(DtlsParametersSchema);
const RtpParameters = mediaParameters(RtpParametersSchema);
const RtpCapabilities = mediaParameters(RtpCapabilitiesSchema);
const MediaKind = v.picklist(['audio', 'video']);
/** What a producer carries, so the others' interfaces can place it (and moderators mute the mic). */
const MediaSource = v.picklist(['mic', 'camera', 'screen', 'screen-audio']);

// ---------------------------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------------------------

export const MAX_RESUME_CURSORS = 1000;

export const clientFrames = {
	/** Replay what this client missed: events with seq greater than each cursor. */
	resume: v.strictObject({
		t: v.literal('resume'),
		id: RequestId,
		cursors: v.pipe(
			v.array(v.strictObject({ channelId: Id, seq: Seq })),
			v.maxLength(MAX_RESUME_CURSORS)
		)
	}),
	'message.send': v.strictObject({
		t: v.literal('message.send'),
		id: RequestId,
		channelId: Id,
		clientId: ClientId,
		payload: Payload,
		replyToId: v.optional(Id),
		/** Routing field: who the (encrypted) message mentions; the content repeats it. */
		mentions: v.optional(Mentions),
		/** Routing field: a reply in the thread of this message (of the same channel; not itself a reply). */
		threadRootId: v.optional(Id)
	}),
	'message.edit': v.strictObject({
		t: v.literal('message.edit'),
		id: RequestId,
		messageId: Id,
		payload: Payload
	}),
	'message.delete': v.strictObject({
		t: v.literal('message.delete'),
		id: RequestId,
		messageId: Id
	}),
	/** Pins a message to its channel's pinned list (permission "pin messages"; anyone in a DM). */
	'message.pin': v.strictObject({
		t: v.literal('message.pin'),
		id: RequestId,
		messageId: Id
	}),
	'message.unpin': v.strictObject({
		t: v.literal('message.unpin'),
		id: RequestId,
		messageId: Id
	}),
	'reaction.add': v.strictObject({
		t: v.literal('reaction.add'),
		id: RequestId,
		messageId: Id,
		key: ReactionKey
	}),
	'reaction.remove': v.strictObject({
		t: v.literal('reaction.remove'),
		id: RequestId,
		messageId: Id,
		key: ReactionKey
	}),
	/** Marks the channel read up to seq (never moves backwards). */
	read: v.strictObject({
		t: v.literal('read'),
		id: v.optional(RequestId),
		channelId: Id,
		seq: Seq
	}),
	/** "I am typing" — relayed to the channel's other members, never stored. */
	typing: v.strictObject({
		t: v.literal('typing'),
		channelId: Id
	}),
	/** This connection's activity: idle after inactivity (or a hidden tab), online again on input. */
	presence: v.strictObject({
		t: v.literal('presence'),
		status: v.picklist(['online', 'idle'])
	}),
	/** The presence this person chooses for all their devices (kept across reconnects). */
	'presence.set': v.strictObject({
		t: v.literal('presence.set'),
		id: RequestId,
		choice: PresenceChoice
	}),
	/**
	 * Calls (voice channels). A connection is in at most one call at a time, so the frames after
	 * call.join act on that call and name no channel; they answer not_in_call otherwise.
	 */
	'call.join': v.strictObject({ t: v.literal('call.join'), id: RequestId, channelId: Id }),
	'call.leave': v.strictObject({ t: v.literal('call.leave'), id: RequestId }),
	'call.transport.create': v.strictObject({
		t: v.literal('call.transport.create'),
		id: RequestId,
		direction: v.picklist(['send', 'recv'])
	}),
	'call.transport.connect': v.strictObject({
		t: v.literal('call.transport.connect'),
		id: RequestId,
		transportId: MediaId,
		dtlsParameters: DtlsParameters
	}),
	'call.produce': v.strictObject({
		t: v.literal('call.produce'),
		id: RequestId,
		transportId: MediaId,
		kind: MediaKind,
		source: MediaSource,
		rtpParameters: RtpParameters
	}),
	'call.producer.close': v.strictObject({ t: v.literal('call.producer.close'), id: RequestId, producerId: MediaId }),
	'call.producer.pause': v.strictObject({ t: v.literal('call.producer.pause'), id: RequestId, producerId: MediaId }),
	'call.producer.resume': v.strictObject({ t: v.literal('call.producer.resume'), id: RequestId, producerId: MediaId }),
	/** Receive another participant's producer; the consumer starts paused until call.consumer.resume. */
	'call.consume': v.strictObject({
		t: v.literal('call.consume'),
		id: RequestId,
		transportId: MediaId,
		producerId: MediaId,
		rtpCapabilities: RtpCapabilities
	}),
	'call.consumer.resume': v.strictObject({ t: v.literal('call.consumer.resume'), id: RequestId, consumerId: MediaId }),
	/**
	 * Which simulcast layer of a received camera this client wants (0: the lowest, for thumbnails;
	 * 2: full resolution, for a focused tile). The SFU forwards at most that layer.
	 */
	'call.consumer.layers': v.strictObject({
		t: v.literal('call.consumer.layers'),
		id: RequestId,
		consumerId: MediaId,
		spatialLayer: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2))
	}),
	/** The browser's transport lost connectivity: new ICE parameters (ufrag/password) for an ICE restart. */
	'call.transport.restartIce': v.strictObject({ t: v.literal('call.transport.restartIce'), id: RequestId, transportId: MediaId }),
	/** Moderators: mute (pauses the microphone until unmute), unmute, or remove a participant. */
	'call.moderate': v.strictObject({
		t: v.literal('call.moderate'),
		id: RequestId,
		channelId: Id,
		userId: Id,
		action: v.picklist(['mute', 'unmute', 'remove'])
	}),
	/** Application-level heartbeat so the browser can detect a dead connection. */
	ping: v.strictObject({
		t: v.literal('ping'),
		id: RequestId
	})
} as const;

export type ClientFrameType = keyof typeof clientFrames;
export type ClientFrame = { [K in ClientFrameType]: v.InferOutput<(typeof clientFrames)[K]> }[ClientFrameType];
export type ClientFrameOf<K extends ClientFrameType> = v.InferOutput<(typeof clientFrames)[K]>;

// ---------------------------------------------------------------------------------------------
// Views shared by REST responses and server → client frames
// ---------------------------------------------------------------------------------------------

export const ReactionSummary = v.strictObject({ key: ReactionKey, userIds: v.array(Id) });

/** A thread root's replies as of an event: how many (not deleted), the newest one's time and seq. */
export const ThreadSummary = v.strictObject({
	replyCount: v.pipe(v.number(), v.integer(), v.minValue(0)),
	lastReplyAt: v.nullable(Timestamp),
	lastReplySeq: v.nullable(Seq)
});
export type ThreadSummary = v.InferOutput<typeof ThreadSummary>;
/** An event's news for a thread root: its summary after the event (set, not added: replays are harmless). */
export const ThreadUpdate = v.strictObject({ rootId: Id, ...ThreadSummary.entries });
export type ThreadUpdate = v.InferOutput<typeof ThreadUpdate>;

export const MessageView = v.strictObject({
	id: Id,
	channelId: Id,
	seq: Seq,
	authorId: Id,
	clientId: v.string(),
	/** Empty once deleted. */
	payload: v.string(),
	replyToId: v.nullable(Id),
	createdAt: Timestamp,
	editedAt: v.nullable(Timestamp),
	deletedAt: v.nullable(Timestamp),
	reactions: v.array(ReactionSummary),
	/** Who it mentions, as its sender stated beside the ciphertext (absent: nobody). */
	mentions: v.optional(Mentions),
	/** When it was pinned to its channel (absent: not pinned). */
	pinnedAt: v.optional(Timestamp),
	/** When the server deletes it (sent while the conversation had disappearing messages on). */
	expiresAt: v.optional(Timestamp),
	/** A thread reply: the root message it answers (absent: a message of the channel itself). */
	threadRootId: v.optional(Id),
	/** A thread root: its replies so far (absent: nobody replied in a thread). */
	thread: v.optional(ThreadSummary)
});
export type MessageView = v.InferOutput<typeof MessageView>;

export const UserView = v.strictObject({
	id: Id,
	username: v.string(),
	displayName: v.string(),
	/** The avatar's versioned URL, in member lists and DM peers (absent: none, or not carried here). */
	avatarUrl: v.optional(v.string()),
	/** The custom status, in member lists and DM peers while it has not expired (absent: none). */
	status: v.optional(v.strictObject({ emoji: v.string(), text: v.string(), expiresAt: v.nullable(Timestamp) }))
});
export type UserView = v.InferOutput<typeof UserView>;

export const ChannelView = v.strictObject({
	id: Id,
	communityId: v.nullable(Id),
	kind: v.picklist(['text', 'voice', 'dm']),
	name: v.string(),
	topic: v.string(),
	position: v.number(),
	/** Seconds members wait between two messages; 0: off. */
	slowModeSeconds: v.number(),
	/** Disappearing messages: new messages are deleted this many seconds after sending; 0: off. */
	disappearingSeconds: v.number(),
	/** Archived channels are read-only. */
	archived: v.boolean(),
	/** Per-role allow/deny of channel permissions (ChannelOverrides); empty for DMs. */
	permissionOverrides: v.record(v.string(), v.strictObject({ allow: v.array(v.string()), deny: v.array(v.string()) })),
	/** Whether the caller may post here now (role, channel overrides, archive). */
	canSend: v.boolean(),
	lastSeq: Seq,
	lastReadSeq: Seq,
	unreadCount: v.number(),
	/** Unread messages that mention the caller (by the routing field; the client checks the content). */
	mentionCount: v.number(),
	/** For DMs: the other participant. */
	peer: v.nullable(UserView)
});
export type ChannelView = v.InferOutput<typeof ChannelView>;

const eventBase = { seq: Seq, at: Timestamp, actorId: v.nullable(Id) };

export const ChannelEvent = v.variant('type', [
	/** A thread reply's event carries its root's new summary (`thread`), so counts update live. */
	v.strictObject({ ...eventBase, type: v.literal('message.created'), message: MessageView, thread: v.optional(ThreadUpdate) }),
	v.strictObject({
		...eventBase,
		type: v.literal('message.edited'),
		messageId: Id,
		payload: v.string(),
		editedAt: Timestamp
	}),
	v.strictObject({ ...eventBase, type: v.literal('message.deleted'), messageId: Id, thread: v.optional(ThreadUpdate) }),
	v.strictObject({ ...eventBase, type: v.literal('reaction.added'), messageId: Id, userId: Id, key: ReactionKey }),
	v.strictObject({ ...eventBase, type: v.literal('reaction.removed'), messageId: Id, userId: Id, key: ReactionKey }),
	/** `user` is who pinned or unpinned it (the channel shows a notice). */
	v.strictObject({ ...eventBase, type: v.picklist(['message.pinned', 'message.unpinned']), messageId: Id, user: UserView }),
	/** `user` set the conversation's disappearing-messages timer to `seconds` (0: off). */
	v.strictObject({ ...eventBase, type: v.literal('disappearing.set'), seconds: v.number(), user: UserView }),
	v.strictObject({ ...eventBase, type: v.literal('member.joined'), user: UserView }),
	v.strictObject({ ...eventBase, type: v.literal('member.left'), user: UserView })
]);
export type ChannelEvent = v.InferOutput<typeof ChannelEvent>;
export type ChannelEventType = ChannelEvent['type'];

/** A producer someone in a call offers. */
export const CallProducerView = v.strictObject({ producerId: MediaId, peerId: v.string(), userId: Id, kind: MediaKind, source: MediaSource, paused: v.boolean() });
export type CallProducerView = v.InferOutput<typeof CallProducerView>;
/**
 * One participant: a connection (a person may join from two devices, each a peer), with the
 * encryption device of its session, to which the others send their call media keys (null: none).
 */
export const CallParticipantView = v.strictObject({ peerId: v.string(), userId: Id, deviceId: v.nullable(Id), mutedByModerator: v.boolean() });
export type CallParticipantView = v.InferOutput<typeof CallParticipantView>;
/** Why a call ended for this client, and whether joining again can help. */
export const CallEndReason = v.picklist(['removed', 'server_error', 'shutdown', 'access_lost']);

/** What others see: `dnd` is do-not-disturb; someone invisible is `offline` to everyone else. */
export const PresenceStatus = v.picklist(['online', 'idle', 'dnd', 'offline']);
export type PresenceStatus = v.InferOutput<typeof PresenceStatus>;

// ---------------------------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------------------------

export const serverFrames = {
	ready: v.strictObject({
		t: v.literal('ready'),
		userId: Id,
		connectionId: v.string(),
		heartbeatMs: v.number(),
		limits: v.strictObject({
			messageMaxBytes: v.number(),
			maxFrameBytes: v.number(),
			/** Largest encrypted attachment: checked before uploading, since an oversized upload is cut off mid-body. */
			uploadMaxBytes: v.optional(v.number())
		})
	}),
	/** One live event in a channel. */
	event: v.strictObject({ t: v.literal('event'), channelId: Id, event: ChannelEvent }),
	/** A batch of replayed events (answer to resume), in seq order. */
	events: v.strictObject({ t: v.literal('events'), channelId: Id, events: v.array(ChannelEvent) }),
	/** The client is too far behind in this channel: drop local state and refetch it. */
	resync: v.strictObject({ t: v.literal('resync'), channelId: Id, lastSeq: Seq }),
	ack: v.strictObject({ t: v.literal('ack'), id: RequestId, result: v.optional(v.record(v.string(), v.unknown())) }),
	error: v.strictObject({
		t: v.literal('error'),
		id: v.optional(RequestId),
		code: v.string(),
		message: v.string(),
		retryAfterMs: v.optional(v.number())
	}),
	typing: v.strictObject({ t: v.literal('typing'), channelId: Id, userId: Id }),
	/** Statuses of some users, their ids grouped by status (presence-frame.ts builds and reads it). */
	presence: v.strictObject({
		t: v.literal('presence'),
		online: v.optional(v.array(Id)),
		idle: v.optional(v.array(Id)),
		dnd: v.optional(v.array(Id)),
		offline: v.optional(v.array(Id))
	}),
	/** This user chose a presence (on this or another device): every tab shows the choice. */
	'presence.chosen': v.strictObject({ t: v.literal('presence.chosen'), choice: PresenceChoice }),
	/** This user's read marker moved (from another tab or device). */
	read: v.strictObject({ t: v.literal('read'), channelId: Id, seq: Seq }),
	/** This user followed, unfollowed or read a thread (from another tab or device). */
	'thread.mark': v.strictObject({ t: v.literal('thread.mark'), channelId: Id, rootId: Id, following: v.boolean(), lastReadSeq: Seq }),
	/** Something in the sidebar changed (channel created, community joined or left): refetch it. */
	'directory.changed': v.strictObject({
		t: v.literal('directory.changed'),
		communityId: v.nullable(Id),
		reason: v.picklist(['channel.created', 'channel.updated', 'community.updated', 'community.joined', 'community.left', 'dm.created', 'user.updated'])
	}),
	pong: v.strictObject({ t: v.literal('pong'), id: RequestId }),
	'call.participant.joined': v.strictObject({ t: v.literal('call.participant.joined'), channelId: Id, participant: CallParticipantView }),
	'call.participant.left': v.strictObject({ t: v.literal('call.participant.left'), channelId: Id, peerId: v.string(), userId: Id }),
	/** Someone else started sending: consume it with call.consume. */
	'call.producer.new': v.strictObject({ t: v.literal('call.producer.new'), channelId: Id, producer: CallProducerView }),
	'call.producer.closed': v.strictObject({ t: v.literal('call.producer.closed'), channelId: Id, producerId: MediaId }),
	'call.producer.paused': v.strictObject({ t: v.literal('call.producer.paused'), channelId: Id, producerId: MediaId, paused: v.boolean() }),
	/**
	 * Who is speaking now (peer ids whose microphone is above the server's audio-level threshold),
	 * sent when that set changes; empty when everyone is silent.
	 */
	'call.speaking': v.strictObject({ t: v.literal('call.speaking'), channelId: Id, peerIds: v.array(v.string()) }),
	/** A moderator muted (or unmuted) this client's microphone. */
	'call.muted': v.strictObject({ t: v.literal('call.muted'), channelId: Id, muted: v.boolean() }),
	/** This client is no longer in the call; with `rejoin`, joining again is expected to work (the server replaced a failed media worker). */
	'call.ended': v.strictObject({ t: v.literal('call.ended'), channelId: Id, reason: CallEndReason, rejoin: v.boolean() }),
	/** Pairwise ciphertext queued for this connection's device (also fetched with GET /api/to-device); acknowledge with POST /api/to-device/ack. */
	'to-device': v.strictObject({
		t: v.literal('to-device'),
		messages: v.array(
			v.strictObject({ id: v.pipe(v.number(), v.integer()), senderUserId: Id, senderDeviceId: Id, body: v.string(), createdAt: Timestamp })
		)
	}),
	/** This user's set of encryption devices changed (registered or removed): refetch it before encrypting to them. */
	'devices.changed': v.strictObject({ t: v.literal('devices.changed'), userId: Id }),
	/** The server is going away (restart); reconnect after the hinted delay. */
	reconnect: v.strictObject({ t: v.literal('reconnect'), afterMs: v.number() })
} as const;

export type ServerFrameType = keyof typeof serverFrames;
export type ServerFrame = { [K in ServerFrameType]: v.InferOutput<(typeof serverFrames)[K]> }[ServerFrameType];
export type ServerFrameOf<K extends ServerFrameType> = v.InferOutput<(typeof serverFrames)[K]>;

const clientFrameSchema = v.variant('t', Object.values(clientFrames));
const serverFrameSchema = v.variant('t', Object.values(serverFrames));

/** On failure, `id` is the frame's request id when it had a usable one, so the error can answer it. */
export type ParseResult<T> = { ok: true; frame: T } | { ok: false; error: string; id?: string };

function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
	// Paths and expectations only: never echo the offending values back (they may be message bodies).
	return issues
		.slice(0, 3)
		.map((issue) => {
			const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
			const message = issueMessage(issue);
			return path ? `${path}: ${message}` : message;
		})
		.join('; ');
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

export function parseClientFrame(text: string): ParseResult<ClientFrame> {
	const parsed = parseJsonText(text);
	const data = parsed.ok ? parsed.value : undefined;
	if (typeof data !== 'object' || data === null || Array.isArray(data)) {
		return { ok: false, error: 'frame must be a JSON object' };
	}
	// A request that fails validation is still answered by its id: otherwise the client could only
	// time out, and would resend the same invalid request forever.
	const id = v.safeParse(RequestId, (data as { id?: unknown }).id);
	const answerTo = id.success ? { id: id.output } : {};
	const type = (data as { t?: unknown }).t;
	if (typeof type !== 'string' || !Object.hasOwn(clientFrames, type)) {
		return { ok: false, error: 'unknown frame type', ...answerTo };
	}
	if (parsed.ok && parsed.hasNul) return { ok: false, error: 'strings cannot contain NUL characters', ...answerTo };
	const result = v.safeParse(clientFrameSchema, data);
	return result.success ? { ok: true, frame: result.output } : { ok: false, error: describeIssues(result.issues), ...answerTo };
}

export function parseServerFrame(text: string): ParseResult<ServerFrame> {
	const result = v.safeParse(serverFrameSchema, parseJson(text));
	return result.success ? { ok: true, frame: result.output } : { ok: false, error: describeIssues(result.issues) };
}
