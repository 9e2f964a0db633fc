// Signing in and out, sessions, settings and the server's settings.
import { expect, test } from '@playwright/test';
import { ContextApi, OWNER, PASSWORD, fillSignUp, signInThroughUi, uniqueUsername } from './support.ts';

test.describe('Signing in', () => {
	test('a signed-out visitor is sent to sign-in and comes back to the page they wanted', async ({ page }) => {
		await page.goto('/settings');
		await expect(page).toHaveURL(/\/sign-in\?next=%2Fsettings$/);
		await page.getByLabel('Username').fill(OWNER.username);
		await page.getByLabel('Password').fill('not the password');
		await page.getByRole('button', { name: 'Sign in' }).click();
		await expect(page.getByRole('alert')).toContainText(/incorrect|wrong|invalid/i);

		await page.getByLabel('Password').fill(PASSWORD);
		await page.getByRole('button', { name: 'Sign in' }).click();
		await expect(page).toHaveURL(/\/settings$/);
		await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
	});

	test('a signed-in person opening the sign-in page goes to the app instead', async ({ page }) => {
		await signInThroughUi(page, OWNER.username);
		await page.goto('/sign-in');
		await expect(page).toHaveURL(/\/$/);
	});

	test('the sign-up form explains problems while typing', async ({ page }) => {
		await page.goto('/sign-up');
		await page.getByLabel('Username').fill('A B');
		await page.getByLabel('Username').blur();
		await expect(page.getByText('Usernames are 3-32 characters')).toBeVisible();
		await fillSignUp(page, 'fine_name', 'Fine');
		await page.getByLabel('Confirm password').fill('something else entirely');
		await page.getByLabel('Confirm password').blur();
		await expect(page.getByText('The passwords do not match.')).toBeVisible();
		await expect(page.getByLabel('Confirm password')).toHaveAttribute('aria-invalid', 'true');
	});
});

test.describe('Settings', () => {
	test('signing out all other sessions sends the other browser to the sign-in page', async ({ browser, baseURL }) => {
		const username = uniqueUsername('sam');
		const laptop = await browser.newContext();
		const phone = await browser.newContext();
		await new ContextApi(laptop, baseURL!).signUp(username, 'Sam Rivera');
		const laptopPage = await laptop.newPage();
		const phonePage = await phone.newPage();
		await signInThroughUi(phonePage, username);
		await expect(phonePage.locator('[data-connection="open"]')).toBeVisible();

		await laptopPage.goto('/settings');
		const sessions = laptopPage.getByRole('list', { name: 'Signed-in sessions' });
		await expect(sessions.getByRole('listitem')).toHaveCount(2);
		await expect(sessions.getByRole('listitem').filter({ hasText: 'This device' })).toHaveCount(1);
		await laptopPage.getByRole('button', { name: 'Sign out all other sessions' }).click();
		await laptopPage.getByRole('dialog', { name: 'Sign out all other sessions?' }).getByRole('button', { name: 'Sign out others' }).click();
		await expect(sessions.getByRole('listitem')).toHaveCount(1);

		await expect(phonePage).toHaveURL(/\/sign-in/);
		await expect(phonePage.getByRole('heading', { name: 'Welcome back' })).toBeVisible();
		await laptop.close();
		await phone.close();
	});

	test('changing the password needs the current one, and the new one works for signing in', async ({ browser, baseURL }) => {
		const username = uniqueUsername('pat');
		const context = await browser.newContext();
		await new ContextApi(context, baseURL!).signUp(username, 'Pat Password');
		const page = await context.newPage();
		await page.goto('/settings');
		const newPassword = 'a completely different passphrase';
		await page.getByLabel('Current password').fill('not my password at all');
		await page.getByLabel('New password', { exact: true }).fill(newPassword);
		await page.getByLabel('Confirm new password').fill(newPassword);
		await page.getByRole('button', { name: 'Change password' }).click();
		await expect(page.locator('#password').getByRole('alert')).toBeVisible();

		await page.getByLabel('Current password').fill(PASSWORD);
		await page.getByRole('button', { name: 'Change password' }).click();
		// This device keeps working on its new session: no reload, no trip to the sign-in page (the
		// toast would not survive either).
		await expect(page.getByText('Password changed.')).toBeVisible();
		await page.getByRole('link', { name: 'Back to chat' }).first().click();
		await expect(page.locator('[data-connection="open"]')).toBeVisible();
		await expect(page).toHaveURL(/\/$/);

		const elsewhere = await browser.newPage();
		await elsewhere.goto('/sign-in');
		await elsewhere.getByLabel('Username').fill(username);
		await elsewhere.getByLabel('Password').fill(newPassword);
		await elsewhere.getByRole('button', { name: 'Sign in' }).click();
		await expect(elsewhere).toHaveURL(/\/$/);
		await elsewhere.close();
		await context.close();
	});

	test('a new display name is saved and shown', async ({ page }) => {
		await signInThroughUi(page, OWNER.username);
		await page.goto('/settings');
		await page.getByLabel('Display name').fill('Olivia the Owner');
		await page.getByRole('button', { name: 'Save profile' }).click();
		await expect(page.getByText('Profile saved.')).toBeVisible();
		await page.reload();
		await expect(page.getByLabel('Display name')).toHaveValue('Olivia the Owner');
		await page.getByLabel('Display name').fill(OWNER.displayName);
		await page.getByRole('button', { name: 'Save profile' }).click();
		await expect(page.getByText('Profile saved.')).toBeVisible();
	});

	test('the dark theme choice is remembered after a reload', async ({ page }) => {
		await signInThroughUi(page, OWNER.username);
		await page.goto('/settings');
		await page.getByRole('radio', { name: 'Dark' }).check();
		await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
		const background = await page.locator('body').evaluate((body) => getComputedStyle(body).backgroundColor);
		await page.reload();
		await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
		expect(await page.locator('body').evaluate((body) => getComputedStyle(body).backgroundColor)).toBe(background);
		await page.getByRole('radio', { name: 'System' }).check();
		await expect(page.locator('html')).not.toHaveAttribute('data-theme', /.*/);
	});

	test('a server admin makes registration invite-only and hands out an instance invite code', async ({ page, browser }) => {
		await signInThroughUi(page, OWNER.username);
		await page.goto('/settings');
		await page.getByRole('radio', { name: /^Invite only/ }).check();
		await expect(page.getByText('Registration setting saved.')).toBeVisible();

		await page.getByLabel('Maximum uses').selectOption({ label: '1 use' });
		await page.getByRole('button', { name: 'Create code' }).click();
		const code = (await page.getByRole('list', { name: 'Active invite codes' }).locator('code').first().textContent())!;
		expect(code).toMatch(/^[A-Za-z0-9]{6,32}$/);

		const visitor = await browser.newContext();
		const signUp = await visitor.newPage();
		await signUp.goto('/sign-up');
		await expect(signUp.getByLabel('Invite code')).toBeVisible();
		await fillSignUp(signUp, uniqueUsername('inv'), 'Invited Person');
		await signUp.getByRole('button', { name: 'Create account' }).click();
		await expect(signUp.getByText('An invite code is needed to join this server.')).toBeVisible();
		await signUp.getByLabel('Invite code').fill(code);
		await signUp.getByRole('button', { name: 'Create account' }).click();
		await expect(signUp).toHaveURL(/\/$/);
		await visitor.close();

		await page.reload();
		await expect(page.getByRole('list', { name: 'Active invite codes' })).toHaveCount(0); // its one use is spent
		await page.getByRole('radio', { name: /^Open/ }).check();
		await expect(page.getByText('Registration setting saved.')).toBeVisible();
	});
});
