// The product's real client sync engine (ChatSync: connection state machine, outbox, timelines,
// resume) running in Node against a test server, with hooks to break its connection on purpose.
import WebSocket from 'ws';
import { ChatSync } from '#lib/client/chat/chat-sync.ts';
import { RealtimeConnection, type WebSocketLike } from '#lib/client/realtime/connection.ts';
import { MemoryOutboxStorage, type SendAck } from '#lib/client/realtime/outbox.ts';
import type { TestClient } from './clients.ts';

export type SyncClient = {
	sync: ChatSync;
	connection: RealtimeConnection;
	acks: SendAck[];
	/** The sockets created so far (the last one is current). */
	sockets: WebSocket[];
	/** Cuts the TCP connection abruptly, like a network drop. */
	dropConnection(): void;
	/** Stops reading from the socket without closing it: a half-open connection only heartbeats detect. */
	stallConnection(): void;
	stop(): void;
};

export function createSyncClient(client: TestClient, options: { pingIntervalMs?: number; pongTimeoutMs?: number } = {}): SyncClient {
	const sockets: WebSocket[] = [];
	const connection = new RealtimeConnection({
		url: client.server.wsUrl,
		createSocket: (url) => {
			const socket = new WebSocket(url, { headers: { cookie: client.jar.header(), origin: client.server.origin } });
			socket.on('error', () => {}); // reported through onclose
			sockets.push(socket);
			return socket as unknown as WebSocketLike;
		},
		// Fast retries keep the tests short; the shape of the policy is the product's.
		policy: { delayMs: (attempt) => Math.min(1000, 50 * 2 ** attempt) },
		pingIntervalMs: options.pingIntervalMs ?? 1000,
		pongTimeoutMs: options.pongTimeoutMs ?? 1500
	});
	const sync = new ChatSync({ connection, api: client.api, outboxStorage: new MemoryOutboxStorage() });
	const acks: SendAck[] = [];
	sync.on('acked', (ack) => acks.push(ack));
	connection.start();
	return {
		sync,
		connection,
		acks,
		sockets,
		dropConnection() {
			sockets.at(-1)?.terminate();
		},
		stallConnection() {
			(sockets.at(-1) as unknown as { _socket: { pause(): void } })._socket.pause();
		},
		stop() {
			connection.stop();
		}
	};
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await condition())) {
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
}

export function waitOpen(client: SyncClient, timeoutMs = 15_000) {
	return waitUntil(() => client.connection.state === 'open', timeoutMs, 'the connection is open');
}
