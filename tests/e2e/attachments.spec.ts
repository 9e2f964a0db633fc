// Encrypted attachments in two browsers: a file is encrypted in the sender's browser and uploaded
// as ciphertext (with progress and cancel), the other person sees an image inline and downloads a
// file that decrypts to the exact bytes sent; files over the server's limit are refused before the
// upload, and a server 413 (limit lowered after the page loaded) is shown in plain words.
import { readFileSync } from 'node:fs';
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { PNG_2X2 } from './attachment-fixtures.ts';
import { ContextApi, OWNER, composer, messageWith, send, signInThroughUi, uniqueUsername } from './support.ts';

test.describe.configure({ mode: 'serial' });

let contextA: BrowserContext;
let contextB: BrowserContext;
let a: Page;
let b: Page;
let channelUrl = '';
let channelId = '';
const ana = { username: uniqueUsername('anafile'), displayName: 'Ana Files' };
const bo = { username: uniqueUsername('bofile'), displayName: 'Bo Files' };

async function open(browser: Browser) {
	const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
	const page = await context.newPage();
	return { context, page, api: new ContextApi(context, new URL(test.info().project.use.baseURL!).origin) };
}

function uploads(page: Page) {
	return page.getByRole('list', { name: 'Files to send' });
}

test.beforeAll(async ({ browser }) => {
	const A = await open(browser);
	const B = await open(browser);
	({ context: contextA, page: a } = A);
	({ context: contextB, page: b } = B);
	await A.api.signUp(ana.username, ana.displayName);
	const community = await A.api.createCommunity('Files club');
	const { invite } = await A.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	await B.api.signUp(bo.username, bo.displayName, invite.code);
	await A.api.createChannel(community.id, 'other');
	channelId = community.systemChannelId;
	channelUrl = `/c/${community.id}/${channelId}`;
	await a.goto(channelUrl);
	await b.goto(channelUrl);
	await expect(composer(a)).toBeVisible();
	await expect(composer(b)).toBeVisible();
});

test.afterAll(async () => {
	await contextA?.close();
	await contextB?.close();
});

test('an image is sent encrypted and shown inline on the other side; a file card downloads the exact bytes', async () => {
	await a.getByTestId('attach-input').setInputFiles([
		{ name: 'red square.png', mimeType: 'image/png', buffer: PNG_2X2 },
		{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('the minutes of the meeting\n') }
	]);
	await expect(uploads(a).getByRole('listitem')).toHaveCount(2);
	await expect(uploads(a).getByText('Ready')).toHaveCount(2);
	await a.screenshot({ path: test.info().outputPath('composer-ready.png') });
	await send(a, 'two files for you');
	await expect(uploads(a)).toBeHidden();

	const message = messageWith(b, 'two files for you');
	const image = message.locator('[data-attachment="image"] img');
	await expect(image).toHaveAttribute('src', /^blob:/);
	await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(2);
	await expect(image).toHaveAttribute('alt', 'red square.png');
	const card = message.locator('[data-attachment="file"]');
	await expect(card).toContainText('notes.txt');
	await expect(card).toContainText('27 B');
	await b.screenshot({ path: test.info().outputPath('timeline-image-and-card.png') });

	const download = b.waitForEvent('download');
	await card.getByRole('button', { name: 'Download notes.txt' }).click();
	const file = await download;
	expect(file.suggestedFilename()).toBe('notes.txt');
	expect(readFileSync((await file.path())!, 'utf8')).toBe('the minutes of the meeting\n');
});

test('the image object URL is revoked when the message leaves the page', async () => {
	const message = messageWith(b, 'two files for you');
	const src = await message.locator('[data-attachment="image"] img').getAttribute('src');
	expect(src).toMatch(/^blob:/);
	const loads = (url: string) =>
		b.evaluate(
			(u) =>
				new Promise<boolean>((resolve) => {
					const img = new Image();
					img.onload = () => resolve(true);
					img.onerror = () => resolve(false);
					img.src = u;
				}),
			url
		);
	expect(await loads(src!)).toBe(true);
	// In-app navigation to another channel unmounts the timeline (same document, so a leaked URL would still load).
	await b.getByRole('link', { name: 'other', exact: true }).click();
	await expect(b.getByRole('heading', { name: 'other', level: 1 })).toBeVisible();
	await expect.poll(() => loads(src!)).toBe(false);
	await b.goBack();
	await expect(messageWith(b, 'two files for you').locator('[data-attachment="image"] img')).toHaveAttribute('src', /^blob:/);
});

test('a file alone (no text) is sent; an altered or missing file shows a clear state, never its bytes', async () => {
	await a.getByTestId('attach-input').setInputFiles([
		{ name: 'photo.png', mimeType: 'image/png', buffer: PNG_2X2 },
		{ name: 'minutes.txt', mimeType: 'text/plain', buffer: Buffer.from('minutes') }
	]);
	await expect(uploads(a).getByText('Ready')).toHaveCount(2);
	await expect(a.getByRole('button', { name: 'Send message' })).toBeEnabled();
	await a.getByRole('button', { name: 'Send message' }).click();
	const cardOnB = b.locator('article[data-message-id] [data-attachment="file"]', { hasText: 'minutes.txt' });
	await expect(cardOnB).toBeVisible();
	const message = b.locator('article[data-message-id]', { has: b.locator('[data-attachment="file"]', { hasText: 'minutes.txt' }) });
	await expect(message.locator('[data-attachment="image"] img')).toHaveAttribute('src', /^blob:/);

	// The server (or anyone on the way) alters the ciphertext: decryption refuses it.
	await b.route('**/api/attachments/*', async (route) => {
		const original = await route.fetch();
		const bytes = Buffer.from(await original.body());
		bytes[bytes.length - 5]! ^= 1;
		await route.fulfill({ response: original, body: bytes });
	});
	await b.reload();
	const image = b.locator('article[data-message-id] [data-attachment="image"]', { hasText: 'photo.png' });
	await expect(image).toHaveAttribute('data-state', 'failed');
	await expect(image).toContainText('This file could not be decrypted: it was altered, or its key does not match.');
	await expect(image.locator('img')).toHaveCount(0);
	const card = b.locator('article[data-message-id] [data-attachment="file"]', { hasText: 'minutes.txt' });
	let downloads = 0;
	b.on('download', () => (downloads += 1));
	await card.getByRole('button', { name: 'Download minutes.txt' }).click();
	await expect(card).toContainText('This file could not be decrypted: it was altered, or its key does not match.');
	await b.screenshot({ path: test.info().outputPath('timeline-altered-file.png') });
	await b.unroute('**/api/attachments/*');

	// Gone from the server.
	await b.route('**/api/attachments/*', (route) => route.fulfill({ status: 404, json: { error: { code: 'not_found', message: 'Attachment not found.' } } }));
	await card.getByRole('button', { name: 'Download minutes.txt' }).click();
	await expect(card).toContainText('This file is no longer available.');
	expect(downloads).toBe(0);
	await b.unroute('**/api/attachments/*');
});

test('files can be dropped on the composer or pasted into it', async () => {
	const dataTransfer = await a.evaluateHandle(() => {
		const transfer = new DataTransfer();
		transfer.items.add(new File(['dropped'], 'dropped.txt', { type: 'text/plain' }));
		return transfer;
	});
	const form = a.locator('form.composer');
	await form.dispatchEvent('dragenter', { dataTransfer });
	await form.dispatchEvent('dragover', { dataTransfer });
	await form.dispatchEvent('drop', { dataTransfer });
	await expect(uploads(a).getByRole('listitem').filter({ hasText: 'dropped.txt' })).toContainText('Ready');

	await composer(a).evaluate((field) => {
		const transfer = new DataTransfer();
		transfer.items.add(new File(['pasted'], 'pasted.txt', { type: 'text/plain' }));
		field.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
	});
	await expect(uploads(a).getByRole('listitem').filter({ hasText: 'pasted.txt' })).toContainText('Ready');
	await send(a, 'dropped and pasted');
	const message = messageWith(b, 'dropped and pasted');
	await expect(message.locator('[data-attachment="file"]')).toHaveCount(2);
	await expect(message).toContainText('dropped.txt');
	await expect(message).toContainText('pasted.txt');
});

test('an upload shows its progress and can be cancelled; nothing is sent', async () => {
	// Slow the upload down so the progress bar can be seen and cancelled.
	await a.route('**/api/channels/*/attachments', async (route) => {
		await new Promise((resolve) => setTimeout(resolve, 3_000));
		await route.continue().catch(() => {});
	});
	await a.getByTestId('attach-input').setInputFiles([{ name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(300 * 1024, 7) }]);
	const item = uploads(a).getByRole('listitem').filter({ hasText: 'big.bin' });
	await expect(item.getByRole('progressbar', { name: 'Uploading big.bin' })).toBeVisible();
	await expect(item).toContainText(/Uploading \d+ %/);
	await a.screenshot({ path: test.info().outputPath('composer-progress.png') });
	await item.getByRole('button', { name: 'Cancel upload of big.bin' }).click();
	await expect(uploads(a)).toBeHidden();
	await a.unroute('**/api/channels/*/attachments');
});

test('a file over the server limit is refused before upload, and a server 413 is shown plainly', async ({ browser }) => {
	const owner = await browser.newContext();
	const ownerPage = await owner.newPage();
	await signInThroughUi(ownerPage, OWNER.username);
	const ownerApi = new ContextApi(owner, new URL(test.info().project.use.baseURL!).origin);
	try {
		await ownerApi.send('PATCH', '/api/admin/settings', { uploadMaxBytes: 64 * 1024 });
		// The limit reaches the client in the `ready` frame of a new connection.
		await a.reload();
		let uploadsSeen = 0;
		await a.route('**/api/channels/*/attachments', (route) => {
			uploadsSeen += 1;
			return route.continue();
		});
		await a.getByTestId('attach-input').setInputFiles([{ name: 'too big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(70 * 1024, 1) }]);
		await expect(a.getByText(/“too big\.bin” is too large to send \(70 KB\)\. Files on this server can be at most 64 KB\./)).toBeVisible();
		await expect(uploads(a)).toBeHidden();
		expect(uploadsSeen).toBe(0);

		// The admin lowers the limit while this page still knows the old one: the server answers 413.
		await ownerApi.send('PATCH', '/api/admin/settings', { uploadMaxBytes: 16 * 1024 });
		await a.getByTestId('attach-input').setInputFiles([{ name: 'medium.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(40 * 1024, 2) }]);
		const item = uploads(a).getByRole('listitem').filter({ hasText: 'medium.bin' });
		await expect(item.getByRole('alert')).toHaveText('“medium.bin” is too large for this server. Attachments can be at most 16384 bytes (encrypted) on this server.');
		expect(uploadsSeen).toBe(1);
		await a.screenshot({ path: test.info().outputPath('composer-413.png') });
		// A failed file blocks sending until removed.
		await composer(a).fill('with a failed file');
		await composer(a).press('Enter');
		await expect(a.getByText('Remove the files that could not be uploaded first.')).toBeVisible();
		await item.getByRole('button', { name: 'Remove medium.bin' }).click();
		await expect(uploads(a)).toBeHidden();
		await a.unroute('**/api/channels/*/attachments');
	} finally {
		await ownerApi.send('PATCH', '/api/admin/settings', { uploadMaxBytes: null });
		await owner.close();
	}
});
