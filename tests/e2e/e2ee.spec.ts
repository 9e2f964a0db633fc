// End-to-end encryption in real browsers: two people (and a second device of one of them) talk in a
// community channel and a direct message. Every device shows the text, while the server holds only
// ciphertext. A member removed from the community cannot read what is sent after the removal:
// their device shows that it is waiting for a key, never the text.
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { ContextApi, log, messageWith, person, send, type Person } from './support.ts';

test.describe.configure({ mode: 'serial' });

let ann: Person;
let ben: Person;
/** Ann's second browser (another device of the same account). */
let annPhone: { context: BrowserContext; page: Page };
let communityId = '';
let generalId = '';
let dmId = '';

/** The payload the server stores for a message with this id (what anyone reading the database would see). */
async function storedPayload(api: ContextApi, channelId: string, messageId: string): Promise<string> {
	const { messages } = await api.get<{ messages: Array<{ id: string; payload: string }> }>(`/api/channels/${channelId}/messages?limit=50`);
	return messages.find((m) => m.id === messageId)!.payload;
}

async function messageId(page: Page, text: string): Promise<string> {
	return (await messageWith(page, text).getAttribute('data-message-id'))!;
}

test.beforeAll(async ({ browser, baseURL }) => {
	ann = await person(browser, baseURL!, 'ann', 'Ann Crypto');
	ben = await person(browser, baseURL!, 'ben', 'Ben Cipher');
	const community = await ann.api.createCommunity('Secret Garden');
	communityId = community.id;
	generalId = community.systemChannelId;
	const { invite } = await ann.api.send<{ invite: { code: string } }>('POST', `/api/communities/${communityId}/invites`, {});
	await ben.api.send('POST', `/api/invites/${invite.code}/accept`);
	const { channel } = await ann.api.send<{ channel: { id: string } }>('POST', '/api/dms', { userId: ben.id });
	dmId = channel.id;

	const phoneContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	await new ContextApi(phoneContext, baseURL!).signIn(ann.username);
	annPhone = { context: phoneContext, page: await phoneContext.newPage() };
});

test.afterAll(async () => {
	await ann?.context.close();
	await ben?.context.close();
	await annPhone?.context.close();
});

test('a channel message decrypts on both sides and the server stores only ciphertext', async () => {
	// Every page registers its device on first load.
	for (const page of [ann.page, ben.page, annPhone.page]) await page.goto(`/c/${communityId}/${generalId}`);
	for (const page of [ann.page, ben.page, annPhone.page]) await expect(page.locator('[data-connection="open"]')).toBeVisible();
	await expect(ann.page.getByRole('heading', { name: 'general', level: 1 })).toBeVisible();
	await expect(ann.page.getByRole('img', { name: 'End-to-end encrypted' })).toBeVisible();

	await send(ann.page, 'Channel canary 5a1e: the roses bloom at dawn');
	await expect(messageWith(ben.page, 'Channel canary 5a1e: the roses bloom at dawn')).toBeVisible();
	await expect(messageWith(annPhone.page, 'Channel canary 5a1e: the roses bloom at dawn')).toBeVisible();
	await expect(messageWith(ann.page, 'Channel canary 5a1e: the roses bloom at dawn')).toBeVisible();

	const id = await messageId(ben.page, 'Channel canary 5a1e');
	const payload = await storedPayload(ben.api, generalId, id);
	expect(payload).not.toContain('canary');
	expect(JSON.parse(payload)).toMatchObject({ e: 'hearth.sk.v1' });

	await send(ben.page, 'Reply from Ben: noted');
	await expect(messageWith(ann.page, 'Reply from Ben: noted')).toBeVisible();
	await expect(messageWith(annPhone.page, 'Reply from Ben: noted')).toBeVisible();
	// Still readable after a reload (keys and content keys persist in IndexedDB).
	await ben.page.reload();
	await expect(messageWith(ben.page, 'Channel canary 5a1e: the roses bloom at dawn')).toBeVisible();
	await ben.page.screenshot({ path: 'test-results/e2ee-channel.png' });
});

test('a direct message decrypts for both people and on the sender’s second device', async () => {
	for (const page of [ann.page, ben.page, annPhone.page]) await page.goto(`/dm/${dmId}`);
	await expect(ann.page.getByRole('heading', { name: 'Ben Cipher', level: 1 })).toBeVisible();

	await send(ann.page, 'DM canary 0d9f: meet by the fountain');
	await expect(messageWith(ben.page, 'DM canary 0d9f: meet by the fountain')).toBeVisible();
	await expect(messageWith(annPhone.page, 'DM canary 0d9f: meet by the fountain')).toBeVisible();
	const payload = await storedPayload(ann.api, dmId, await messageId(ben.page, 'DM canary 0d9f'));
	expect(payload).not.toContain('canary');
	expect(JSON.parse(payload)).toMatchObject({ e: 'hearth.dm.v1' });

	await send(ben.page, 'DM answer: see you there');
	await expect(messageWith(ann.page, 'DM answer: see you there')).toBeVisible();
	await expect(messageWith(annPhone.page, 'DM answer: see you there')).toBeVisible();
	await ann.page.screenshot({ path: 'test-results/e2ee-dm.png' });
});

test('a device added later asks for the key to older channel messages and shows them once the sender’s device answers', async ({ browser, baseURL }) => {
	await ann.page.goto(`/c/${communityId}/${generalId}`);
	await expect(ann.page.locator('[data-connection="open"]')).toBeVisible();
	// Ben signs in on a new browser: its device did not exist when Ann's key was shared.
	const laptop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	await new ContextApi(laptop, baseURL!).signIn(ben.username);
	const page = await laptop.newPage();
	await page.goto(`/c/${communityId}/${generalId}`);
	// It asks Ann's device (online in her tab), which re-shares the key; the message re-renders as text.
	await expect(messageWith(page, 'Channel canary 5a1e: the roses bloom at dawn')).toBeVisible({ timeout: 20_000 });
	await laptop.close();
});

test('a member removed from the community cannot read what is sent after the removal', async () => {
	await ann.page.goto(`/c/${communityId}/${generalId}`);
	await expect(ann.page.getByRole('heading', { name: 'general', level: 1 })).toBeVisible();
	await ann.api.send('POST', `/api/communities/${communityId}/members/${ben.id}/kick`, { reason: 'test' });
	await send(ann.page, 'After the kick, canary 77be: the key is under the stone');
	await expect(messageWith(ann.page, 'After the kick, canary 77be')).toBeVisible();
	await annPhone.page.goto(`/c/${communityId}/${generalId}`);
	await expect(messageWith(annPhone.page, 'After the kick, canary 77be')).toBeVisible();
	const afterId = await messageId(ann.page, 'After the kick, canary 77be');
	// Ann's browsers close, so nobody is online to hand Ben a key.
	await ann.page.close();
	await annPhone.page.close();

	// Ben comes back with a new invite: the message is in the channel, but his device never got its key.
	const { invite } = await ann.api.send<{ invite: { code: string } }>('POST', `/api/communities/${communityId}/invites`, {});
	await ben.api.send('POST', `/api/invites/${invite.code}/accept`);
	await ben.page.goto(`/c/${communityId}/${generalId}`);
	const message = log(ben.page).locator(`article[data-message-id="${afterId}"]`);
	await expect(message).toContainText('Waiting for the key to this message');
	await expect(log(ben.page)).not.toContainText('canary 77be');
	// What he read before the removal is still readable.
	await expect(messageWith(ben.page, 'Channel canary 5a1e: the roses bloom at dawn')).toBeVisible();
	await ben.page.screenshot({ path: 'test-results/e2ee-removed-member.png' });
});

test("Settings → Devices lists this account’s devices; removing one signs that browser out", async () => {
	const laptop = await ann.context.newPage();
	await laptop.goto('/settings');
	const list = laptop.getByRole('list', { name: 'Encryption devices' });
	// Ann's first browser and her second one ("phone") each registered a device named after the browser.
	await expect(list.getByRole('listitem')).toHaveCount(2);
	await expect(list.getByRole('listitem').filter({ hasText: 'This device' })).toContainText('Chromium on Linux');

	const other = list.getByRole('listitem').filter({ hasNotText: 'This device' });
	await other.getByRole('button', { name: /^Rename / }).click();
	await laptop.getByRole('textbox', { name: 'Device name' }).fill('Ann’s phone');
	await laptop.getByRole('button', { name: 'Save name' }).click();
	await expect(other).toContainText('Ann’s phone');

	const phonePage = await annPhone.context.newPage();
	await phonePage.goto(`/dm/${dmId}`);
	await expect(messageWith(phonePage, 'DM canary 0d9f: meet by the fountain')).toBeVisible();
	await laptop.getByRole('button', { name: 'Remove Ann’s phone' }).click();
	await laptop.getByRole('dialog', { name: 'Remove Ann’s phone?' }).getByRole('button', { name: 'Remove device' }).click();
	await expect(list.getByRole('listitem')).toHaveCount(1);
	// The removed device's session ends: that browser is sent to sign in.
	await expect(phonePage).toHaveURL(/\/sign-in/);
	await laptop.screenshot({ path: 'test-results/e2ee-devices.png' });
});
