// The server's Connection writes frames framed once for many sockets (SharedFrame) straight to the
// TCP socket: real ws server and clients on loopback check that what arrives is exactly the text,
// as a text frame, in the order sent among ordinary sends, and that nothing goes out after close.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { Connection, SharedFrame, sharedFrame } from '../../server/realtime/connection.ts';
import { createLogger } from '#lib/server/logger.ts';

type Pair = { server: WebSocketServer; conn: Connection; serverSocket: WebSocket; client: WebSocket; received: Array<{ text: string; binary: boolean }> };
const opened: Pair[] = [];

async function pair(): Promise<Pair> {
	const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
	await new Promise((resolve) => server.once('listening', resolve));
	const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
	const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
	const received: Pair['received'] = [];
	client.on('message', (data, binary) => received.push({ text: data.toString(), binary }));
	await new Promise((resolve) => client.once('open', resolve));
	const serverSocket = await accepted;
	const conn = new Connection(serverSocket, { id: 'c1', userId: 'u1', sessionId: 's1', ip: '127.0.0.1' }, { log: createLogger('silent'), ratePerSecond: 10, rateBurst: 10, maxBufferedBytes: 1 << 24 });
	const made = { server, conn, serverSocket, client, received };
	opened.push(made);
	return made;
}

async function until(check: () => boolean, what: string) {
	const deadline = Date.now() + 5_000;
	while (!check()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 5));
	}
}

afterEach(async () => {
	for (const { server, client } of opened.splice(0)) {
		client.terminate();
		await new Promise((resolve) => server.close(resolve));
	}
});

describe('Connection.sendRaw with a SharedFrame', () => {
	it('delivers the exact text as a text frame, for every length encoding, in order with other sends', async () => {
		const { conn, received } = await pair();
		// 7-bit, 16-bit and 64-bit payload lengths; multi-byte UTF-8 so bytes and characters differ.
		const texts = ['{"t":"x"}', `{"t":"y","p":"${'é'.repeat(200)}"}`, `{"t":"z","p":"${'✓'.repeat(30_000)}"}`];
		conn.sendRaw(new SharedFrame(texts[0]!));
		conn.sendRaw('{"t":"plain"}');
		conn.ping();
		conn.sendRaw(new SharedFrame(texts[1]!));
		conn.send({ t: 'typing', channelId: 'c', userId: 'u' });
		conn.sendRaw(new SharedFrame(texts[2]!));
		await until(() => received.length === 5, 'five frames');
		expect(received.map((r) => r.text)).toEqual([texts[0], '{"t":"plain"}', texts[1], '{"t":"typing","channelId":"c","userId":"u"}', texts[2]]);
		expect(received.every((r) => !r.binary)).toBe(true);
	});

	it('sends one frame to many connections, each getting it once', async () => {
		const pairs = [await pair(), await pair(), await pair()];
		const frame = sharedFrame({ t: 'typing', channelId: 'c', userId: 'u' });
		for (const { conn } of pairs) conn.sendRaw(frame);
		for (const { received } of pairs) await until(() => received.length === 1, 'the frame');
		await new Promise((resolve) => setTimeout(resolve, 50));
		for (const { received } of pairs) expect(received).toEqual([{ text: '{"t":"typing","channelId":"c","userId":"u"}', binary: false }]);
	});

	it('writes nothing after the WebSocket started closing', async () => {
		const { conn, serverSocket, client, received } = await pair();
		// The bytes on the wire: the ws client stops reading frames at the close frame, so what it
		// reports cannot show a frame written after it.
		const wire: Buffer[] = [];
		(client as unknown as { _socket: NodeJS.ReadableStream })._socket.on('data', (chunk: Buffer) => wire.push(chunk));
		const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
		// Closed under the Connection's feet (as ws does when the peer's close frame arrives): the
		// prepared frame must not follow the close frame onto the wire.
		serverSocket.close(4001, 'bye');
		conn.sendRaw(new SharedFrame('{"t":"late"}'));
		expect(await closed).toBe(4001);
		expect(received).toEqual([]);
		expect(Buffer.concat(wire).includes('"late"')).toBe(false);
	});
});
