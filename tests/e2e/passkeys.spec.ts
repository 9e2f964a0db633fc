// Passkeys in the browser, with Chromium's virtual authenticator (DevTools protocol): add one in
// Settings → Security, sign out, sign in with it alone, then remove it. WebAuthn refuses IP
// addresses, so this test opens the server as localhost (its ORIGIN) rather than 127.0.0.1.
// UI_SHOTS_DIR=/some/folder also saves screenshots.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { generateHOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { ContextApi, PASSWORD, uniqueUsername } from './support.ts';

async function shot(page: Page, name: string, scrollTo?: string) {
	if (!process.env.UI_SHOTS_DIR) return;
	if (scrollTo) await page.locator(scrollTo).evaluate((element) => element.scrollIntoView({ block: 'start' }));
	await page.screenshot({ path: `${process.env.UI_SHOTS_DIR}/${name}.png` });
}

test('add a passkey, sign in with it alone, and remove it', async ({ browser, baseURL }) => {
	const origin = baseURL!.replace('127.0.0.1', 'localhost');
	const context = await browser.newContext({ baseURL: origin });
	const username = uniqueUsername('pk');
	await new ContextApi(context, origin).signUp(username, 'Pat Key');
	const page = await context.newPage();

	// A platform authenticator that holds discoverable credentials and verifies the user (as Touch ID would).
	const cdp = await context.newCDPSession(page);
	await cdp.send('WebAuthn.enable');
	const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
		options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
	});

	await page.goto('/settings#security');
	const section = page.locator('#security');
	await section.getByRole('button', { name: 'Add a passkey' }).click();
	await expect(section.getByLabel('Passkey name')).toHaveValue(/Chromium/);
	await section.getByLabel('Passkey name').fill('Test laptop');
	await section.getByLabel('Current password').fill(PASSWORD);
	await section.getByRole('button', { name: 'Continue' }).click();
	const list = section.getByRole('list', { name: 'Passkeys' });
	await expect(list.getByRole('listitem')).toHaveCount(1);
	await expect(list).toContainText('Test laptop');
	await expect(list).toContainText('not used yet');
	const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
	expect(credentials).toHaveLength(1);
	expect(credentials[0]!.isResidentCredential).toBe(true);
	await shot(page, 'passkeys-settings', '#security');
	const axe = await new AxeBuilder({ page }).include('#security').withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
	expect(axe.violations.map((v) => v.id)).toEqual([]);

	// Signed out, the passkey alone signs in: no username, no password.
	await page.getByRole('navigation').getByRole('button', { name: 'Sign out' }).click();
	await expect(page).toHaveURL(/\/sign-in/);
	await shot(page, 'passkeys-sign-in');
	const signInAxe = await new AxeBuilder({ page }).include('main').withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
	expect(signInAxe.violations.map((v) => v.id)).toEqual([]);
	await page.getByRole('button', { name: 'Use a passkey' }).click();
	await expect(page).not.toHaveURL(/\/sign-in/);
	await page.goto('/settings#security');
	await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
	await expect(list).toContainText('last used');
	await section.getByRole('button', { name: 'Remove passkey Test laptop' }).click();
	await section.getByLabel('Current password').fill(PASSWORD);
	await section.getByRole('form', { name: 'Remove passkey Test laptop' }).getByRole('button', { name: 'Remove passkey' }).click();
	await expect(section.getByRole('status')).toContainText('Passkey "Test laptop" removed.');
	await expect(list).toHaveCount(0);

	// The authenticator still holds it, but the server no longer knows it.
	await page.getByRole('navigation').getByRole('button', { name: 'Sign out' }).click();
	await page.getByRole('button', { name: 'Use a passkey' }).click();
	await expect(page.getByRole('alert')).toHaveText('This passkey is not registered on this server. Sign in with your password.');
	await context.close();
});

test('a passkey answers the second step after the password', async ({ browser, baseURL }) => {
	const origin = baseURL!.replace('127.0.0.1', 'localhost');
	const context = await browser.newContext({ baseURL: origin });
	const username = uniqueUsername('pk2');
	const api = new ContextApi(context, origin);
	await api.signUp(username, 'Pia Second');
	// Two-factor on through the API (the settings flow has its own test), the app played by the test.
	const { secret } = await api.send<{ secret: string }>('POST', '/api/me/two-factor/totp', { password: PASSWORD });
	await api.send('POST', '/api/me/two-factor/totp/confirm', { code: generateHOTP(decodeBase32IgnorePadding(secret), BigInt(Math.floor(Date.now() / 30_000)), 6) });
	const page = await context.newPage();
	const cdp = await context.newCDPSession(page);
	await cdp.send('WebAuthn.enable');
	await cdp.send('WebAuthn.addVirtualAuthenticator', {
		options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
	});
	await page.goto('/settings#security');
	const section = page.locator('#security');
	await section.getByRole('button', { name: 'Add a passkey' }).click();
	await section.getByLabel('Current password').fill(PASSWORD);
	await section.getByRole('button', { name: 'Continue' }).click();
	await expect(section.getByRole('list', { name: 'Passkeys' }).getByRole('listitem')).toHaveCount(1);

	await page.getByRole('navigation').getByRole('button', { name: 'Sign out' }).click();
	await expect(page).toHaveURL(/\/sign-in/);
	await page.getByLabel('Username').fill(username);
	await page.getByLabel('Password').fill(PASSWORD);
	await page.getByRole('button', { name: 'Sign in', exact: true }).click();
	await expect(page.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible();
	await shot(page, 'passkeys-second-factor');
	await page.getByRole('button', { name: 'Use a passkey instead' }).click();
	await expect(page).not.toHaveURL(/\/sign-in/);
	await page.goto('/settings#security');
	await expect(section.getByTestId('two-factor-status')).toContainText('Two-factor authentication is on.');
	await context.close();
});
