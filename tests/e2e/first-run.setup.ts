// The empty server: the sign-up page says the first account becomes the owner, and that account
// gets the server's settings. Runs before every other end-to-end test (see playwright.config.ts).
import { expect, test } from '@playwright/test';
import { OWNER, fillSignUp } from './support.ts';

test('the first account on a new server becomes its owner and can manage the server', async ({ page }) => {
	// Nobody can sign in to a server without accounts: the first visit goes straight to setting it up.
	await page.goto('/');
	await expect(page).toHaveURL(/\/sign-up$/);
	await expect(page.getByRole('heading', { name: 'Set up your server' })).toBeVisible();
	await expect(page.getByRole('note')).toContainText('The first account becomes its owner');

	await fillSignUp(page, OWNER.username, OWNER.displayName);
	await page.getByRole('button', { name: 'Create account' }).click();

	await expect(page).toHaveURL(/\/$/);
	await expect(page.getByRole('heading', { name: 'Create a community or join with an invite' })).toBeVisible();

	await page.getByRole('link', { name: 'Settings' }).first().click();
	await expect(page.getByRole('heading', { name: 'Server', exact: true })).toBeVisible();
	await expect(page.getByRole('radio', { name: /^Open/ })).toBeChecked();
});
