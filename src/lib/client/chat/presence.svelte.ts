// Who is online, idle, busy (do not disturb) or offline, as the server reports it, plus this
// user's own side: their activity (after IDLE_AFTER_MS without input, or HIDDEN_IDLE_AFTER_MS with
// the tab hidden, the server is told "idle"; "online" again on the next input) and the presence
// they chose for all their devices (auto, idle, do not disturb, invisible), kept by the server.
import { IDLE_AFTER_MS } from '#lib/shared/limits.ts';
import type { PresenceChoice } from '#lib/shared/profile.ts';
import type { PresenceStatus, ServerFrameOf } from '#lib/shared/protocol/frames.ts';
import { presenceEntries } from '#lib/shared/protocol/presence-frame.ts';
import type { RealtimeConnection } from '../realtime/connection.ts';

const ACTIVITY_EVENTS = ['pointerdown', 'keydown', 'wheel', 'touchstart', 'focus'] as const;
/** A hidden tab is someone elsewhere; a minute spares the quick look at another tab. */
const HIDDEN_IDLE_AFTER_MS = 60_000;

/** What a dot means, in words (member cards, lists, the DM header). */
export const PRESENCE_STATUS_LABELS: Record<PresenceStatus, string> = { online: 'Online', idle: 'Idle', dnd: 'Do not disturb', offline: 'Offline' };

export const PRESENCE_LABELS: Record<PresenceChoice, string> = {
	auto: 'Online',
	idle: 'Idle',
	dnd: 'Do not disturb',
	invisible: 'Invisible'
};
export const PRESENCE_HINTS: Record<PresenceChoice, string> = {
	auto: 'Idle by itself when you are away',
	idle: 'Shown as away',
	dnd: 'No desktop or push notifications',
	invisible: 'Shown as offline; you can still use everything'
};

export class Presence {
	#statuses = $state<Record<string, PresenceStatus>>({});
	/** This user's own activity as last told to the server. */
	self = $state<'online' | 'idle'>('online');
	/** The presence this user chose (all devices). */
	choice = $state<PresenceChoice>('auto');
	#connection: RealtimeConnection | null = null;
	#idleTimer: ReturnType<typeof setTimeout> | undefined;

	of(userId: string): PresenceStatus {
		return this.#statuses[userId] ?? 'offline';
	}

	/** How this user sees their own dot: the choice, or their activity when it is "auto" (invisible: offline, as others see it). */
	get own(): PresenceStatus {
		switch (this.choice) {
			case 'invisible':
				return 'offline';
			case 'dnd':
				return 'dnd';
			case 'idle':
				return 'idle';
			case 'auto':
				return this.self;
		}
	}

	apply(frame: ServerFrameOf<'presence'>): void {
		for (const { userId, status } of presenceEntries(frame)) this.#statuses[userId] = status;
	}

	/** Chooses a presence for every device; the server keeps it and tells this user's other tabs. */
	async choose(choice: PresenceChoice): Promise<void> {
		if (!this.#connection) throw new Error('Not connected');
		const before = this.choice;
		this.choice = choice;
		try {
			await this.#connection.request({ t: 'presence.set', choice });
		} catch (error) {
			this.choice = before;
			throw error;
		}
	}

	/** Another tab or device chose (the server's `presence.chosen`), or the profile loaded. */
	chosen(choice: PresenceChoice): void {
		this.choice = choice;
	}

	/** Watches this window for activity; returns the function that stops watching. */
	track(connection: RealtimeConnection): () => void {
		this.#connection = connection;
		const onActivity = () => this.#active();
		const onVisibility = () => (document.visibilityState === 'hidden' ? this.#armIdle(HIDDEN_IDLE_AFTER_MS) : this.#active());
		for (const type of ACTIVITY_EVENTS) window.addEventListener(type, onActivity, { passive: true, capture: true });
		document.addEventListener('visibilitychange', onVisibility);
		const offReady = connection.on('ready', () => {
			// A new connection starts "online" on the server: repeat "idle" if that is the truth.
			if (this.self === 'idle') connection.send({ t: 'presence', status: 'idle' });
		});
		this.#armIdle(document.visibilityState === 'hidden' ? HIDDEN_IDLE_AFTER_MS : IDLE_AFTER_MS);
		return () => {
			offReady();
			clearTimeout(this.#idleTimer);
			document.removeEventListener('visibilitychange', onVisibility);
			for (const type of ACTIVITY_EVENTS) window.removeEventListener(type, onActivity, { capture: true });
		};
	}

	#active() {
		if (this.self === 'idle') {
			this.self = 'online';
			this.#connection?.send({ t: 'presence', status: 'online' });
		}
		this.#armIdle(IDLE_AFTER_MS);
	}

	#armIdle(afterMs: number) {
		clearTimeout(this.#idleTimer);
		this.#idleTimer = setTimeout(() => {
			if (this.self === 'idle') return;
			this.self = 'idle';
			this.#connection?.send({ t: 'presence', status: 'idle' });
		}, afterMs);
	}
}
