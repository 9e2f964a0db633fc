// Automated accessibility checks (axe-core) on the main screens, in light and dark: every field
// and button has a name, roles and ARIA are valid, text has enough contrast. They cannot judge
// everything, but they catch the regressions that are easy to make.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { ContextApi, messageWith, uniqueUsername } from './support.ts';

async function violations(page: Page) {
	const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
	return results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
}

test('sign-in and sign-up pages have no detectable accessibility problems', async ({ page }) => {
	await page.goto('/sign-in');
	expect(await violations(page)).toEqual([]);
	await page.goto('/sign-up');
	expect(await violations(page)).toEqual([]);
});

for (const colorScheme of ['light', 'dark'] as const) {
	test(`the chat, its dialogs and settings have no detectable accessibility problems (${colorScheme})`, async ({ browser, baseURL }) => {
		const context = await browser.newContext({ colorScheme, viewport: { width: 1280, height: 800 } });
		const api = new ContextApi(context, baseURL!);
		await api.signUp(uniqueUsername('axe'), 'Alex Axe');
		const community = await api.createCommunity('Checked Community');
		await api.createChannel(community.id, 'second');
		await api.sendMessage(community.systemChannelId, 'Some **bold** text, `code` and https://example.com');
		const page = await context.newPage();

		await page.goto('/');
		await expect(page.getByRole('heading', { name: /Welcome back/ })).toBeVisible();
		expect(await violations(page)).toEqual([]);

		await page.goto(`/c/${community.id}/${community.systemChannelId}`);
		await expect(messageWith(page, 'Some bold text')).toBeVisible();
		await expect(page.getByRole('complementary', { name: 'Members' }).getByRole('button', { name: /Alex Axe/ })).toBeVisible();
		expect(await violations(page)).toEqual([]);

		await page.getByRole('button', { name: 'Invite people' }).first().click();
		await expect(page.getByRole('textbox', { name: 'Invite link' })).toHaveValue(/invite/);
		expect(await violations(page)).toEqual([]);
		await page.getByRole('button', { name: 'Close' }).click();

		await page.goto('/settings');
		await expect(page.getByRole('list', { name: 'Signed-in sessions' })).toBeVisible();
		expect(await violations(page)).toEqual([]);
		await context.close();
	});
}
