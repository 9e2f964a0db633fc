// Key backup and trust in real browsers: Ann turns on the key backup with a recovery passphrase and
// sends encrypted messages; signing in from a fresh browser (a new device, new keys) she reads
// nothing old until she enters the passphrase, then reads her history. Ben compares safety numbers
// with Ann and marks her verified; Ann's new device changes her safety number, and Ben is warned in
// the conversation until he acknowledges it. The steps build on each other, so they run in order.
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { ContextApi, log, messageWith, send, uniqueUsername } from './support.ts';

test.describe.configure({ mode: 'serial' });
// Argon2id at MODERATE cost (256 MiB) takes about 3 s on an idle machine and far longer on a busy CI
// runner; the steps that run it get room for that.
const ARGON2ID_WAIT = 90_000;
test.setTimeout(240_000);

const PASSPHRASE = 'lantern orbit meadow quartz';
const ann = { username: uniqueUsername('ann'), displayName: 'Ann Archer' };
const ben = { username: uniqueUsername('ben'), displayName: 'Ben Brook' };
const texts = { dm1: 'dm canary 5c1e: the old plan', dm2: 'dm canary 9d7a: second thought', channel: 'channel canary 3f0b: hello all' };

type Person = { context: BrowserContext; page: Page; api: ContextApi };
let a: Person;
let b: Person;
let a2: Person | undefined;
let dmId = '';
let generalUrl = '';

async function open(browser: Browser): Promise<Person> {
	const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const page = await context.newPage();
	page.on('dialog', (dialog) => void dialog.dismiss());
	return { context, page, api: new ContextApi(context, new URL(test.info().project.use.baseURL!).origin) };
}

/** Design review screenshots, only when asked for (TRUST_SHOTS_DIR=/some/folder). */
async function shot(page: Page, name: string) {
	if (process.env.TRUST_SHOTS_DIR) await page.screenshot({ path: `${process.env.TRUST_SHOTS_DIR}/${name}.png` });
}

test.beforeAll(async ({ browser }) => {
	a = await open(browser);
	b = await open(browser);
	await a.api.signUp(ann.username, ann.displayName);
	const community = await a.api.createCommunity('Trust Circle');
	const { invite } = await a.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	const { user: benUser } = await b.api.signUp(ben.username, ben.displayName, invite.code);
	const { channel } = await a.api.send<{ channel: { id: string } }>('POST', '/api/dms', { userId: benUser.id });
	dmId = channel.id;
	generalUrl = `/c/${community.id}/${community.systemChannelId}`;
});

test.afterAll(async () => {
	await a?.context.close();
	await b?.context.close();
	await a2?.context.close();
});

test('Ann turns on the key backup in Settings → Encryption', async () => {
	await a.page.goto('/settings#encryption');
	const section = a.page.locator('section#encryption');
	await expect(section.getByTestId('backup-status')).toContainText('Key backup is off');
	await expect(section).toContainText('your older messages are gone for good');
	await section.getByRole('button', { name: 'Set up key backup' }).click();
	await section.getByLabel('Recovery passphrase').fill('short');
	await section.getByLabel('Repeat the passphrase').fill('short');
	await section.getByRole('button', { name: 'Turn on key backup' }).click();
	await expect(section.getByText(/Use at least 10 characters/)).toBeVisible();
	await section.getByLabel('Recovery passphrase').fill(PASSPHRASE);
	await section.getByLabel('Repeat the passphrase').fill(PASSPHRASE);
	await shot(a.page, 'encryption-setup');
	await section.getByRole('button', { name: 'Turn on key backup' }).click();
	// Argon2id runs for a few seconds: the busy state shows meanwhile.
	await expect(section.getByText(/Creating your key backup/)).toBeVisible();
	await expect(section.getByTestId('backup-status')).toContainText('Key backup is on', { timeout: ARGON2ID_WAIT });
	await shot(a.page, 'encryption-on');
});

/** Waits until this browser has registered its encryption device (the app does so on load). */
async function deviceRegistered(person: Person) {
	await expect
		.poll(async () => (await person.context.request.get('/api/devices/current')).status(), { timeout: 20_000 })
		.toBe(200);
}

test('Ann sends encrypted messages; Ben reads them', async () => {
	// Ben's browser must be a device before Ann sends: messages are encrypted to the devices that exist.
	await b.page.goto(`/dm/${dmId}`);
	await deviceRegistered(b);
	await a.page.goto(`/dm/${dmId}`);
	await deviceRegistered(a);
	await send(a.page, texts.dm1);
	await send(a.page, texts.dm2);
	await expect(messageWith(a.page, texts.dm2)).toBeVisible();
	await a.page.goto(generalUrl);
	await send(a.page, texts.channel);
	await expect(messageWith(a.page, texts.channel)).toBeVisible();
	// The server holds ciphertext only.
	const history = await b.api.get<{ messages: Array<{ payload: string }> }>(`/api/channels/${dmId}/messages?limit=50`);
	expect(history.messages.length).toBeGreaterThanOrEqual(2);
	for (const message of history.messages) expect(message.payload).not.toContain('canary');

	await expect(messageWith(b.page, texts.dm1)).toBeVisible();
	await expect(messageWith(b.page, texts.dm2)).toBeVisible();
	// Ann's device backed up the keys of what she sent (two DM content keys, her channel sender key).
	await expect.poll(async () => (await a.api.get<{ backup: { entryCount: number } }>('/api/key-backup')).backup.entryCount, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
});

test('Ben compares safety numbers with Ann and marks her verified', async () => {
	await b.page.getByRole('button', { name: 'Safety number' }).click();
	const dialog = b.page.getByRole('dialog', { name: `Safety number with ${ann.displayName}` });
	const number = dialog.getByTestId('safety-number');
	await expect(number).toBeVisible();
	const digits = await number.getAttribute('data-digits');
	expect(digits).toMatch(/^\d{60}$/);
	await expect(number.locator('span')).toHaveCount(12);
	await expect(dialog.getByRole('img', { name: 'QR code of the safety number' }).locator('svg')).toBeVisible();

	// Ann sees the same number on her side.
	await a.page.goto(`/dm/${dmId}`);
	await a.page.getByRole('button', { name: 'Safety number' }).click();
	await expect(a.page.getByTestId('safety-number')).toHaveAttribute('data-digits', digits!);
	await a.page.keyboard.press('Escape');

	await shot(b.page, 'safety-number-dialog');
	await dialog.getByRole('button', { name: 'Mark as verified' }).click();
	await expect(dialog.getByText('Verified', { exact: true })).toBeVisible();
	await dialog.getByRole('button', { name: 'Done' }).click();
	await expect(b.page.getByRole('heading', { level: 1 }).getByRole('img', { name: 'Verified' })).toBeVisible();
	await expect(b.page.getByTestId('safety-number-changed')).toHaveCount(0);
});

test('Ann signs in on a new device: old messages stay locked until she enters her recovery passphrase', async ({ browser }) => {
	a2 = await open(browser);
	await a2.api.signIn(ann.username);
	await a2.page.goto(`/dm/${dmId}`);
	await expect(log(a2.page).locator('article[data-message-id]')).toHaveCount(2);
	await expect(log(a2.page).locator('[data-e2ee="undecryptable"]')).toHaveCount(2);
	await expect(log(a2.page)).not.toContainText('canary');

	const banner = a2.page.getByRole('region', { name: 'Key backup' });
	await expect(banner).toContainText('Enter your recovery passphrase to read older messages');
	await shot(a2.page, 'recovery-banner');
	await banner.getByRole('button', { name: 'Enter passphrase' }).click();
	const unlock = a2.page.getByRole('dialog', { name: 'Unlock your key backup' });
	await unlock.getByLabel('Recovery passphrase').fill('not my passphrase at all');
	await unlock.getByRole('button', { name: 'Unlock' }).click();
	await expect(unlock.getByRole('alert')).toContainText('does not unlock the key backup', { timeout: ARGON2ID_WAIT });

	await unlock.getByLabel('Recovery passphrase').fill(PASSPHRASE);
	await unlock.getByRole('button', { name: 'Unlock' }).click();
	// The keys are imported and the page shows the history again, readable.
	await expect(messageWith(a2.page, texts.dm1)).toBeVisible({ timeout: ARGON2ID_WAIT });
	await expect(messageWith(a2.page, texts.dm2)).toBeVisible();
	await expect(a2.page.getByRole('region', { name: 'Key backup' })).toHaveCount(0);
	await a2.page.goto(generalUrl);
	await expect(messageWith(a2.page, texts.channel)).toBeVisible();
	await a2.page.goto('/settings#encryption');
	await expect(a2.page.getByTestId('backup-status')).toContainText('Key backup is on');
});

test('Ben is warned that Ann’s safety number changed, and the warning clears when he acknowledges it', async () => {
	// Ann's new device (new identity key) reached Ben as devices.changed while he had the DM open.
	const warning = b.page.getByTestId('safety-number-changed');
	await expect(warning).toContainText('Safety number changed');
	await expect(warning).toContainText('new device');
	await expect(b.page.getByRole('heading', { level: 1 }).getByRole('img', { name: 'Verified' })).toHaveCount(0);
	await shot(b.page, 'safety-number-changed');
	// It survives a reload: the state is kept on Ben's device.
	await b.page.reload();
	await expect(b.page.getByTestId('safety-number-changed')).toBeVisible();
	await b.page.getByTestId('safety-number-changed').getByRole('button', { name: 'Got it' }).click();
	await expect(b.page.getByTestId('safety-number-changed')).toHaveCount(0);
	await b.page.reload();
	await expect(messageWith(b.page, texts.dm1)).toBeVisible();
	await expect(b.page.getByTestId('safety-number-changed')).toHaveCount(0);
});
