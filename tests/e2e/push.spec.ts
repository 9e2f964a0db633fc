// Web Push with Hearth closed: the server pushes the message's ciphertext to the browser's push
// service (here a fake one on 127.0.0.1 that the server is allowed to reach), the test takes the
// encrypted push it received, decrypts the Web Push layer with the subscription keys it made, and
// delivers the result to the browser's service worker through the DevTools protocol
// (ServiceWorker.deliverPushMessage), as the push service would. The service worker decrypts the
// message with the device's keys and shows the sender and the text; the page then shows the
// message without taking the ratchet step again. Also: the fallback when the key is missing, and
// the offline page.
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { decryptPush, FakePushService, newSubscriber } from '../helpers/fake-push-service.ts';
import { messageWith, person, send, type Person } from './support.ts';

const PORT = Number(process.env.E2E_PORT ?? 3917);
const pushService = new FakePushService();

test.describe.configure({ mode: 'serial' });

let ann: Person;
let ben: Person;
let dmId = '';

test.beforeAll(async ({ browser, baseURL }) => {
	await pushService.start(PORT + 2);
	ann = await person(browser, baseURL!, 'ann', 'Ann Pusher');
	ben = await person(browser, baseURL!, 'ben', 'Ben Closed');
	const community = await ann.api.createCommunity('Push Club');
	const { invite } = await ann.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	await ben.api.send('POST', `/api/invites/${invite.code}/accept`);
	dmId = (await ann.api.send<{ channel: { id: string } }>('POST', '/api/dms', { userId: ben.id })).channel.id;
	await ben.context.grantPermissions(['notifications'], { origin: baseURL! });
});

test.afterAll(async () => {
	await ann?.context.close();
	await ben?.context.close();
	await pushService.stop();
});

/** Ben closes Hearth (its tab, so its socket), keeping the browser: the service worker stays. */
async function closeHearth(): Promise<void> {
	await ben.page.close();
	ben.page = await ben.context.newPage();
}

/** Whether this browser's key store holds its account (the engine finished registering). */
async function storedAccount(userId: string): Promise<boolean> {
	// Never create the database here (the app's first open must set it up).
	if (!(await indexedDB.databases()).some((d) => d.name === `hearth-e2ee-${userId}`)) return false;
	return new Promise((resolve) => {
		const open = indexedDB.open(`hearth-e2ee-${userId}`);
		open.onerror = () => resolve(false);
		open.onsuccess = () => {
			const db = open.result;
			if (!db.objectStoreNames.contains('account')) return resolve(false);
			const request = db.transaction('account').objectStore('account').getKey('self');
			request.onsuccess = () => resolve(request.result !== undefined);
			request.onerror = () => resolve(false);
		};
	});
}

/**
 * Delivers a push to the context's service worker, as a push service would. A browser delivers
 * pushes to an activated worker: this waits for the registration's worker to be activated first
 * (CI once saw a push delivered earlier vanish without a notification).
 */
async function deliverPush(context: BrowserContext, page: Page, origin: string, data: string): Promise<void> {
	const cdp = await context.newCDPSession(page);
	const registrations: Array<{ registrationId: string; scopeURL: string; isDeleted: boolean }> = [];
	const versions: Array<{ registrationId: string; status: string }> = [];
	cdp.on('ServiceWorker.workerRegistrationUpdated', (event) => registrations.push(...event.registrations));
	cdp.on('ServiceWorker.workerVersionUpdated', (event) => versions.push(...event.versions));
	await cdp.send('ServiceWorker.enable');
	await expect.poll(() => registrations.find((r) => r.scopeURL === `${origin}/` && !r.isDeleted)).toBeTruthy();
	const registration = registrations.find((r) => r.scopeURL === `${origin}/` && !r.isDeleted)!;
	await expect.poll(() => versions.some((v) => v.registrationId === registration.registrationId && v.status === 'activated')).toBe(true);
	await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: registration.registrationId, data });
	await cdp.detach();
}

async function notifications(page: Page): Promise<Array<{ title: string; body: string; tag: string; url: string; outcome: string }>> {
	return page.evaluate(async () => {
		const registration = await navigator.serviceWorker.ready;
		return (await registration.getNotifications()).map((n) => {
			const data = n.data as { url: string; outcome: string };
			return { title: n.title, body: n.body, tag: n.tag, url: data.url, outcome: data.outcome };
		});
	});
}

test('a direct message reaches a closed Hearth as a push the service worker decrypts', async ({ baseURL }) => {
	// Ben's browser registers its device and the service worker, subscribes (to the fake push
	// service: this browser has none it can reach), then closes Hearth.
	await ben.page.goto(`/dm/${dmId}`);
	await expect(ben.page.locator('[data-connection="open"]')).toBeVisible();
	await ben.page.evaluate(() => navigator.serviceWorker.ready);
	// The device is registered and its keys are stored in this browser (not only on the server).
	await expect.poll(async () => (await ben.context.request.get('/api/devices/current')).status()).toBe(200);
	await expect.poll(() => ben.page.evaluate(storedAccount, ben.id)).toBe(true);
	const subscriber = newSubscriber();
	await ben.api.send('PUT', '/api/me/push-subscription', { endpoint: pushService.endpoint('/push/ben'), keys: subscriber.keys });
	await closeHearth();

	await ann.page.goto(`/dm/${dmId}`);
	await expect(ann.page.locator('[data-connection="open"]')).toBeVisible();
	await send(ann.page, 'Push canary 6e2a: the train leaves at nine');
	await expect(messageWith(ann.page, 'Push canary 6e2a')).toBeVisible();

	const [push] = await pushService.waitFor('/push/ben', 1, 10_000);
	expect(push!.body.toString('latin1')).not.toContain('canary');
	const data = decryptPush(push!.body, subscriber);
	expect(data).not.toContain('canary');

	await deliverPush(ben.context, ben.page, baseURL!, data);
	// A page of Hearth that does not open the app (no socket) reads the shown notifications.
	await ben.page.goto('/offline.html');
	await expect.poll(() => notifications(ben.page), { timeout: 15_000 }).toEqual([
		{
			title: 'Ann Pusher',
			body: 'Push canary 6e2a: the train leaves at nine',
			tag: `hearth:${dmId}`,
			url: expect.stringMatching(new RegExp(`^/dm/${dmId}\\?message=[0-9a-f-]{36}&seq=\\d+$`)),
			outcome: 'decrypted'
		}
	]);

	// The page shows the message: the service worker kept what it decrypted (a direct message's
	// ratchet step is taken once).
	await ben.page.goto(`/dm/${dmId}`);
	await expect(messageWith(ben.page, 'Push canary 6e2a: the train leaves at nine')).toBeVisible();
});

test('a push the device cannot decrypt still shows who wrote where, never ciphertext', async ({ baseURL }) => {
	await closeHearth();
	await send(ann.page, 'Second canary 91f0');
	const subscriber = newSubscriber();
	await ben.api.send('PUT', '/api/me/push-subscription', { endpoint: pushService.endpoint('/push/ben2'), keys: subscriber.keys });
	await send(ann.page, 'Third canary 0b3c');
	const [push] = await pushService.waitFor('/push/ben2', 1, 10_000);
	// The same push with its ciphertext damaged: the service worker cannot open it.
	const payload = JSON.parse(decryptPush(push!.body, subscriber)) as { payload: string };
	const ciphertext = payload.payload.replace(/"c":"(.)/, (_match, first: string) => `"c":"${first === 'A' ? 'B' : 'A'}`);
	expect(ciphertext).not.toBe(payload.payload);
	const damaged = JSON.stringify({ ...payload, payload: ciphertext });
	await deliverPush(ben.context, ben.page, baseURL!, damaged);
	await ben.page.goto('/offline.html');
	await expect
		.poll(async () => (await notifications(ben.page)).find((n) => n.body === 'New direct message'), { timeout: 15_000 })
		.toMatchObject({ title: 'Ann Pusher', tag: `hearth:${dmId}` });
	expect(JSON.stringify(await notifications(ben.page))).not.toContain('canary 0b3c');
});

test('a message too long to travel in the push is fetched by the service worker and shown shortened', async ({ baseURL }) => {
	await closeHearth();
	const subscriber = newSubscriber();
	await ben.api.send('PUT', '/api/me/push-subscription', { endpoint: pushService.endpoint('/push/ben3'), keys: subscriber.keys });
	const long = `Long canary 5d1e ${'and so on '.repeat(300)}`.trim();
	await send(ann.page, long);
	const [push] = await pushService.waitFor('/push/ben3', 1, 10_000);
	const data = decryptPush(push!.body, subscriber);
	expect((JSON.parse(data) as { payload?: string }).payload).toBeUndefined();
	await deliverPush(ben.context, ben.page, baseURL!, data);
	await ben.page.goto('/offline.html');
	await expect
		.poll(async () => (await notifications(ben.page)).find((n) => n.body.startsWith('Long canary 5d1e')), { timeout: 15_000 })
		.toMatchObject({ title: 'Ann Pusher', outcome: 'decrypted', body: expect.stringMatching(/^Long canary 5d1e (and so on )+.*…$/) });
	expect((await notifications(ben.page)).find((n) => n.body.startsWith('Long canary'))!.body.length).toBe(240);
});

test('without a network, a page says Hearth is offline instead of the browser’s error', async () => {
	await ben.page.goto(`/dm/${dmId}`);
	await expect(ben.page.locator('[data-connection="open"]')).toBeVisible();
	await ben.context.setOffline(true);
	try {
		await ben.page.goto('/settings');
		await expect(ben.page.getByRole('heading', { name: 'You are offline' })).toBeVisible();
		await ben.page.screenshot({ path: 'test-results/offline-page.png' });
	} finally {
		await ben.context.setOffline(false);
	}
});
