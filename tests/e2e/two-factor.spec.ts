// Two-factor authentication in the browser: set up an authenticator app in Settings → Security
// (the test plays the app, computing codes from the secret shown in text), sign out, sign in with
// the password and a code, then with a recovery code, which says how many remain.
// UI_SHOTS_DIR=/some/folder also saves screenshots of each screen for design review.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { generateHOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { ContextApi, PASSWORD, uniqueUsername } from './support.ts';

const STEP_MS = 30_000;
const stepNow = () => Math.floor(Date.now() / STEP_MS);
const codeAt = (secret: string, step: number) => generateHOTP(decodeBase32IgnorePadding(secret), BigInt(step), 6);

/** Waits until at least 10 s remain in the current 30-second step, so a code computed now is still current when typed. */
async function awayFromStepEnd(): Promise<void> {
	const left = STEP_MS - (Date.now() % STEP_MS);
	if (left < 10_000) await new Promise((resolve) => setTimeout(resolve, left + 200));
}

/** Saves a screenshot when UI_SHOTS_DIR is set, with the element `scrollTo` (a CSS selector) at the top. */
async function shot(page: Page, name: string, scrollTo?: string) {
	if (!process.env.UI_SHOTS_DIR) return;
	if (scrollTo) await page.locator(scrollTo).evaluate((element) => element.scrollIntoView({ block: 'start' }));
	await page.screenshot({ path: `${process.env.UI_SHOTS_DIR}/${name}.png` });
}

/** The accessibility rules accessibility.spec.ts applies to the other screens, on what this file adds. */
async function expectAccessible(page: Page, selector: string) {
	const results = await new AxeBuilder({ page }).include(selector).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
	expect(results.violations.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
}

async function signInWithPassword(page: Page, username: string) {
	await page.goto('/sign-in');
	await page.getByLabel('Username').fill(username);
	await page.getByLabel('Password').fill(PASSWORD);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await expect(page.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible();
}

async function signOutFromSettings(page: Page) {
	await page.goto('/settings');
	await page.getByRole('navigation').getByRole('button', { name: 'Sign out' }).click();
	await expect(page).toHaveURL(/\/sign-in/);
}

test('set up an authenticator app, then sign in with a code and with a recovery code', async ({ page, context, baseURL }) => {
	test.setTimeout(90_000);
	const username = uniqueUsername('tfa');
	await new ContextApi(context, baseURL!).signUp(username, 'Tess Factor');

	await page.goto('/settings#security');
	const section = page.locator('#security');
	await expect(section.getByTestId('two-factor-status')).toContainText('Two-factor authentication is off.');
	await section.getByRole('button', { name: 'Set up authenticator app' }).click();
	await section.getByLabel('Current password').fill('not my password');
	await section.getByRole('button', { name: 'Continue' }).click();
	await expect(section.getByRole('alert')).toHaveText('Your password is not correct.');
	await section.getByLabel('Current password').fill(PASSWORD);
	await section.getByRole('button', { name: 'Continue' }).click();

	await expect(section.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
	const secret = (await section.getByTestId('totp-secret').textContent())!.replace(/\s+/g, '');
	expect(secret).toMatch(/^[A-Z2-7]{32}$/);
	await shot(page, 'two-factor-settings-scan', '#security');
	await expectAccessible(page, '#security');

	await section.getByLabel('Code from the app').fill('000000');
	await section.getByRole('button', { name: 'Turn on' }).click();
	await expect(section.getByRole('alert')).toContainText('That code is not correct.');
	// The previous step's code (an app whose clock lags): the current one stays free for signing in.
	await awayFromStepEnd();
	await section.getByLabel('Code from the app').fill(codeAt(secret, stepNow() - 1));
	await section.getByRole('button', { name: 'Turn on' }).click();

	const codes = section.getByTestId('recovery-codes').locator('code');
	await expect(codes).toHaveCount(10);
	const recoveryCodes = await codes.allTextContents();
	await shot(page, 'two-factor-settings-codes', '#security');
	await expectAccessible(page, '#security');
	const done = section.getByRole('button', { name: 'Done' });
	await expect(done).toBeDisabled();
	await section.getByLabel('I have saved these codes somewhere safe.').check();
	await done.click();
	await expect(section.getByTestId('two-factor-status')).toContainText('Two-factor authentication is on.');
	await expect(section.getByTestId('two-factor-status')).toContainText('10 recovery codes left');
	await expect(section.getByTestId('recovery-codes')).toHaveCount(0);
	await shot(page, 'two-factor-settings-on', '#security');

	// Password, then the code the app shows now.
	await signOutFromSettings(page);
	await signInWithPassword(page, username);
	await shot(page, 'two-factor-sign-in');
	await expectAccessible(page, 'main');
	await page.getByLabel('Code from your authenticator app').fill(codeAt(secret, stepNow()));
	await page.getByRole('button', { name: 'Verify' }).click();
	await expect(page).not.toHaveURL(/\/sign-in/);
	await expect(page.locator('[data-connection="open"]')).toBeVisible();

	// Password, then a recovery code: the page says how many are left before going on.
	await signOutFromSettings(page);
	await signInWithPassword(page, username);
	await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
	await page.getByLabel('Recovery code').fill(recoveryCodes[0]!);
	await page.getByRole('button', { name: 'Verify' }).click();
	await expect(page.getByRole('form', { name: 'Two-factor authentication' }).getByRole('status')).toContainText('You signed in with a recovery code. 9 codes are left.');
	await shot(page, 'two-factor-recovery-used');
	await page.getByRole('button', { name: 'Continue' }).click();
	await expect(page).not.toHaveURL(/\/sign-in/);

	// The same recovery code does not work twice.
	await signOutFromSettings(page);
	await signInWithPassword(page, username);
	await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
	await page.getByLabel('Recovery code').fill(recoveryCodes[0]!);
	await page.getByRole('button', { name: 'Verify' }).click();
	await expect(page.getByRole('alert')).toHaveText('That recovery code is not correct or was used already.');
	await expect(page).toHaveURL(/\/sign-in/);
});
