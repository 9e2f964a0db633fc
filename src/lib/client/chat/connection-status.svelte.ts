// What the connection banner shows. The connection's own states are too fine-grained for people:
// they see "Connecting…" only if the first connection is slow, "Reconnecting…" whenever a
// connection was lost or an attempt failed, and a short "Connected" once it is back.
import type { ConnectionState, RealtimeConnection } from '../realtime/connection.ts';

export type Banner = 'connecting' | 'reconnecting' | 'restored' | null;

// A first connection faster than this shows no banner at all.
const SLOW_FIRST_CONNECT_MS = 1500;
// How long "Connected" stays after a reconnect.
const RESTORED_VISIBLE_MS = 2500;

export class ConnectionStatus {
	state = $state<ConnectionState>('idle');
	banner = $state<Banner>(null);
	#everOpened = false;
	#timer: ReturnType<typeof setTimeout> | undefined;

	attach(connection: RealtimeConnection): () => void {
		this.state = connection.state;
		clearTimeout(this.#timer);
		this.#timer = setTimeout(() => {
			if (!this.#everOpened && this.state !== 'open' && this.state !== 'closed') this.banner = 'connecting';
		}, SLOW_FIRST_CONNECT_MS);
		return connection.on('state', (state) => this.#onState(state));
	}

	get online(): boolean {
		return this.state === 'open';
	}

	#onState(state: ConnectionState) {
		this.state = state;
		if (state === 'open') {
			const wasDown = this.banner === 'reconnecting' || this.banner === 'connecting';
			this.#everOpened = true;
			clearTimeout(this.#timer);
			this.banner = wasDown ? 'restored' : null;
			if (wasDown) this.#timer = setTimeout(() => (this.banner = null), RESTORED_VISIBLE_MS);
			return;
		}
		if (state === 'closed') {
			clearTimeout(this.#timer);
			this.banner = null;
			return;
		}
		// "waiting" always follows a failure (dropped, refused, offline), so it is a reconnection even
		// when the very first attempt failed.
		if (state === 'waiting' || (this.#everOpened && state === 'connecting')) {
			clearTimeout(this.#timer);
			this.banner = 'reconnecting';
		}
	}

	dispose(): void {
		clearTimeout(this.#timer);
	}
}
