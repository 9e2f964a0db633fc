// The server never logs secrets or message bodies: exercise every path that handles them (sign-up,
// failed and throttled sign-ins, password change, sends, edits, reactions, refused and malformed
// frames, invites, the /metrics token) with unique canary strings at the most verbose log level,
// then search the logs — and the metrics, which must not carry them either.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient, uniqueName } from '../helpers/clients.ts';
import { createCommunity, createInvite, newClientId } from '../helpers/fixtures.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';

const skip = postgresUnavailableReason();
// Unique in the logs, and strong enough to pass the secret rules (32+ random bytes).
const metricsToken = `canarymetrics${randomBytes(32).toString('hex')}`;

describe.skipIf(skip)('server logs', () => {
	let db: TestDatabase;
	let server: TestServer;
	beforeAll(async () => {
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { LOG_LEVEL: 'trace', MESSAGE_MAX_BYTES: '512', METRICS_TOKEN: metricsToken } });
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
	});

	it('contain no password, message payload, reaction key, session, CSRF or metrics token, or invite code', async () => {
		const tag = Math.random().toString(36).slice(2, 10);
		const canary = (what: string) => `canary-${what}-${tag}`;
		const secrets: string[] = [];
		const remember = <T extends string | undefined>(value: T): T => {
			if (value) secrets.push(value);
			return value;
		};

		// Accounts: sign-up, a wrong password (to throttling), a password change.
		const password = remember(canary('password-1'));
		const alice = new TestClient(server);
		const username = uniqueName('alice');
		expect((await alice.send('POST', '/api/auth/sign-up', { username, password })).status).toBe(201);
		remember(alice.sessionToken);
		remember(await alice.csrfToken());
		for (let i = 0; i < 7; i += 1) await new TestClient(server, { ip: '198.51.100.7' }).send('POST', '/api/auth/sign-in', { username, password: remember(canary(`wrong-${i}`)) });
		await new TestClient(server).send('POST', '/api/auth/sign-up', { username: uniqueName(), password: remember(canary('x').slice(0, 9)) });
		const newPassword = remember(canary('password-2'));
		expect((await alice.send('POST', '/api/me/password', { currentPassword: password, newPassword })).status).toBe(200);
		remember(alice.sessionToken);
		const bob = new TestClient(server);
		await bob.send('POST', '/api/auth/sign-up', { username: uniqueName('bob'), password: remember(canary('password-bob')) });
		remember(bob.sessionToken);

		// Messages over REST and /ws, edits, reactions, refusals and malformed frames.
		const community = await createCommunity(alice);
		const invite = await createInvite(alice, community.id);
		remember(invite.code);
		await bob.send('POST', `/api/invites/${invite.code}/accept`);
		await bob.fetch(`/api/invites/${invite.code}`);
		const { message } = (await (await alice.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: remember(canary('rest-payload')) })).json()) as { message: { id: string } };
		await alice.send('PATCH', `/api/messages/${message.id}`, { payload: remember(canary('rest-edit')) });
		await alice.send('PUT', `/api/messages/${message.id}/reactions/${remember(canary('reaction'))}`);
		await bob.send('PATCH', `/api/messages/${message.id}`, { payload: remember(canary('refused-edit')) });
		await alice.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: remember(canary('too-big')).padEnd(600, '!') });

		const socket = await alice.socket();
		const sent = await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: remember(encodeMessageBody(canary('ws-payload'))) });
		expect(sent.t).toBe('ack');
		await socket.request({ t: 'message.edit', messageId: (sent as Extract<ServerFrame, { t: 'ack' }>).result!.messageId, payload: remember(canary('ws-edit')) });
		await socket.request({ t: 'reaction.add', messageId: message.id, key: remember(canary('ws-reaction')) });
		await socket.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: remember(canary('ws-too-big')).padEnd(600, '!') });
		const bobSocket = await bob.socket();
		await bobSocket.request({ t: 'message.edit', messageId: message.id, payload: remember(canary('ws-refused-edit')) });
		socket.sendRaw(`{"t":"message.send","payload":"${remember(canary('malformed-json'))}"`);
		socket.sendRaw(JSON.stringify({ t: 'message.send', id: '1', channelId: remember(canary('bad-channel')), clientId: 'abcdefgh', payload: remember(canary('bad-frame-payload')) }));
		socket.sendRaw(JSON.stringify({ t: 'typing', channelId: '00000000-0000-4000-8000-000000000000', note: remember(canary('unknown-key-value')) }));
		expect((await socket.ping()).t).toBe('pong');
		socket.close();
		bobSocket.close();
		await alice.send('POST', '/api/auth/sign-out');

		// /metrics with the right token and a wrong one; what it serves carries none of the canaries.
		remember(metricsToken);
		const metrics = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
		expect(metrics.status).toBe(200);
		const metricsText = await metrics.text();
		expect(metricsText).toContain('hearth_messages_persisted_total');
		expect(metricsText).not.toContain(tag);
		const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${remember(canary('wrong-metrics-token'))}` } });
		expect(wrong.status).toBe(401);

		// Let the last lines arrive: a final request is logged after everything above.
		const marker = `final-${Date.now()}`;
		await new TestClient(server).fetch('/api/instance', { headers: { 'x-request-id': marker } });
		await waitFor(() => server.logs.some((line) => line.includes(marker)));

		const logs = server.logs.join('\n');
		// The logs are not trivially empty: requests and sockets were logged.
		expect(server.logs.filter((line) => line.includes('"msg":"request"')).length).toBeGreaterThan(20);
		expect(server.logs.filter((line) => line.includes('"msg":"ws closed"')).length).toBeGreaterThanOrEqual(1);
		const leaked = secrets.filter((secret) => logs.includes(secret));
		expect(leaked).toEqual([]);
		// Nothing else derived from them either (canaries appear inside JSON-escaped payloads too).
		expect(logs).not.toContain(tag);
	});
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000) {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error('timed out');
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}
