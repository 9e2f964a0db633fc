// Notices published after a transaction commits, consumed by the realtime hub (fan-out to sockets).
// Only committed facts travel here: anything published before commit would be "unsafe" (see
// STYLE.md, habit 5), except the ephemeral notices (typing), which are not facts of the database.
// The in-process bus (the default) delivers synchronously; in cluster mode redis-event-bus.ts
// carries the same notices between nodes (a Redis Stream for committed ones, pub/sub for the
// ephemeral ones), so everything that changes or closes sockets works whichever node holds them.
import type { ChannelEvent, PresenceStatus } from '#lib/shared/protocol/frames.ts';
import type { ToDeviceMessage } from '#lib/shared/e2ee.ts';
import type { PresenceChoice } from '#lib/shared/profile.ts';

/** Who may see a channel's events: the members of its community, or the participants of a DM. */
export type ChannelScope = { kind: 'community'; communityId: string } | { kind: 'dm'; userIds: string[] };

export type BusNotice =
	| { type: 'channel.event'; channelId: string; scope: ChannelScope; event: ChannelEvent }
	| { type: 'read'; userId: string; channelId: string; seq: number }
	/** A user followed, unfollowed or read a thread: their other tabs and devices update its marker. */
	| { type: 'thread.mark'; userId: string; channelId: string; rootId: string; following: boolean; lastReadSeq: number }
	| { type: 'membership'; communityId: string; userId: string; change: 'joined' | 'left' }
	| { type: 'community.updated'; communityId: string }
	| { type: 'community.deleted'; communityId: string; memberIds: string[] }
	| { type: 'channel.changed'; communityId: string; channelId: string; change: 'created' | 'updated' }
	| { type: 'dm.created'; channelId: string; userIds: string[] }
	| { type: 'sessions.revoked'; sessionIds: string[] }
	/** A user's profile changed; everyone sharing one of these communities or DMs shows it. */
	| { type: 'user.updated'; userId: string; communityIds: string[]; dmChannelIds: string[] }
	/** A user chose a presence (services/profiles.ts): every node's hub applies it to what others see. */
	| { type: 'presence.chosen'; userId: string; choice: PresenceChoice }
	/** A user registered or removed an encryption device; everyone sharing a community or DM (and the user) refetches. */
	| { type: 'devices.changed'; userId: string; communityIds: string[]; dmChannelIds: string[] }
	/** To-device messages queued for the device of this session: pushed to its open sockets. */
	| { type: 'to-device'; sessionId: string; messages: ToDeviceMessage[] }
	/** Ephemeral: someone is typing in a channel (communityId null: a DM channel); the typist's own sockets are skipped. */
	| { type: 'typing'; channelId: string; communityId: string | null; userId: string }
	/**
	 * Ephemeral (cluster mode): the presence of users as one node sees its own sockets. `full` lists
	 * every user with a socket there and replaces what was known of that node (after a join or an
	 * outage); otherwise only changes. Scopes say who may see it. `ask`: the sender may have missed
	 * announcements (its pub/sub was down) and asks every node to answer with its full state.
	 */
	| { type: 'presence'; nodeId: string; full: boolean; ask?: boolean; users: NodePresence[] }
	/**
	 * Push routing hints changed (services/push.ts): a user subscribed a browser, or set a level.
	 * Every node keeps them in memory so a message costs no query when nobody can get a push.
	 */
	| { type: 'push.routing'; userId: string; subscribed?: true; level?: { targetId: string; level: 'all' | 'mentions' | 'none' | null } }
	/**
	 * The instance settings row changed (services/instance.ts): every node drops its cached copy and
	 * reads it again, so none serves a stale setting. `updatedAt` (ms) lets the node that made the
	 * change (it holds that very row) skip the read.
	 */
	| { type: 'instance.settings'; updatedAt: number }
	/** Local only (cluster mode): another node started heartbeating, or stopped. */
	| { type: 'node.joined' | 'node.left'; nodeId: string }
	/**
	 * This node may have missed notices (Redis was unreachable, or a peer died between a commit and
	 * its publish): whoever holds state built from notices re-checks it against the database. Only
	 * the cluster bus emits it, locally; it never travels between nodes.
	 */
	| { type: 'notices.missed'; reason: string }
	/** This node fell too far behind in a channel to replay it (cluster bus, local only): its sockets refetch it. */
	| { type: 'channel.resync'; channelId: string; scope: ChannelScope; lastSeq: number };

/** A user's presence on one node, with the communities and DMs whose members may see it. */
export type NodePresence = { userId: string; status: PresenceStatus; communityIds: string[]; dmChannelIds: string[] };

/** Notices that are not facts of the database: best effort, never replayed (pub/sub in cluster mode). */
export const EPHEMERAL_NOTICE_TYPES: ReadonlySet<BusNotice['type']> = new Set(['typing', 'presence']);

/** Notices about this node's own view, never sent to other nodes. */
export const LOCAL_ONLY_NOTICE_TYPES: ReadonlySet<BusNotice['type']> = new Set(['notices.missed', 'channel.resync', 'node.joined', 'node.left']);

export type BusListener = (notice: BusNotice) => void;

export interface EventBus {
	/** Delivers to this process's listeners at once (and, in cluster mode, to the other nodes'). */
	publish(notices: BusNotice[]): void;
	subscribe(listener: BusListener): () => void;
}

export class LocalEventBus implements EventBus {
	#listeners = new Set<BusListener>();
	#onListenerError: (error: unknown) => void;

	constructor(onListenerError: (error: unknown) => void) {
		this.#onListenerError = onListenerError;
	}

	publish(notices: BusNotice[]): void {
		for (const notice of notices) {
			for (const listener of this.#listeners) {
				try {
					listener(notice);
				} catch (error) {
					// A failing subscriber must not stop delivery to the others; clients catch up on resume.
					this.#onListenerError(error);
				}
			}
		}
	}

	subscribe(listener: BusListener): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}
}
