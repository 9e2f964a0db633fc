// "Ana is typing…": who is typing where (each signal lasts TYPING_TTL_MS unless renewed, and ends
// when that person's message arrives), and this user's own signals, sent at most once per
// TYPING_THROTTLE_MS per channel.
import { TYPING_THROTTLE_MS, TYPING_TTL_MS } from '#lib/shared/limits.ts';
import type { RealtimeConnection } from '../realtime/connection.ts';

export class Typing {
	/** channelId → userId → when the signal expires (ms since epoch). */
	#active = $state<Record<string, Record<string, number>>>({});
	#lastSent = new Map<string, number>();
	#timer: ReturnType<typeof setInterval> | undefined;
	#connection: RealtimeConnection;

	constructor(connection: RealtimeConnection) {
		this.#connection = connection;
	}

	/** User ids typing in the channel, in the order they started. */
	who(channelId: string): string[] {
		return Object.keys(this.#active[channelId] ?? {});
	}

	received(channelId: string, userId: string): void {
		(this.#active[channelId] ??= {})[userId] = Date.now() + TYPING_TTL_MS;
		this.#timer ??= setInterval(() => this.#prune(), 1000);
	}

	/** Their message arrived: they are no longer typing it. */
	stopped(channelId: string, userId: string): void {
		const channel = this.#active[channelId];
		if (channel && userId in channel) delete channel[userId];
	}

	/** The user typed in the composer of this channel. */
	typed(channelId: string): void {
		const now = Date.now();
		if (now - (this.#lastSent.get(channelId) ?? 0) < TYPING_THROTTLE_MS) return;
		if (this.#connection.send({ t: 'typing', channelId })) this.#lastSent.set(channelId, now);
	}

	/** A message was sent: the next keystroke may signal again right away. */
	sent(channelId: string): void {
		this.#lastSent.delete(channelId);
	}

	#prune() {
		const now = Date.now();
		let any = false;
		for (const [channelId, users] of Object.entries(this.#active)) {
			for (const [userId, expires] of Object.entries(users)) {
				if (expires <= now) delete users[userId];
				else any = true;
			}
			if (Object.keys(users).length === 0) delete this.#active[channelId];
		}
		if (!any) {
			clearInterval(this.#timer);
			this.#timer = undefined;
		}
	}

	dispose(): void {
		clearInterval(this.#timer);
	}
}
