// The client's connection state machine, driven by a scripted socket: the network is not what is
// under test here (the integration no-loss tests use real sockets against the real server).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Disconnected, RealtimeConnection, RequestFailed, type WebSocketLike } from '#lib/client/realtime/connection.ts';

const userId = '22222222-2222-4222-8222-222222222222';
const ready = JSON.stringify({ t: 'ready', userId, connectionId: 'c', heartbeatMs: 25_000, limits: { messageMaxBytes: 1, maxFrameBytes: 1 } });

class ScriptedSocket implements WebSocketLike {
	readyState = 0;
	sent: Record<string, unknown>[] = [];
	closedWith: number | undefined;
	onopen = null;
	onmessage: WebSocketLike['onmessage'] = null;
	onclose: WebSocketLike['onclose'] = null;
	onerror = null;
	send(data: string) {
		this.sent.push(JSON.parse(data) as Record<string, unknown>);
	}
	close(code?: number) {
		this.closedWith = code;
	}
	receive(text: string) {
		this.onmessage?.({ data: text });
	}
	drop(code = 1006) {
		this.onclose?.({ code, reason: '' });
	}
}

function setup(timing: { pingIntervalMs: number; pongTimeoutMs: number } = { pingIntervalMs: 5000, pongTimeoutMs: 2000 }) {
	const sockets: ScriptedSocket[] = [];
	const connection = new RealtimeConnection({
		url: 'ws://test/ws',
		createSocket: () => {
			const socket = new ScriptedSocket();
			sockets.push(socket);
			return socket;
		},
		policy: { delayMs: () => 1000 },
		...timing
	});
	return { connection, sockets };
}

describe('RealtimeConnection', () => {
	beforeEach(() => vi.useFakeTimers());
	afterEach(() => vi.useRealTimers());

	it('is open only after the server says ready', () => {
		const { connection, sockets } = setup();
		connection.start();
		expect(connection.state).toBe('connecting');
		sockets[0]!.receive(ready);
		expect(connection.state).toBe('open');
	});

	it('resolves a request with its ack and rejects with its error', async () => {
		const { connection, sockets } = setup();
		connection.start();
		sockets[0]!.receive(ready);
		const ok = connection.request({ t: 'message.delete', messageId: userId });
		const bad = connection.request({ t: 'message.delete', messageId: userId });
		const [first, second] = sockets[0]!.sent as { id: string }[];
		sockets[0]!.receive(JSON.stringify({ t: 'error', id: second!.id, code: 'forbidden', message: 'no' }));
		sockets[0]!.receive(JSON.stringify({ t: 'ack', id: first!.id, result: { seq: 4 } }));
		await expect(ok).resolves.toEqual({ seq: 4 });
		await expect(bad).rejects.toBeInstanceOf(RequestFailed);
	});

	it('rejects pending requests as Disconnected on a drop, then reconnects after the back-off', async () => {
		const { connection, sockets } = setup();
		connection.start();
		sockets[0]!.receive(ready);
		const pending = connection.request({ t: 'message.delete', messageId: userId });
		sockets[0]!.drop();
		await expect(pending).rejects.toBeInstanceOf(Disconnected);
		expect(connection.state).toBe('waiting');
		vi.advanceTimersByTime(1000);
		expect(sockets).toHaveLength(2);
		sockets[1]!.receive(ready);
		expect(connection.state).toBe('open');
		expect(connection.reconnects).toBe(1);
	});

	it('ignores events from a superseded socket', () => {
		const { connection, sockets } = setup();
		connection.start();
		sockets[0]!.receive(ready);
		sockets[0]!.drop();
		vi.advanceTimersByTime(1000);
		sockets[1]!.receive(ready);
		// The old socket reports late: nothing must change.
		sockets[0]!.drop(1006);
		sockets[0]!.receive(JSON.stringify({ t: 'reconnect', afterMs: 1 }));
		expect(connection.state).toBe('open');
		expect(sockets).toHaveLength(2);
	});

	it('gives up for good when the session is gone (close code 4001 or 4002)', () => {
		const { connection, sockets } = setup();
		const terminated = vi.fn();
		connection.on('terminated', terminated);
		connection.start();
		sockets[0]!.drop(4002);
		expect(connection.state).toBe('closed');
		expect(terminated).toHaveBeenCalledWith(4002, '');
		vi.advanceTimersByTime(60_000);
		expect(sockets).toHaveLength(1);
	});

	it('treats a connection that stops answering pings as dead and reconnects', () => {
		const { connection, sockets } = setup();
		connection.start();
		sockets[0]!.receive(ready);
		vi.advanceTimersByTime(5000);
		expect(sockets[0]!.sent.at(-1)).toMatchObject({ t: 'ping' });
		vi.advanceTimersByTime(2000);
		expect(connection.state).toBe('waiting');
		expect(sockets[0]!.closedWith).toBe(4011);
		vi.advanceTimersByTime(1000);
		expect(sockets).toHaveLength(2);
	});

	it('declares a silent connection dead even when it pings more often than the pong timeout', () => {
		const { connection, sockets } = setup({ pingIntervalMs: 1000, pongTimeoutMs: 1500 });
		connection.start();
		sockets[0]!.receive(ready);
		vi.advanceTimersByTime(1000 + 1500);
		expect(connection.state).toBe('waiting');
	});

	it('stays open while the server answers pings', () => {
		const { connection, sockets } = setup();
		connection.start();
		sockets[0]!.receive(ready);
		for (let i = 0; i < 5; i += 1) {
			vi.advanceTimersByTime(5000);
			const ping = sockets[0]!.sent.at(-1) as { id: string };
			sockets[0]!.receive(JSON.stringify({ t: 'pong', id: ping.id }));
		}
		expect(connection.state).toBe('open');
		expect(sockets).toHaveLength(1);
	});

	it('leaves and comes back after the hinted delay when the server announces a restart', () => {
		const { connection, sockets } = setup();
		connection.start();
		sockets[0]!.receive(ready);
		sockets[0]!.receive(JSON.stringify({ t: 'reconnect', afterMs: 300 }));
		expect(connection.state).toBe('waiting');
		vi.advanceTimersByTime(299);
		expect(sockets).toHaveLength(1);
		vi.advanceTimersByTime(1);
		expect(sockets).toHaveLength(2);
	});
});
