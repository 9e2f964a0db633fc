// Web Push from the server to closed browsers, against a local fake push service that checks the
// VAPID JWT and decrypts the body with the keys the test browser generated: what is pushed (the
// message's ciphertext, padded, never plaintext), to whom (DMs, mentions, levels, do-not-disturb,
// never a browser that is open), to which endpoints (known push services only), and what happens
// when the push service says a subscription is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailableReason, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, expectError, joinCommunity, newClientId, type Community } from '../helpers/fixtures.ts';
import { startDevice, type TestDevice } from '../helpers/e2ee-device.ts';
import { decryptPush, FakePushService, newSubscriber, verifyVapid, type TestSubscriber } from '../helpers/fake-push-service.ts';
import { encodeDraft } from '#lib/client/e2ee/message-codec.svelte.ts';
import { PUSH_PAYLOAD_BYTES, type NotificationSettingsView, type PushPayload } from '#lib/shared/push.ts';
import type { ChannelView, MessageView } from '#lib/shared/protocol/frames.ts';
import type { Mentions } from '#lib/shared/mentions.ts';

const skip = postgresUnavailableReason();

describe.skipIf(skip)('web push', () => {
	let db: TestDatabase;
	let server: TestServer;
	const pushService = new FakePushService();
	let owner: TestClient;
	let community: Community;
	let ann: TestDevice;

	beforeAll(async () => {
		await pushService.start();
		db = await createTestDatabase();
		server = await startServer({ database: db, env: { PUSH_SERVICE_HOSTS: `push.example.net,127.0.0.1:${pushService.port}`, VAPID_SUBJECT: 'mailto:ops@example.net' } });
		owner = await TestClient.signUp(server);
		community = await createCommunity(owner);
		const annClient = await TestClient.signUp(server);
		await joinCommunity(owner, annClient, community.id);
		ann = await startDevice(annClient);
	});
	afterAll(async () => {
		await server?.stop();
		await db?.drop();
		await pushService.stop();
	});

	/** A member whose browser subscribed to push and then closed (no socket open). */
	async function subscribedMember(path: string): Promise<{ device: TestDevice; subscriber: TestSubscriber }> {
		const client = await TestClient.signUp(server);
		await joinCommunity(owner, client, community.id);
		const device = await startDevice(client);
		const subscriber = newSubscriber();
		const response = await client.send('PUT', '/api/me/push-subscription', { endpoint: pushService.endpoint(path), expirationTime: null, keys: subscriber.keys });
		expect(response.status, await response.text()).toBe(204);
		return { device, subscriber };
	}

	async function sendAs(device: TestDevice, channelId: string, text: string, options: { direct?: boolean; mentions?: Mentions } = {}): Promise<MessageView> {
		const payload = await device.engine.seal(channelId, encodeDraft(text, { mentions: options.mentions ?? null }), { direct: options.direct ?? false });
		const { message } = await device.client.api.post<{ message: MessageView }>(`/api/channels/${channelId}/messages`, {
			clientId: newClientId(),
			payload,
			...(options.mentions ? { mentions: options.mentions } : {})
		});
		return message;
	}

	it('a direct message is pushed as its own ciphertext, padded, with a valid VAPID signature, and opens on the device', async () => {
		const { device: ben, subscriber } = await subscribedMember('/push/dm');
		const { channel } = await ann.client.api.post<{ channel: ChannelView }>('/api/dms', { userId: ben.client.user.id });
		const message = await sendAs(ann, channel.id, 'push canary 4b7d: the door code is 1234', { direct: true });
		const [push] = await pushService.waitFor('/push/dm');

		expect(push!.headers['content-encoding']).toBe('aes128gcm');
		expect(push!.headers['ttl']).toBe('86400');
		expect(push!.headers['urgency']).toBe('high');
		expect(push!.headers['topic']).toMatch(/^[A-Za-z0-9_-]{32}$/);
		const vapid = verifyVapid(push!.headers['authorization']);
		expect(vapid.aud).toBe(`http://127.0.0.1:${pushService.port}`);
		expect(vapid.sub).toBe('mailto:ops@example.net');
		expect(vapid.exp * 1000).toBeGreaterThan(Date.now());
		expect(vapid.exp * 1000).toBeLessThanOrEqual(Date.now() + 24 * 3600_000);
		const settings = await ben.client.api.get<NotificationSettingsView>('/api/me/notifications');
		expect(vapid.publicKey).toBe(settings.publicKey);
		expect(settings.subscribed).toBe(true);

		// Neither the push service nor anyone else finds the text; the device does.
		expect(push!.body.toString('latin1')).not.toContain('canary');
		const json = decryptPush(push!.body, subscriber);
		expect(Buffer.byteLength(json)).toBe(PUSH_PAYLOAD_BYTES);
		expect(json).not.toContain('canary');
		const payload = JSON.parse(json) as PushPayload;
		expect(payload).toMatchObject({ v: 1, userId: ben.client.user.id, channelId: channel.id, messageId: message.id, seq: message.seq, authorId: ann.client.user.id, payload: message.payload });
		const view = await ben.engine.open({ id: payload.messageId, channelId: payload.channelId, authorId: payload.authorId, payload: payload.payload! });
		expect(view.state === 'ok' && view.content.text).toBe('push canary 4b7d: the door code is 1234');
	});

	it('a message too long to fit is pushed as ids only, still padded to the same size', async () => {
		const { device: eve, subscriber } = await subscribedMember('/push/long');
		const { channel } = await ann.client.api.post<{ channel: ChannelView }>('/api/dms', { userId: eve.client.user.id });
		const message = await sendAs(ann, channel.id, 'long canary '.repeat(300), { direct: true });
		const [push] = await pushService.waitFor('/push/long');
		const json = decryptPush(push!.body, subscriber);
		expect(Buffer.byteLength(json)).toBe(PUSH_PAYLOAD_BYTES);
		const payload = JSON.parse(json) as PushPayload;
		expect(payload).toMatchObject({ messageId: message.id, seq: message.seq, channelId: channel.id });
		expect(payload.payload).toBeUndefined();
		expect(json).not.toContain('canary');
	});

	it('channel messages push only for mentions by default; levels and do-not-disturb decide, and the author never gets one', async () => {
		const { device: cy, subscriber } = await subscribedMember('/push/cy');
		await sendAs(ann, community.generalId, 'plain chatter');
		await pushService.noneFor('/push/cy');
		await sendAs(ann, community.generalId, 'over to you @cy', { mentions: { users: [cy.client.user.id] } });
		const [mention] = await pushService.waitFor('/push/cy');
		expect(JSON.parse(decryptPush(mention!.body, subscriber))).toMatchObject({ mentions: { users: [cy.client.user.id] }, place: '#general' });
		// @here is for those online now: a closed browser gets nothing.
		await owner.api.post(`/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: 'x', mentions: { here: true } });
		await pushService.noneFor('/push/cy');

		// Everything in #general, then nothing at all there, then back to the default.
		await cy.client.api.put(`/api/me/notifications/levels/${community.generalId}`, { level: 'all' });
		await sendAs(ann, community.generalId, 'now every message');
		await pushService.waitFor('/push/cy', 2);
		await cy.client.api.put(`/api/me/notifications/levels/${community.generalId}`, { level: 'none' });
		await sendAs(ann, community.generalId, 'muted @cy', { mentions: { users: [cy.client.user.id] } });
		await pushService.noneFor('/push/cy');
		// The channel's level wins over the community's.
		await cy.client.api.put(`/api/me/notifications/levels/${community.id}`, { level: 'all' });
		await sendAs(ann, community.generalId, 'still muted here');
		await pushService.noneFor('/push/cy');
		await cy.client.api.put(`/api/me/notifications/levels/${community.generalId}`, { level: null });
		await sendAs(ann, community.generalId, 'community says all');
		await pushService.waitFor('/push/cy', 3);

		// Do not disturb silences everything until it ends.
		await cy.client.api.put('/api/me/notifications/quiet', { until: new Date(Date.now() + 3600_000).toISOString() });
		await sendAs(ann, community.generalId, 'shh @cy', { mentions: { users: [cy.client.user.id] } });
		await pushService.noneFor('/push/cy');
		expect((await cy.client.api.get<NotificationSettingsView>('/api/me/notifications')).quietUntil).not.toBeNull();
		await cy.client.api.put('/api/me/notifications/quiet', { until: null });
		await sendAs(cy, community.generalId, 'my own message never pushes to me');
		await pushService.noneFor('/push/cy');
	});

	it('someone blocked pushes nothing to the person who blocked them, mentions included; after unblocking they do', async () => {
		const { device: dee } = await subscribedMember('/push/dee');
		await dee.client.api.put(`/api/users/${ann.client.user.id}/block`);
		await sendAs(ann, community.generalId, 'psst @dee', { mentions: { users: [dee.client.user.id] } });
		await pushService.noneFor('/push/dee');
		await dee.client.api.delete(`/api/users/${ann.client.user.id}/block`);
		await sendAs(ann, community.generalId, 'hello again @dee', { mentions: { users: [dee.client.user.id] } });
		await pushService.waitFor('/push/dee');
	});

	it('the presence "do not disturb" pushes nothing, mentions and direct messages included, until the person is back to online', async () => {
		const { device: eve } = await subscribedMember('/push/eve');
		const mentions = { users: [eve.client.user.id] };
		// Chosen over /ws (the person's own choice, kept in the database); the socket closes after.
		const socket = await eve.client.socket();
		expect(await socket.request({ t: 'presence.set', choice: 'dnd' })).toMatchObject({ t: 'ack', result: { choice: 'dnd' } });
		socket.close();
		await new Promise((r) => setTimeout(r, 200));
		await sendAs(ann, community.generalId, 'busy @eve?', { mentions });
		await pushService.noneFor('/push/eve');
		const { channel } = await ann.client.api.post<{ channel: { id: string } }>('/api/dms', { userId: eve.client.user.id });
		await sendAs(ann, channel.id, 'a direct word', { direct: true });
		await pushService.noneFor('/push/eve');
		const again = await eve.client.socket();
		await again.request({ t: 'presence.set', choice: 'auto' });
		again.close();
		await new Promise((r) => setTimeout(r, 200));
		await sendAs(ann, community.generalId, 'free now @eve?', { mentions });
		await pushService.waitFor('/push/eve');
	});

	it('a browser that is open (its socket connected) gets no push; once closed it does', async () => {
		const { device: dee } = await subscribedMember('/push/dee');
		// Someone else being online changes nothing for Dee.
		const annSocket = await ann.client.socket();
		const socket = await dee.client.socket();
		const mentions = { users: [dee.client.user.id] };
		await sendAs(ann, community.generalId, 'you are here @dee', { mentions });
		await pushService.noneFor('/push/dee');
		socket.close();
		await new Promise((r) => setTimeout(r, 200));
		await sendAs(ann, community.generalId, 'you left @dee', { mentions });
		await pushService.waitFor('/push/dee');
		annSocket.close();
	});

	it('a subscription the push service reports gone (410 or 404) is deleted', async () => {
		for (const status of [410, 404]) {
			const path = `/push/gone-${status}`;
			const { device } = await subscribedMember(path);
			pushService.statusFor.set(path, status);
			await sendAs(ann, community.generalId, 'anyone?', { mentions: { users: [device.client.user.id] } });
			await pushService.waitFor(path);
			await expect.poll(async () => (await device.client.api.get<NotificationSettingsView>('/api/me/notifications')).subscribed).toBe(false);
		}
	});

	it('refuses endpoints outside the known push services, and malformed subscriptions', async () => {
		const client = await TestClient.signUp(server);
		await startDevice(client);
		const keys = newSubscriber().keys;
		const put = (body: unknown) => client.send('PUT', '/api/me/push-subscription', body);
		const known = 'Push endpoints must belong to a known push service (push.example.net, 127.0.0.1:' + pushService.port + ').';
		await expectError(put({ endpoint: 'https://169.254.169.254/latest', keys }), 400, 'invalid', known);
		await expectError(put({ endpoint: 'https://evil.example.org/push', keys }), 400, 'invalid', known);
		await expectError(put({ endpoint: 'https://push.example.net.evil.org/x', keys }), 400, 'invalid', known);
		await expectError(put({ endpoint: 'http://push.example.net/x', keys }), 400, 'invalid', 'The push endpoint must use https.');
		await expectError(put({ endpoint: 'https://user:pw@push.example.net/x', keys }), 400, 'invalid', 'The push endpoint must not carry credentials.');
		expect((await put({ endpoint: 'https://push.example.net/ok', keys })).status).toBe(204);
		for (const bad of [{ endpoint: 'https://push.example.net/x', keys: { ...keys, p256dh: 'short' } }, { endpoint: 'https://push.example.net/x', keys: { ...keys, auth: '' } }, { endpoint: 'nope', keys }, { endpoint: 'https://push.example.net/x' }]) {
			expect((await put(bad)).status, JSON.stringify(bad)).toBe(400);
		}
		// A session without an encryption device (nothing could decrypt a push) is told so.
		const fresh = await TestClient.signUp(server);
		await expectError(fresh.send('PUT', '/api/me/push-subscription', { endpoint: 'https://push.example.net/ok', keys }), 409, 'device_required', 'This browser is not registered as an encryption device yet: push needs one to decrypt messages.');
		// Levels only for communities and channels one can see.
		const stranger = await TestClient.signUp(server);
		await expectError(stranger.send('PUT', `/api/me/notifications/levels/${community.generalId}`, { level: 'all' }), 404, 'not_found', 'Community or channel was not found.');
		expect((await client.send('PUT', `/api/me/notifications/levels/${community.id}`, { level: 'loud' })).status).toBe(400);
	});

	it('a removed device gets no more pushes (its subscription went with it)', async () => {
		const { device } = await subscribedMember('/push/removed');
		const mentions = { users: [device.client.user.id] };
		await sendAs(ann, community.generalId, 'before @removal', { mentions });
		await pushService.waitFor('/push/removed');
		await device.client.api.delete(`/api/devices/${device.engine.deviceId}`);
		await sendAs(ann, community.generalId, 'after @removal', { mentions });
		await pushService.noneFor('/push/removed');
	});
});
