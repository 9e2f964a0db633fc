// When the server gives up on a client that does not read: not on a short burst, yes on a backlog
// that lasts, and at once past the hard cap. The socket is a stand-in whose buffer size the test
// sets; the decision logic is the real Connection's.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { pino } from 'pino';
import { Connection } from '../../server/realtime/connection.ts';

const LIMIT = 100_000;

function connection() {
	const socket = {
		bufferedAmount: 0,
		sent: 0,
		closedWith: undefined as number | undefined,
		send() {
			this.sent += 1;
		},
		close(code: number) {
			this.closedWith = code;
		},
		terminate() {},
		ping() {}
	};
	const conn = new Connection(socket as unknown as WebSocket, { id: 'c', userId: 'u', sessionId: 's', ip: '127.0.0.1' }, {
		log: pino({ level: 'silent' }),
		ratePerSecond: 10,
		rateBurst: 10,
		maxBufferedBytes: LIMIT
	});
	return { conn, socket };
}

describe('slow consumers', () => {
	beforeEach(() => vi.useFakeTimers({ toFake: ['performance', 'setTimeout'] }));
	afterEach(() => vi.useRealTimers());

	it('keeps a client whose buffer passes the limit briefly, as in a burst it is reading', () => {
		const { conn, socket } = connection();
		socket.bufferedAmount = LIMIT * 2;
		conn.sendRaw('a');
		vi.advanceTimersByTime(1000);
		conn.sendRaw('b');
		socket.bufferedAmount = 0;
		vi.advanceTimersByTime(10_000);
		conn.sendRaw('c');
		expect(socket.closedWith).toBeUndefined();
		expect(socket.sent).toBe(3);
	});

	it('disconnects with 4009 a client that stays over the limit past the grace period', () => {
		const { conn, socket } = connection();
		socket.bufferedAmount = LIMIT + 1;
		conn.sendRaw('a');
		vi.advanceTimersByTime(4_900);
		conn.sendRaw('b');
		expect(socket.closedWith).toBeUndefined();
		vi.advanceTimersByTime(200);
		conn.sendRaw('c');
		expect(socket.closedWith).toBe(4009);
		expect(socket.sent).toBe(2);
	});

	it('starts the grace period over once the client has caught up', () => {
		const { conn, socket } = connection();
		socket.bufferedAmount = LIMIT + 1;
		conn.sendRaw('a');
		vi.advanceTimersByTime(4_000);
		socket.bufferedAmount = 0;
		conn.sendRaw('b');
		socket.bufferedAmount = LIMIT + 1;
		vi.advanceTimersByTime(4_000);
		conn.sendRaw('c');
		expect(socket.closedWith).toBeUndefined();
	});

	it('disconnects at once past four times the limit, to bound memory', () => {
		const { conn, socket } = connection();
		socket.bufferedAmount = LIMIT * 4 + 1;
		conn.sendRaw('a');
		expect(socket.closedWith).toBe(4009);
		expect(socket.sent).toBe(0);
	});
});
