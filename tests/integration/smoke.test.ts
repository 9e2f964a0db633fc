import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('smoke', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('two users chat in real time', async () => {
		const alice = await TestClient.signUp(server);
		const bob = await TestClient.signUp(server);
		const { community } = await alice.api.post<{ community: { id: string; channels: { id: string }[] } }>('/api/communities', { name: 'Friends' });
		const { invite } = await alice.api.post<{ invite: { code: string } }>(`/api/communities/${community.id}/invites`, {});
		await bob.api.post(`/api/invites/${invite.code}/accept`);
		const channelId = community.channels[0]!.id;
		const bobSocket = await bob.socket();
		const aliceSocket = await alice.socket();
		const ack = await aliceSocket.request({ t: 'message.send', channelId, clientId: 'client-000001', payload: encodeMessageBody('hello bob') });
		expect(ack.t).toBe('ack');
		const event = await bobSocket.waitFor((f) => f.t === 'event' && f.event.type === 'message.created');
		expect(event).toMatchObject({ t: 'event', channelId, event: { type: 'message.created', message: { payload: encodeMessageBody('hello bob') } } });
		aliceSocket.close();
		bobSocket.close();
	});
});
