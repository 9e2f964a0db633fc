// The Content-Security-Policy must never get in the way of the app: walking through the main
// screens raises no violation report (a violation means a blocked script, style, image or socket),
// and the browser finds nothing wrong with the Permissions-Policy either.
import { expect, test, type Page } from '@playwright/test';
import { ContextApi, messageWith, uniqueUsername } from './support.ts';

async function recordViolations(page: Page): Promise<string[]> {
	const violations: string[] = [];
	await page.exposeFunction('reportCspViolation', (text: string) => violations.push(text));
	await page.addInitScript(() => {
		document.addEventListener('securitypolicyviolation', (event) => {
			(window as unknown as { reportCspViolation(t: string): void }).reportCspViolation(
				`${event.violatedDirective} blocked ${event.blockedURI || 'inline'} (${event.sourceFile}:${event.lineNumber})`
			);
		});
	});
	page.on('console', (message) => {
		// Chromium also reports here a Permissions-Policy it cannot parse (e.g. an unknown feature).
		if (/Content Security Policy|Permissions-Policy/.test(message.text())) violations.push(message.text());
	});
	return violations;
}

test('the app runs under its CSP without a single violation', async ({ browser, baseURL }) => {
	const context = await browser.newContext();
	const page = await context.newPage();
	const violations = await recordViolations(page);

	await page.goto('/sign-in');
	await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();

	const api = new ContextApi(context, baseURL!);
	await api.signUp(uniqueUsername('csp'), 'Casey Policy');
	const community = await api.createCommunity('Policy Place');
	await api.sendMessage(community.systemChannelId, 'A **bold** claim with a [link](https://example.com)');

	await page.goto(`/c/${community.id}/${community.systemChannelId}`);
	await expect(messageWith(page, 'A bold claim')).toBeVisible();
	// The live connection (/ws) is up: a message typed here arrives.
	await page.getByRole('textbox', { name: /message/i }).fill('sent under the policy');
	await page.keyboard.press('Enter');
	await expect(messageWith(page, 'sent under the policy')).toBeVisible();
	await page.getByRole('button', { name: 'Invite people' }).first().click();
	await expect(page.getByRole('textbox', { name: 'Invite link' })).toHaveValue(/invite/);
	await page.keyboard.press('Escape');
	await page.goto('/settings');
	await expect(page.getByRole('heading', { name: 'Settings', exact: true })).toBeVisible();

	expect(violations).toEqual([]);
	await context.close();
});
