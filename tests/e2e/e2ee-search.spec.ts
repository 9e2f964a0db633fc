// Search over decrypted history in real browsers: the server holds only ciphertext, so each device
// searches what it has decrypted itself. Two people exchange messages; one finds a message by its
// words and jumps to it; a message the server holds but this device never opened is not found
// (until the device opens its channel); a deleted message leaves the results. A plaintext payload
// stored by the server is shown marked "Not encrypted" and is never a search result.
import { expect, test, type Page } from '@playwright/test';
import { ContextApi, log, messageWith, person, send, type Person } from './support.ts';

test.describe.configure({ mode: 'serial' });

let ann: Person;
let ben: Person;
let communityId = '';
let generalId = '';
let backroomId = '';

function searchField(page: Page) {
	return page.getByRole('searchbox', { name: 'Search messages' });
}

function results(page: Page) {
	return page.getByRole('list', { name: 'Messages found' }).getByRole('listitem');
}

async function search(page: Page, text: string, scope: 'In' | 'Everywhere' = 'In') {
	await searchField(page).fill(text);
	const panel = page.getByRole('region', { name: 'Search results' });
	await panel.getByRole('radio', { name: scope === 'In' ? /^In / : 'Everywhere' }).check();
	await expect(panel.getByText('Searches only messages this device has decrypted.')).toBeVisible();
	return panel;
}

test.beforeAll(async ({ browser, baseURL }) => {
	ann = await person(browser, baseURL!, 'sann', 'Ann Finder');
	ben = await person(browser, baseURL!, 'sben', 'Ben Seeker');
	const community = await ann.api.createCommunity('Search Party');
	communityId = community.id;
	generalId = community.systemChannelId;
	const { channel } = await ann.api.send<{ channel: { id: string } }>('POST', `/api/communities/${communityId}/channels`, { name: 'backroom' });
	backroomId = channel.id;
	const { invite } = await ann.api.send<{ invite: { code: string } }>('POST', `/api/communities/${communityId}/invites`, {});
	await ben.api.send('POST', `/api/invites/${invite.code}/accept`);
});

test.afterAll(async () => {
	await ann?.context.close();
	await ben?.context.close();
});

test('a person finds a decrypted message by its words and jumps to it; what this device never decrypted is not found', async () => {
	for (const page of [ann.page, ben.page]) await page.goto(`/c/${communityId}/${generalId}`);
	for (const page of [ann.page, ben.page]) await expect(page.locator('[data-connection="open"]')).toBeVisible();

	await send(ann.page, 'The heron waits by the old quay at dusk');
	await send(ann.page, 'Lunch is at noon, bring the maps');
	await expect(messageWith(ben.page, 'The heron waits by the old quay')).toBeVisible();
	await expect(messageWith(ben.page, 'Lunch is at noon')).toBeVisible();
	// Sent once Ann's have arrived, so it is the newest on the server too.
	await send(ben.page, 'Saw a heron near the mill');
	await expect(messageWith(ben.page, 'Saw a heron near the mill')).toBeVisible();

	// Case and accents do not matter; every word must match; the newest comes first.
	let panel = await search(ben.page, 'HÉRON');
	await expect(results(ben.page)).toHaveCount(2);
	await expect(results(ben.page).first()).toContainText('Saw a heron near the mill');
	panel = await search(ben.page, 'heron quay');
	await expect(results(ben.page)).toHaveCount(1);
	const hit = results(ben.page).first();
	await expect(hit).toContainText('Ann Finder');
	await expect(hit).toContainText('#general');
	// The time comes from the indexer's full record (a leaner one written by a decrypt has none).
	await expect(hit.locator('time')).toBeVisible();
	await expect(hit.locator('mark')).toHaveText(['heron', 'quay']);
	await ben.page.screenshot({ path: 'test-results/e2ee-search-results.png' });
	await hit.getByRole('button').click();
	await expect(panel).toBeHidden();
	await expect(messageWith(ben.page, 'The heron waits by the old quay')).toHaveClass(/highlighted/);

	// Ann writes in #backroom, which Ben's browser has not opened: the server holds the message, but
	// this device never decrypted it, so searching everywhere does not find it.
	await ann.page.goto(`/c/${communityId}/${backroomId}`);
	await send(ann.page, 'Backroom secret: the otter key is under the mat');
	await expect(messageWith(ann.page, 'Backroom secret: the otter key')).toBeVisible();
	const { messages } = await ben.api.get<{ messages: Array<{ id: string; payload: string }> }>(`/api/channels/${backroomId}/messages?limit=50`);
	expect(messages).toHaveLength(1);
	expect(messages[0]!.payload).not.toContain('otter');
	await search(ben.page, 'otter', 'Everywhere');
	await expect(ben.page.getByText('No decrypted messages match.')).toBeVisible();
	await expect(results(ben.page)).toHaveCount(0);

	// Once Ben opens #backroom his device decrypts it, and then it is found from anywhere.
	await ben.page.goto(`/c/${communityId}/${backroomId}`);
	await expect(messageWith(ben.page, 'Backroom secret: the otter key')).toBeVisible();
	await ben.page.goto(`/c/${communityId}/${generalId}`);
	await search(ben.page, 'otter mat', 'Everywhere');
	await expect(results(ben.page)).toHaveCount(1);
	await expect(results(ben.page).first()).toContainText('#backroom');
	// A result in another conversation opens it and shows the message.
	await results(ben.page).first().getByRole('button').click();
	await expect(ben.page).toHaveURL(new RegExp(`/c/${communityId}/${backroomId}$`));
	await expect(messageWith(ben.page, 'Backroom secret: the otter key')).toHaveClass(/highlighted/);

	// Deleted by its author: it leaves Ben's index as the deletion arrives.
	const otterId = messages[0]!.id;
	await ann.api.send('DELETE', `/api/messages/${otterId}`);
	await expect(log(ben.page).locator(`article[data-message-id="${otterId}"]`)).toHaveCount(0);
	await search(ben.page, 'otter', 'Everywhere');
	await expect(ben.page.getByText('No decrypted messages match.')).toBeVisible();
});

test('a result older than the loaded page opens its conversation loaded back to it', async () => {
	const { channel } = await ann.api.send<{ channel: { id: string } }>('POST', `/api/communities/${communityId}/channels`, { name: 'archive' });
	for (const page of [ann.page, ben.page]) await page.goto(`/c/${communityId}/${channel.id}`);
	for (const page of [ann.page, ben.page]) await expect(page.locator('[data-connection="open"]')).toBeVisible();
	await send(ann.page, 'The needle is in the haystack');
	await expect(messageWith(ben.page, 'The needle is in the haystack')).toBeVisible();
	await ben.page.goto(`/c/${communityId}/${generalId}`);
	// More than one page of newer messages (the client loads 50 at a time), one at a time to stay
	// under the connection's rate limit.
	for (let i = 1; i <= 55; i++) {
		await send(ann.page, `Hay bale ${i}`);
		await expect(messageWith(ann.page, `Hay bale ${i}`)).toBeVisible();
	}
	// A reload keeps the index (IndexedDB) but no timeline.
	await ben.page.reload();
	await expect(ben.page.locator('[data-connection="open"]')).toBeVisible();
	await search(ben.page, 'needle haystack', 'Everywhere');
	await expect(results(ben.page)).toHaveCount(1);
	await results(ben.page).first().getByRole('button').click();
	await expect(ben.page).toHaveURL(new RegExp(`/c/${communityId}/${channel.id}$`));
	const needle = messageWith(ben.page, 'The needle is in the haystack');
	await expect(needle).toHaveClass(/highlighted/);
	await expect(needle).toBeInViewport();
	await expect(messageWith(ben.page, 'Hay bale 55')).toBeAttached();
});

test('a plaintext payload stored by the server is marked "Not encrypted" and is never a search result', async () => {
	await ann.page.goto(`/c/${communityId}/${generalId}`);
	await expect(ann.page.locator('[data-connection="open"]')).toBeVisible();
	// What a server (or a client from before encryption) could put in the channel under Ben's name:
	// a v1 plaintext body, no encryption envelope. The server stores whatever payload it is given.
	const text = 'Plaintext canary: wire the money to account 4242';
	const { message } = await ben.api.send<{ message: { id: string } }>('POST', `/api/channels/${generalId}/messages`, {
		clientId: `plain-${Date.now()}`,
		payload: JSON.stringify({ v: 1, text })
	});
	const shown = log(ann.page).locator(`article[data-message-id="${message.id}"]`);
	await expect(shown).toContainText(text);
	const note = shown.locator('[data-e2ee="plaintext"]');
	await expect(note).toBeVisible();
	await expect(note).toContainText('Not encrypted');
	await expect(note).toContainText('nothing proves who wrote it');
	// Encrypted messages carry no such mark.
	await expect(messageWith(ann.page, 'Lunch is at noon').locator('[data-e2ee="plaintext"]')).toHaveCount(0);
	await expect(messageWith(ann.page, 'Lunch is at noon')).not.toContainText('Not encrypted');
	await ann.page.screenshot({ path: 'test-results/e2ee-not-encrypted.png' });

	await search(ann.page, 'wire money', 'Everywhere');
	await expect(ann.page.getByText('No decrypted messages match.')).toBeVisible();
	// The same search does find encrypted text, so the empty result is about the plaintext payload.
	await search(ann.page, 'lunch maps', 'Everywhere');
	await expect(results(ann.page)).toHaveCount(1);
});
