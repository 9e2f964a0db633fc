// The browser's online/offline signal drives the realtime connection: offline drops the socket at
// once and stops retrying; online connects again straight away.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RealtimeConnection, type WebSocketLike } from '#lib/client/realtime/connection.ts';

class FakeSocket implements WebSocketLike {
	readyState = 1;
	sent: string[] = [];
	closed: { code?: number } | null = null;
	onopen = null;
	onmessage: ((event: { data: unknown }) => void) | null = null;
	onclose: ((event: { code: number; reason: string }) => void) | null = null;
	onerror = null;
	send(data: string) {
		this.sent.push(data);
	}
	close(code?: number) {
		this.closed = { code };
	}
	ready() {
		this.onmessage?.({
			data: JSON.stringify({
				t: 'ready',
				userId: '00000000-0000-4000-8000-000000000001',
				connectionId: 'c1',
				heartbeatMs: 25_000,
				limits: { messageMaxBytes: 16384, maxFrameBytes: 65536 }
			})
		});
	}
}

describe('RealtimeConnection.setNetworkAvailable', () => {
	let sockets: FakeSocket[];
	let connection: RealtimeConnection;

	beforeEach(() => {
		vi.useFakeTimers();
		sockets = [];
		connection = new RealtimeConnection({
			url: 'ws://test/ws',
			createSocket: () => {
				const socket = new FakeSocket();
				sockets.push(socket);
				return socket;
			}
		});
	});

	afterEach(() => {
		connection.stop();
		vi.useRealTimers();
	});

	it('drops an open connection when the network goes away and makes no attempt while offline', () => {
		connection.start();
		sockets[0]!.ready();
		expect(connection.state).toBe('open');

		connection.setNetworkAvailable(false);
		expect(connection.state).toBe('waiting');
		expect(sockets[0]!.closed).not.toBeNull();

		vi.advanceTimersByTime(120_000);
		expect(sockets).toHaveLength(1);
		expect(connection.state).toBe('waiting');
	});

	it('reconnects at once when the network comes back', () => {
		connection.start();
		sockets[0]!.ready();
		connection.setNetworkAvailable(false);
		connection.setNetworkAvailable(true);
		expect(sockets).toHaveLength(2);
		expect(connection.state).toBe('connecting');
		sockets[1]!.ready();
		expect(connection.state).toBe('open');
		expect(connection.reconnects).toBe(1);
	});

	it('rejects requests in flight when the network goes away, so the outbox resends them later', async () => {
		connection.start();
		sockets[0]!.ready();
		const pending = connection.request({ t: 'ping' } as never);
		connection.setNetworkAvailable(false);
		await expect(pending).rejects.toThrow(/network lost/);
	});

	it('ignores events of the dropped socket', () => {
		connection.start();
		const old = sockets[0]!;
		old.ready();
		connection.setNetworkAvailable(false);
		connection.setNetworkAvailable(true);
		old.onclose?.({ code: 1006, reason: '' });
		expect(connection.state).toBe('connecting');
		expect(sockets).toHaveLength(2);
	});

	it('connects again when started after a terminal close (the session was renewed)', () => {
		const terminated: number[] = [];
		connection.on('terminated', (code) => terminated.push(code));
		connection.start();
		sockets[0]!.ready();
		sockets[0]!.onclose?.({ code: 4002, reason: 'session revoked' });
		expect(connection.state).toBe('closed');
		expect(terminated).toEqual([4002]);
		vi.advanceTimersByTime(60_000);
		expect(sockets).toHaveLength(1); // no automatic retry after a terminal close

		connection.start();
		expect(sockets).toHaveLength(2);
		sockets[1]!.ready();
		expect(connection.state).toBe('open');
	});
});
