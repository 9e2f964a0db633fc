// Not a behaviour test: fills a realistic community and saves screenshots (desktop light and dark,
// phone) for people reviewing the design. Runs only when UI_SHOTS_DIR names a folder.
import { expect, test, type Page } from '@playwright/test';
import { ContextApi, OWNER, composer, log, messageWith, send, uniqueUsername } from './support.ts';

// playwright.config.ts includes this file only when UI_SHOTS_DIR is set.
const dir = process.env.UI_SHOTS_DIR!;

async function shot(page: Page, name: string) {
	await page.waitForTimeout(400); // let transitions settle
	await page.screenshot({ path: `${dir}/${name}.png` });
}

test('screenshots of the main screens', async ({ browser, baseURL }) => {
	test.setTimeout(180_000);
	const desktop = { viewport: { width: 1440, height: 900 } };
	const maya = await browser.newContext({ ...desktop, colorScheme: 'light' });
	const mayaApi = new ContextApi(maya, baseURL!);
	await mayaApi.signUp(uniqueUsername('maya'), 'Maya Okafor');
	const community = await mayaApi.createCommunity('Design Guild');
	const general = community.systemChannelId;
	const critique = await mayaApi.createChannel(community.id, 'critique');
	await mayaApi.createChannel(community.id, 'resources');
	await mayaApi.createChannel(community.id, 'off-topic');
	const { invite } = await mayaApi.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});

	const people = [
		['Leo Martin', 'leo'],
		['Priya Shah', 'priya'],
		['Tomás Díaz', 'tomas']
	] as const;
	const others = [];
	for (const [name, prefix] of people) {
		const context = await browser.newContext(desktop);
		const api = new ContextApi(context, baseURL!);
		await api.signUp(uniqueUsername(prefix), name, invite.code);
		others.push({ context, api, name });
	}
	const [leo, priya, tomas] = others as [(typeof others)[0], (typeof others)[0], (typeof others)[0]];
	await leo.api.sendMessage(general, 'Morning all! Reminder: critique session at **3pm** today.');
	await priya.api.sendMessage(general, 'I will bring the onboarding flow. Figma link: https://example.com/figma/onboarding');
	await priya.api.sendMessage(general, 'Still rough around the empty states though');
	await mayaApi.sendMessage(general, 'Perfect. Can you also check contrast on the dark theme? Our tokens are in `tokens.css`.');
	await tomas.api.sendMessage(general, 'Quick one, what spacing scale are we using?\n\n```css\n--space-1: 4px;\n--space-2: 8px;\n--space-3: 12px;\n```');
	await leo.api.sendMessage(general, '> Still rough around the empty states\n\nHappy to pair on those after lunch 🙂');
	await tomas.api.sendMessage(critique.id, 'Posted the new icon set, feedback welcome');

	// Leo stays online; Priya online; Tomás goes offline.
	const leoPage = await leo.context.newPage();
	await leoPage.goto(`/c/${community.id}/${general}`);
	const priyaPage = await priya.context.newPage();
	await priyaPage.goto(`/c/${community.id}/${general}`);
	await tomas.context.close();

	const page = await maya.newPage();
	await page.goto(`/c/${community.id}/${general}`);
	await expect(messageWith(page, 'Happy to pair')).toBeVisible();
	const target = messageWith(page, 'Morning all!');
	await target.hover();
	await target.getByRole('button', { name: 'Add reaction' }).click();
	await page.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: 'Thumbs up' }).click();
	const priyaMessage = messageWith(priyaPage, 'Morning all!');
	await priyaMessage.hover();
	await priyaMessage.getByRole('button', { name: 'Add reaction' }).click();
	await priyaPage.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: 'Heart' }).click();
	const reply = messageWith(page, 'Still rough').first();
	await reply.hover();
	await reply.getByRole('button', { name: 'Reply', exact: true }).click();
	await send(page, 'Agreed, let’s look at them together at 3.');
	await composer(leoPage).pressSequentially('On my way', { delay: 30 });
	await expect(page.getByText('Leo Martin is typing…')).toBeVisible();
	await page.mouse.move(10, 10);
	await shot(page, 'desktop-light');

	await page.emulateMedia({ colorScheme: 'dark' });
	await shot(page, 'desktop-dark');

	await page.getByRole('button', { name: 'Invite people' }).first().click();
	await expect(page.getByRole('textbox', { name: 'Invite link' })).toHaveValue(/invite/);
	await shot(page, 'desktop-dark-invite');
	await page.getByRole('button', { name: 'Close' }).click();

	await page.emulateMedia({ colorScheme: 'light' });
	await page.getByRole('complementary', { name: 'Members' }).getByRole('button', { name: /Leo Martin/ }).click();
	await expect(page.getByRole('dialog', { name: 'Leo Martin' })).toBeVisible();
	await shot(page, 'desktop-light-member-card');
	await page.keyboard.press('Escape');

	await expect(page.locator('[data-connection="open"]')).toBeVisible();
	await maya.setOffline(true);
	await expect(page.getByRole('status').filter({ hasText: 'Reconnecting…' })).toBeVisible();
	await send(page, 'This one waits for the network');
	await shot(page, 'desktop-light-offline');
	await maya.setOffline(false);
	await expect(page.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible();

	await page.goto('/settings');
	await expect(page.getByRole('list', { name: 'Signed-in sessions' })).toBeVisible();
	await shot(page, 'desktop-light-settings');

	const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, storageState: await maya.storageState() });
	const phonePage = await phone.newPage();
	await phonePage.goto(`/c/${community.id}`);
	await expect(phonePage.getByRole('link', { name: /critique/ })).toBeVisible();
	await shot(phonePage, 'phone-channels');
	await phonePage.goto(`/c/${community.id}/${general}`);
	await expect(log(phonePage)).toBeVisible();
	await expect(messageWith(phonePage, 'look at them together')).toBeVisible();
	await shot(phonePage, 'phone-chat');
	await phonePage.emulateMedia({ colorScheme: 'dark' });
	await shot(phonePage, 'phone-chat-dark');
	await phonePage.getByRole('button', { name: 'Members' }).tap();
	await expect(phonePage.getByRole('complementary', { name: 'Members' })).toBeVisible();
	await shot(phonePage, 'phone-members-dark');
	await phonePage.emulateMedia({ colorScheme: 'light' });
	await phonePage.goto('/');
	await expect(phonePage.getByRole('heading', { name: /Welcome back/ })).toBeVisible();
	await shot(phonePage, 'phone-home');
	await phonePage.goto('/settings');
	await expect(phonePage.getByRole('list', { name: 'Signed-in sessions' })).toBeVisible();
	await shot(phonePage, 'phone-settings');

	const visitor = await browser.newContext(desktop);
	const landing = await visitor.newPage();
	await landing.goto(`/invite/${invite.code}`);
	await expect(landing.getByRole('heading', { name: 'Design Guild' })).toBeVisible();
	await shot(landing, 'desktop-light-invite-landing');
	await landing.goto('/sign-in');
	await shot(landing, 'desktop-light-sign-in');
	const newcomer = await browser.newContext(desktop);
	const fresh = await newcomer.newPage();
	await new ContextApi(newcomer, baseURL!).signUp(uniqueUsername('nia'), 'Nia New');
	await fresh.goto('/');
	await expect(fresh.getByRole('heading', { name: 'Create a community or join with an invite' })).toBeVisible();
	await shot(fresh, 'desktop-light-empty');

	// Community settings, as its owner; server administration, as the server's owner.
	await page.goto(`/manage/${community.id}`);
	await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
	await shot(page, 'desktop-light-manage');
	await page.mouse.wheel(0, 900);
	await shot(page, 'desktop-light-manage-2');
	const admin = await browser.newContext(desktop);
	await new ContextApi(admin, baseURL!).signIn(OWNER.username);
	const adminPage = await admin.newPage();
	await adminPage.goto('/admin');
	await expect(adminPage.getByRole('heading', { level: 1 })).toBeVisible();
	await shot(adminPage, 'desktop-light-admin');
	await adminPage.mouse.wheel(0, 900);
	await shot(adminPage, 'desktop-light-admin-2');

	for (const context of [maya, leo.context, priya.context, phone, visitor, newcomer, admin]) await context.close();
});
