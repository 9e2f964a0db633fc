// The outbox seals (encrypts) each message at send time: the sealed payload is what goes on the
// wire and is reused for every resend; a message that cannot be sealed fails visibly and nothing is
// sent, never the plaintext instead. Driven by a scripted socket (the network is not under test).
import { describe, expect, it } from 'vitest';
import { RealtimeConnection, type WebSocketLike } from '#lib/client/realtime/connection.ts';
import { MemoryOutboxStorage, Outbox } from '#lib/client/realtime/outbox.ts';

const ready = JSON.stringify({ t: 'ready', userId: '22222222-2222-4222-8222-222222222222', connectionId: 'c', heartbeatMs: 25_000, limits: { messageMaxBytes: 1, maxFrameBytes: 1 } });

class ScriptedSocket implements WebSocketLike {
	readyState = 0;
	sent: Record<string, unknown>[] = [];
	onopen = null;
	onmessage: WebSocketLike['onmessage'] = null;
	onclose: WebSocketLike['onclose'] = null;
	onerror = null;
	send(data: string) {
		this.sent.push(JSON.parse(data) as Record<string, unknown>);
	}
	close() {}
	receive(text: string) {
		this.onmessage?.({ data: text });
	}
	drop() {
		this.onclose?.({ code: 1006, reason: '' });
	}
}

function setup(seal: (item: { channelId: string; payload: string }) => Promise<string>) {
	const sockets: ScriptedSocket[] = [];
	const connection = new RealtimeConnection({
		url: 'ws://test/ws',
		createSocket: () => {
			const socket = new ScriptedSocket();
			sockets.push(socket);
			return socket;
		},
		policy: { delayMs: () => 0 }
	});
	const storage = new MemoryOutboxStorage();
	const outbox = new Outbox({ connection, storage, seal });
	connection.start();
	return { connection, sockets, storage, outbox };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('Outbox sealing', () => {
	it('sends the sealed payload, never the plaintext, and resends the same ciphertext after a drop', async () => {
		let seals = 0;
		const { sockets, storage, outbox } = setup(async (item) => `sealed#${++seals}:${item.channelId}`);
		sockets[0]!.receive(ready);
		outbox.enqueue({ channelId: 'ch', payload: '{"v":1,"text":"secret plaintext"}' });
		await tick();
		const sends = sockets[0]!.sent.filter((f) => f.t === 'message.send');
		expect(sends).toHaveLength(1);
		expect(sends[0]!.payload).toBe('sealed#1:ch');
		expect(JSON.stringify(sockets[0]!.sent)).not.toContain('secret plaintext');
		// Kept with the item so a resend (after a drop, or a reload) carries the identical ciphertext.
		expect(storage.items[0]!.sealed).toBe('sealed#1:ch');

		sockets[0]!.drop();
		await tick();
		await tick();
		sockets[1]!.receive(ready);
		await tick();
		expect(sockets[1]!.sent.filter((f) => f.t === 'message.send').map((f) => f.payload)).toEqual(['sealed#1:ch']);
		expect(seals).toBe(1);
	});

	it('a message that cannot be sealed fails visibly and is not sent; Retry seals it again', async () => {
		let fail = true;
		const { sockets, outbox } = setup(async () => {
			if (fail) throw new Error('no devices to encrypt for');
			return 'sealed-now';
		});
		sockets[0]!.receive(ready);
		const item = outbox.enqueue({ channelId: 'ch', payload: '{"v":1,"text":"secret plaintext"}' });
		await tick();
		expect(sockets[0]!.sent.filter((f) => f.t === 'message.send')).toEqual([]);
		expect(outbox.items[0]!.error).toEqual({ code: 'encryption_failed', message: 'Could not encrypt it (no devices to encrypt for).' });

		fail = false;
		outbox.retry(item.clientId);
		await tick();
		expect(sockets[0]!.sent.filter((f) => f.t === 'message.send').map((f) => f.payload)).toEqual(['sealed-now']);
	});
});
