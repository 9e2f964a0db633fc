// Messages the user sent that the server has not acknowledged yet. Each is stored (localStorage in
// the browser) before it is first sent, and resent with the same client id after every reconnect
// until an ack arrives: the server treats a repeated client id as the same message, so a retry can
// never duplicate and a dropped connection, a server restart or a page reload can never lose one.
//
// End-to-end encryption: an item keeps what the user wrote (`payload`, the plaintext body) until it
// is first sent; it is sealed (encrypted) at that moment, while connected, so the current channel
// devices and keys are used, and the sealed payload is kept on the item so every resend carries
// the identical ciphertext (the server deduplicates by client id). The plaintext therefore only
// ever waits in this tab's memory and this browser's localStorage, never on the server. If sealing
// fails the item fails visibly (Retry / Discard): nothing is ever sent unencrypted instead.
import type { RealtimeConnection } from './connection.ts';
import type { Mentions } from '#lib/shared/mentions.ts';
import { Disconnected, RequestFailed } from './connection.ts';

export type OutboxItem = {
	clientId: string;
	channelId: string;
	/** What the user wrote (the plaintext body). Stays on this device. */
	payload: string;
	/** What goes on the wire, once sealed; resends reuse it. */
	sealed?: string;
	replyToId?: string;
	/** The routing field sent beside the ciphertext (the sealed content repeats it). */
	mentions?: Mentions;
	/** A thread reply: the thread's root message (routing field). */
	threadRootId?: string;
	createdAt: string;
	/** Set when the server refused the message for good (too large, no access): shown, not retried. */
	error?: { code: string; message: string };
};

export type SendAck = { clientId: string; channelId: string; messageId: string; seq: number };

export interface OutboxStorage {
	load(): OutboxItem[];
	save(items: OutboxItem[]): void;
}

export class MemoryOutboxStorage implements OutboxStorage {
	items: OutboxItem[] = [];
	load() {
		return structuredClone(this.items);
	}
	save(items: OutboxItem[]) {
		this.items = structuredClone(items);
	}
}

export class LocalStorageOutbox implements OutboxStorage {
	#key: string;
	constructor(userId: string) {
		this.#key = `hearth:outbox:${userId}`;
	}
	load(): OutboxItem[] {
		try {
			const data = JSON.parse(localStorage.getItem(this.#key) ?? '[]') as unknown;
			return Array.isArray(data) ? (data as OutboxItem[]) : [];
		} catch {
			return [];
		}
	}
	save(items: OutboxItem[]) {
		try {
			if (items.length === 0) localStorage.removeItem(this.#key);
			else localStorage.setItem(this.#key, JSON.stringify(items));
		} catch {
			// Storage full or disabled: the in-memory copy still retries until the tab closes.
		}
	}
}

// Sends in flight at once. Enough to hide latency when catching up after a reconnect; small
// enough to stay inside the server's per-connection rate limit burst.
const MAX_IN_FLIGHT = 16;

/** Turns a plaintext body into the payload the server stores (encrypts it); throws when it cannot. */
export type SealPayload = (item: { channelId: string; payload: string }) => Promise<string>;

/** Without encryption the payload goes out as written. */
const sendAsWritten: SealPayload = async (item) => item.payload;

export class SealFailed extends Error {
	constructor(cause: unknown) {
		super(cause instanceof Error ? cause.message : 'The message could not be encrypted.');
		this.name = 'SealFailed';
	}
}

export class Outbox {
	#connection: RealtimeConnection;
	#storage: OutboxStorage;
	#items: OutboxItem[];
	#inFlight = new Set<string>();
	#retryTimer: ReturnType<typeof setTimeout> | undefined;
	#onChange: () => void;
	#onAck: (ack: SendAck) => void;
	#seal: SealPayload;

	constructor(options: {
		connection: RealtimeConnection;
		storage: OutboxStorage;
		onChange?: () => void;
		onAck?: (ack: SendAck) => void;
		seal?: SealPayload;
	}) {
		this.#seal = options.seal ?? sendAsWritten;
		this.#connection = options.connection;
		this.#storage = options.storage;
		this.#items = this.#storage.load();
		this.#onChange = options.onChange ?? (() => {});
		this.#onAck = options.onAck ?? (() => {});
		this.#connection.on('ready', () => this.pump());
	}

	get items(): readonly OutboxItem[] {
		return this.#items;
	}

	/** Unsent messages of a channel's own timeline, or (with threadRootId) of one of its threads. */
	pendingFor(channelId: string, threadRootId?: string): OutboxItem[] {
		return this.#items.filter((item) => item.channelId === channelId && item.threadRootId === threadRootId);
	}

	enqueue(input: { channelId: string; payload: string; replyToId?: string; mentions?: Mentions | null; threadRootId?: string }): OutboxItem {
		const item: OutboxItem = {
			clientId: crypto.randomUUID(),
			channelId: input.channelId,
			payload: input.payload,
			...(input.replyToId ? { replyToId: input.replyToId } : {}),
			...(input.mentions ? { mentions: input.mentions } : {}),
			...(input.threadRootId ? { threadRootId: input.threadRootId } : {}),
			createdAt: new Date().toISOString()
		};
		this.#items.push(item);
		this.#persist();
		this.pump();
		return item;
	}

	/** Puts a message the server refused back in the queue (after the cause was fixed). */
	retry(clientId: string): void {
		const item = this.#items.find((i) => i.clientId === clientId);
		if (!item?.error) return;
		delete item.error;
		// A refused message was never stored: seal it afresh, with the keys of now.
		delete item.sealed;
		this.#persist();
		this.pump();
	}

	discard(clientId: string): void {
		this.#items = this.#items.filter((i) => i.clientId !== clientId);
		this.#persist();
	}

	/** Sends whatever is waiting, in order, up to the in-flight limit. */
	pump(): void {
		if (this.#connection.state !== 'open') return;
		for (const item of this.#items) {
			if (this.#inFlight.size >= MAX_IN_FLIGHT) break;
			if (item.error || this.#inFlight.has(item.clientId)) continue;
			this.#send(item);
		}
	}

	async #send(item: OutboxItem) {
		this.#inFlight.add(item.clientId);
		let continueNow = true;
		try {
			if (item.sealed === undefined) {
				try {
					item.sealed = await this.#seal({ channelId: item.channelId, payload: item.payload });
				} catch (error) {
					throw new SealFailed(error);
				}
				this.#persist();
			}
			const result = await this.#connection.request({
				t: 'message.send',
				channelId: item.channelId,
				clientId: item.clientId,
				payload: item.sealed,
				...(item.replyToId ? { replyToId: item.replyToId } : {}),
				...(item.mentions ? { mentions: item.mentions } : {}),
				...(item.threadRootId ? { threadRootId: item.threadRootId } : {})
			});
			this.#items = this.#items.filter((i) => i.clientId !== item.clientId);
			this.#persist();
			this.#onAck({ clientId: item.clientId, channelId: item.channelId, messageId: String(result.messageId), seq: Number(result.seq) });
		} catch (error) {
			if (error instanceof SealFailed) {
				item.error = { code: 'encryption_failed', message: `Could not encrypt it (${error.message}).` };
				this.#persist();
			} else if (error instanceof RequestFailed && !error.retryable) {
				item.error = { code: error.code, message: error.message };
				this.#persist();
			} else if (error instanceof RequestFailed) {
				// Rate-limited or a server hiccup: wait as told, then resend the same message.
				continueNow = false;
				clearTimeout(this.#retryTimer);
				this.#retryTimer = setTimeout(() => this.pump(), error.retryAfterMs ?? 1000);
			} else if (!(error instanceof Disconnected)) {
				throw error;
			}
			// Disconnected: stays queued; the next `ready` pumps it again.
		} finally {
			this.#inFlight.delete(item.clientId);
			if (continueNow) this.pump();
		}
	}

	#persist() {
		this.#storage.save(this.#items);
		this.#onChange();
	}
}
