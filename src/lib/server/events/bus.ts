// Notices published after a transaction commits, consumed by the realtime hub (fan-out to sockets).
// Only committed facts travel here: anything published before commit would be "unsafe" (see
// STYLE.md, habit 5). The in-process bus delivers synchronously; a cross-process transport
// (PostgreSQL LISTEN/NOTIFY) can implement the same interface when web and realtime roles split.
import type { ChannelEvent } from '#lib/shared/protocol/frames.ts';
import type { ToDeviceMessage } from '#lib/shared/e2ee.ts';

/** Who may see a channel's events: the members of its community, or the participants of a DM. */
export type ChannelScope = { kind: 'community'; communityId: string } | { kind: 'dm'; userIds: string[] };

export type BusNotice =
	| { type: 'channel.event'; channelId: string; scope: ChannelScope; event: ChannelEvent }
	| { type: 'read'; userId: string; channelId: string; seq: number }
	| { type: 'membership'; communityId: string; userId: string; change: 'joined' | 'left' }
	| { type: 'community.updated'; communityId: string }
	| { type: 'community.deleted'; communityId: string; memberIds: string[] }
	| { type: 'channel.changed'; communityId: string; channelId: string; change: 'created' | 'updated' }
	| { type: 'dm.created'; channelId: string; userIds: string[] }
	| { type: 'sessions.revoked'; sessionIds: string[] }
	/** A user's profile changed; everyone sharing one of these communities or DMs shows it. */
	| { type: 'user.updated'; userId: string; communityIds: string[]; dmChannelIds: string[] }
	/** A user registered or removed an encryption device; everyone sharing a community or DM (and the user) refetches. */
	| { type: 'devices.changed'; userId: string; communityIds: string[]; dmChannelIds: string[] }
	/** To-device messages queued for the device of this session: pushed to its open sockets. */
	| { type: 'to-device'; sessionId: string; messages: ToDeviceMessage[] };

export type BusListener = (notice: BusNotice) => void;

export interface EventBus {
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
