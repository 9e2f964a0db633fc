// Who is online, idle or offline, as the server reports it, plus this user's own activity: after
// IDLE_AFTER_MS without input the server is told "idle", and "online" again on the next input.
import { IDLE_AFTER_MS } from '#lib/shared/limits.ts';
import type { PresenceStatus, ServerFrameOf } from '#lib/shared/protocol/frames.ts';
import type { RealtimeConnection } from '../realtime/connection.ts';

const ACTIVITY_EVENTS = ['pointerdown', 'keydown', 'wheel', 'touchstart', 'focus'] as const;

export class Presence {
	#statuses = $state<Record<string, PresenceStatus>>({});
	/** This user's own status as last told to the server. */
	self = $state<'online' | 'idle'>('online');
	#connection: RealtimeConnection | null = null;
	#idleTimer: ReturnType<typeof setTimeout> | undefined;

	of(userId: string): PresenceStatus {
		return this.#statuses[userId] ?? 'offline';
	}

	apply(frame: ServerFrameOf<'presence'>): void {
		for (const { userId, status } of frame.users) this.#statuses[userId] = status;
	}

	/** Watches this window for activity; returns the function that stops watching. */
	track(connection: RealtimeConnection): () => void {
		this.#connection = connection;
		const onActivity = () => this.#active();
		for (const type of ACTIVITY_EVENTS) window.addEventListener(type, onActivity, { passive: true, capture: true });
		const offReady = connection.on('ready', () => {
			// A new connection starts "online" on the server: repeat "idle" if that is the truth.
			if (this.self === 'idle') connection.send({ t: 'presence', status: 'idle' });
		});
		this.#armIdle();
		return () => {
			offReady();
			clearTimeout(this.#idleTimer);
			for (const type of ACTIVITY_EVENTS) window.removeEventListener(type, onActivity, { capture: true });
		};
	}

	#active() {
		if (this.self === 'idle') {
			this.self = 'online';
			this.#connection?.send({ t: 'presence', status: 'online' });
		}
		this.#armIdle();
	}

	#armIdle() {
		clearTimeout(this.#idleTimer);
		this.#idleTimer = setTimeout(() => {
			this.self = 'idle';
			this.#connection?.send({ t: 'presence', status: 'idle' });
		}, IDLE_AFTER_MS);
	}
}
