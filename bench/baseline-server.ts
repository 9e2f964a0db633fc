// The baseline Hearth is compared with: a bare `ws` broadcast server. Same library, same loopback
// topology (clients in groups, every message broadcast to every member of the sender's group,
// sender included) and the same frames in both directions, but nothing else: no authentication,
// no validation, no database, no acknowledgement, no heartbeat, no slow-consumer check. Whatever
// Hearth costs beyond this is the price of its guarantees (durable, numbered, exactly-once).
//
// Run alone: `node bench/baseline-server.ts [port]` (0 or nothing: a free port). It prints one
// JSON line `{"listening":PORT}` once it accepts connections, and exits on SIGTERM/SIGINT.
// Clients connect to ws://127.0.0.1:PORT/?g=GROUP and receive {"t":"ready"} once they are members.
import { createServer } from 'node:http';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

// The same frame-size cap Hearth applies by default (WS_MAX_FRAME_BYTES).
const MAX_FRAME_BYTES = 65_536;
const READY = JSON.stringify({ t: 'ready' });

const groups = new Map<string, Set<WebSocket>>();

const server = createServer((_request, response) => {
	response.statusCode = 404;
	response.end();
});
// Compression off, as in Hearth (see server/realtime/ws-server.ts).
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: MAX_FRAME_BYTES });

wss.on('connection', (socket, request) => {
	const group = new URL(request.url ?? '/', 'http://localhost').searchParams.get('g') ?? '';
	let members = groups.get(group);
	if (!members) groups.set(group, (members = new Set()));
	members.add(socket);
	socket.send(READY);
	// The received buffer goes out as is: one frame header per recipient, no re-encoding.
	socket.on('message', (data: RawData, isBinary: boolean) => {
		for (const member of members) member.send(data, { binary: isBinary });
	});
	socket.on('close', () => {
		members.delete(socket);
		if (members.size === 0) groups.delete(group);
	});
	socket.on('error', () => {
		// A reset by a client that went away; its close event cleans up.
	});
});

const stop = () => {
	for (const socket of wss.clients) socket.terminate();
	wss.close();
	server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
server.listen(port, '127.0.0.1', () => {
	const address = server.address();
	console.log(JSON.stringify({ listening: typeof address === 'object' && address ? address.port : port }));
});
