// At phone width one pane shows at a time: the lists, or the conversation with a way back.
import { expect, test } from '@playwright/test';
import { ContextApi, composer, uniqueUsername } from './support.ts';

test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

test('at phone width a person goes from community to channel and back', async ({ page, context, baseURL }) => {
	const api = new ContextApi(context, baseURL!);
	await api.signUp(uniqueUsername('pia'), 'Pia Phone');
	const community = await api.createCommunity('Pocket Club');
	await api.sendMessage(community.systemChannelId, 'Hello from a small screen');

	await page.goto('/');
	const rail = page.getByRole('navigation', { name: 'Communities' });
	await rail.getByRole('link', { name: 'Pocket Club' }).tap();

	const channel = page.getByRole('link', { name: 'general' });
	await expect(channel).toBeVisible();
	await expect(composer(page)).toHaveCount(0);
	await channel.tap();

	await expect(composer(page)).toBeVisible();
	await expect(page.getByText('Hello from a small screen')).toBeVisible();
	await expect(rail).toBeHidden();
	const box = (await page.getByRole('log').boundingBox())!;
	expect(box.width).toBeGreaterThan(380); // the conversation has the whole width

	await page.getByRole('link', { name: 'Back to channels' }).tap();
	await expect(page.getByRole('link', { name: 'general' })).toBeVisible();
	await expect(rail).toBeVisible();

	// The member list is a drawer on phones, closed until asked for.
	await page.getByRole('link', { name: 'general' }).tap();
	await expect(page.getByRole('complementary', { name: 'Members' })).toHaveCount(0);
	await page.getByRole('button', { name: 'Members' }).tap();
	await expect(page.getByRole('complementary', { name: 'Members' }).getByRole('button', { name: /Pia Phone/ })).toBeVisible();
	await page.getByRole('button', { name: 'Close members' }).tap();
	await expect(page.getByRole('complementary', { name: 'Members' })).toHaveCount(0);
});
