// The product's central promise: no acknowledged message is ever lost, none is duplicated, and
// every client ends up with the same messages in the same order, without reloading, whatever
// happens to connections and to the server while people are sending.
//
// These tests run the real client sync engine (outbox, connection state machine, resume) in Node
// against the real server process, and break things on purpose while messages are in flight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/clients.ts';
import { createSyncClient, waitOpen, waitUntil, type SyncClient } from '../helpers/sync-client.ts';
import { expectConsistent, sendSeries, serverHistory, waitForAll } from '../helpers/no-loss-checks.ts';
import {
	createTestDatabase,
	postgresUnavailableReason,
	startServer,
	type TestDatabase,
	type TestServer
} from '../helpers/test-server.ts';

const skip = postgresUnavailableReason();

type Room = { server: TestServer; channelId: string; users: TestClient[] };

async function setUpRoom(server: TestServer, people: number): Promise<Room> {
	const owner = await TestClient.signUp(server);
	const { community } = await owner.api.post<{ community: { id: string; channels: { id: string }[] } }>('/api/communities', { name: 'No loss' });
	const { invite } = await owner.api.post<{ invite: { code: string } }>(`/api/communities/${community.id}/invites`, {});
	const users = [owner];
	for (let i = 1; i < people; i += 1) {
		const user = await TestClient.signUp(server);
		await user.api.post(`/api/invites/${invite.code}/accept`);
		users.push(user);
	}
	return { server, channelId: community.channels[0]!.id, users };
}

/** A sync client per member of the room, connected, with the room's channel loaded. */
async function connectAll(room: Room): Promise<SyncClient[]> {
	const clients = room.users.map((user) => createSyncClient(user));
	await Promise.all(clients.map((client) => waitOpen(client)));
	await Promise.all(clients.map((client) => client.sync.open(room.channelId)));
	return clients;
}

describe.skipIf(skip)('no message is lost or duplicated', () => {
	describe('when client connections drop mid-stream', () => {
		let database: TestDatabase;
		let server: TestServer;
		beforeAll(async () => {
			database = await createTestDatabase();
			server = await startServer({ database });
		});
		afterAll(async () => {
			await server?.stop();
			await database?.drop();
		});

		it('delivers every message exactly once, in the same order, to senders and readers whose sockets are cut or stall', async () => {
			const room = await setUpRoom(server, 3);
			const clients = await connectAll(room);
			const [a, b, c] = clients;

			const sending = Promise.all([sendSeries(a!, room.channelId, 'alice', 120, 8), sendSeries(b!, room.channelId, 'bob', 120, 8)]);
			// While both send: cut the sender's TCP connection, then a reader's, then let the other
			// sender's socket go silent (half-open, only the heartbeat notices), then cut a sender again.
			await new Promise((resolve) => setTimeout(resolve, 250));
			a!.dropConnection();
			await new Promise((resolve) => setTimeout(resolve, 250));
			c!.dropConnection();
			await new Promise((resolve) => setTimeout(resolve, 150));
			b!.stallConnection();
			await new Promise((resolve) => setTimeout(resolve, 300));
			a!.dropConnection();
			const sent = await sending;

			await waitForAll(clients, room.channelId, 240);
			const history = await serverHistory(room.users[0]!, room.channelId);
			expect(history).toHaveLength(240);
			expectConsistent(clients, room.channelId, history, sent);
			// The breaks really happened: every client reconnected at least once.
			for (const client of clients) expect(client.connection.reconnects).toBeGreaterThanOrEqual(1);
			expect(a!.connection.reconnects).toBeGreaterThanOrEqual(2);
			clients.forEach((client) => client.stop());
		});
	});

	for (const how of ['restarts gracefully (SIGTERM)', 'crashes (SIGKILL)'] as const) {
		describe(`when the server ${how} while clients are sending`, () => {
			let database: TestDatabase;
			let server: TestServer;
			beforeAll(async () => {
				database = await createTestDatabase();
				server = await startServer({ database });
			});
			afterAll(async () => {
				await server?.stop();
				await database?.drop();
			});

			it('keeps every acknowledged message and delivers everything exactly once after it comes back', async () => {
				const room = await setUpRoom(server, 3);
				const clients = await connectAll(room);

				const sending = Promise.all([
					sendSeries(clients[0]!, room.channelId, 'alice', 100, 15),
					sendSeries(clients[1]!, room.channelId, 'bob', 100, 15)
				]);
				await waitUntil(() => clients[0]!.acks.length >= 20 && clients[1]!.acks.length >= 20, 15_000, 'some messages are acknowledged');
				if (how === 'crashes (SIGKILL)') await server.kill();
				else expect(await server.stop()).toBe(0);
				const ackedBeforeStop = clients.flatMap((client) => client.acks.map((ack) => ack.messageId));
				expect(ackedBeforeStop.length).toBeGreaterThanOrEqual(40);

				// Clients keep typing while the server is away; the outbox holds those messages.
				await new Promise((resolve) => setTimeout(resolve, 300));
				server = await startServer({ database, port: server.port });
				const sent = await sending;

				await waitForAll(clients, room.channelId, 200);
				const history = await serverHistory(room.users[2]!, room.channelId);
				expect(history).toHaveLength(200);
				const stored = new Set(history.map((m) => m.id));
				for (const id of ackedBeforeStop) expect(stored.has(id)).toBe(true);
				expectConsistent(clients, room.channelId, history, sent);
				for (const client of clients) expect(client.connection.reconnects).toBeGreaterThanOrEqual(1);
				clients.forEach((client) => client.stop());
			});
		});
	}
});
