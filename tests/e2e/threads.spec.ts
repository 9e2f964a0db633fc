// Threads between two people (issue 15): one starts a thread on a message from its actions (by
// keyboard), the thread opens beside the channel with its own composer, the other sees the reply
// count arrive live under the message, reads the (decrypted) reply, the unread marker comes and goes,
// and following can be switched off and on. The panel is checked with axe in both themes and looked
// at in screenshots at desktop and phone width (where it covers the screen, with a back button).
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { composer, openChannel, twoMembers, type Person } from './support.ts';

test.describe.configure({ mode: 'serial' });

let ann: Person;
let ben: Person;
let communityId = '';
let generalId = '';

test.beforeAll(async ({ browser, baseURL }) => {
	({ ann, ben, communityId, generalId } = await twoMembers(browser, baseURL!, { ann: 'Ann Threads', ben: 'Ben Threads', community: 'Thread Club' }));
});

test.afterAll(async () => {
	await ann?.context.close();
	await ben?.context.close();
});

async function open(page: Page) {
	await openChannel(page, communityId, generalId);
}

/** The channel's own message list (not the thread's). */
const channelLog = (page: Page) => page.getByRole('log', { name: /^Messages in/ });
const channelMessage = (page: Page, text: string) => channelLog(page).locator('article[data-message-id]', { hasText: text });
const panel = (page: Page) => page.locator('[data-thread-panel]');
const threadLog = (page: Page) => panel(page).getByRole('log', { name: 'Replies in this thread' });
const threadComposer = (page: Page) => panel(page).getByRole('textbox', { name: 'Reply in thread' });
const threadsButton = (page: Page) => page.getByRole('button', { name: /^Threads/ });

async function expectNoAxeViolations(page: Page, selector: string) {
	await page.evaluate(() =>
		Promise.all(document.getAnimations().filter((animation) => Number.isFinite(animation.effect?.getComputedTiming().endTime ?? Infinity)).map((animation) => animation.finished.catch(() => {})))
	);
	const results = await new AxeBuilder({ page }).include(selector).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
	expect(results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

test('a thread between two people: started by keyboard, the count updates live, replies are read beside the channel, unread and follow work', async () => {
	await open(ann.page);
	await open(ben.page);
	await composer(ann.page).fill('Who brings the cake on Friday?');
	await composer(ann.page).press('Enter');
	const benRoot = channelMessage(ben.page, 'Who brings the cake on Friday?');
	await expect(benRoot).toBeVisible();

	// Ben starts a thread from the message's actions, with the keyboard only.
	await benRoot.focus();
	await benRoot.getByRole('button', { name: 'Reply in thread' }).focus();
	await ben.page.keyboard.press('Enter');
	await expect(panel(ben.page)).toBeVisible();
	await expect(panel(ben.page).getByRole('heading', { name: 'Thread' })).toBeVisible();
	await expect(threadLog(ben.page)).toContainText('Who brings the cake on Friday?');
	await expect(threadLog(ben.page)).toContainText('No replies yet');
	await expect(threadComposer(ben.page)).toBeFocused();
	await threadComposer(ben.page).fill('I will bring a lemon cake');
	await threadComposer(ben.page).press('Enter');
	await expect(threadLog(ben.page).locator('article[data-message-id]', { hasText: 'I will bring a lemon cake' })).toBeVisible();
	await expect(panel(ben.page).getByRole('button', { name: 'Following' })).toHaveAttribute('aria-pressed', 'true');

	// Ann (the root's author, so she follows) sees the count arrive live, marked unread, and the header's Threads badge.
	const annRoot = channelMessage(ann.page, 'Who brings the cake on Friday?');
	const annSummary = annRoot.locator('[data-thread-summary]');
	await expect(annSummary).toContainText('1 reply');
	await expect(annSummary).toContainText('last reply');
	await expect(annSummary).toHaveClass(/unread/);
	await expect(threadsButton(ann.page)).toHaveAttribute('data-unread-threads', '1');
	// The reply stays out of the channel's own list.
	await expect(channelMessage(ann.page, 'I will bring a lemon cake')).toHaveCount(0);

	// Ann opens the thread: the reply is decrypted on her device, and the unread marker goes.
	await annSummary.click();
	await expect(threadLog(ann.page).locator('article[data-message-id]', { hasText: 'I will bring a lemon cake' })).toBeVisible();
	await expect(annSummary).not.toHaveClass(/unread/);
	await expect(threadsButton(ann.page)).toHaveAttribute('data-unread-threads', '0');

	// Ann replies; Ben, with the thread open, reads it there, and his channel's count says 2.
	await threadComposer(ann.page).fill('Perfect, thanks Ben');
	await threadComposer(ann.page).press('Enter');
	await expect(threadLog(ben.page).locator('article[data-message-id]', { hasText: 'Perfect, thanks Ben' })).toBeVisible();
	await expect(channelMessage(ben.page, 'Who brings the cake on Friday?').locator('[data-thread-summary]')).toContainText('2 replies');
	await expect(threadLog(ben.page)).toContainText('2 replies');

	// Ben unfollows and closes the thread: Ann's next reply leaves it read for him; following again brings the marker back.
	await panel(ben.page).getByRole('button', { name: 'Following' }).click();
	await expect(panel(ben.page).getByRole('button', { name: 'Follow', exact: true })).toHaveAttribute('aria-pressed', 'false');
	await panel(ben.page).getByRole('button', { name: 'Close thread' }).click();
	await expect(panel(ben.page)).toHaveCount(0);
	await threadComposer(ann.page).fill('See you Friday');
	await threadComposer(ann.page).press('Enter');
	const benSummary = channelMessage(ben.page, 'Who brings the cake on Friday?').locator('[data-thread-summary]');
	await expect(benSummary).toContainText('3 replies');
	await expect(benSummary).not.toHaveClass(/unread/);
	// He follows no thread here any more: the header has no Threads button.
	await expect(threadsButton(ben.page)).toHaveCount(0);

	// Following again (from the panel) brings the marker back, and the Threads list shows it.
	await benSummary.click();
	await panel(ben.page).getByRole('button', { name: 'Follow', exact: true }).click();
	await expect(panel(ben.page).getByRole('button', { name: 'Following' })).toBeVisible();
	await panel(ben.page).getByRole('button', { name: 'Close thread' }).click();
	await threadComposer(ann.page).fill('Bring candles too');
	await threadComposer(ann.page).press('Enter');
	await expect(benSummary).toContainText('4 replies');
	await expect(benSummary).toHaveClass(/unread/);
	await expect(threadsButton(ben.page)).toHaveAttribute('data-unread-threads', '1');
	await threadsButton(ben.page).click();
	const list = ben.page.getByRole('dialog', { name: 'Threads' });
	await expect(list.locator('[data-followed-thread]')).toHaveCount(1);
	await expect(list.locator('[data-followed-thread]')).toContainText('Who brings the cake on Friday?');
	await expect(list.locator('[data-followed-thread]')).toContainText('New replies');
	for (const colorScheme of ['light', 'dark'] as const) {
		await ben.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ben.page, 'dialog[open]');
	}
	await ben.page.screenshot({ path: 'test-results/threads-list-desktop-dark.png' });
	await ben.page.emulateMedia({ colorScheme: 'light' });
	await list.getByRole('button', { name: 'Open' }).click();
	await expect(threadLog(ben.page).locator('article[data-message-id]', { hasText: 'Bring candles too' })).toBeVisible();
	await expect(benSummary).not.toHaveClass(/unread/);

	// The panel: axe in both themes, screenshots at desktop and phone width.
	for (const colorScheme of ['light', 'dark'] as const) {
		await ben.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ben.page, '[data-thread-panel]');
		await ben.page.screenshot({ path: `test-results/threads-panel-desktop-${colorScheme}.png` });
	}
	await ben.page.setViewportSize({ width: 390, height: 800 });
	await expect(panel(ben.page).getByRole('button', { name: 'Back to the channel' })).toBeVisible();
	await expect(panel(ben.page).getByRole('button', { name: 'Close thread' })).toBeHidden();
	// It covers the screen.
	const box = await panel(ben.page).boundingBox();
	expect(box).toMatchObject({ x: 0, y: 0, width: 390, height: 800 });
	for (const colorScheme of ['light', 'dark'] as const) {
		await ben.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ben.page, '[data-thread-panel]');
		await ben.page.screenshot({ path: `test-results/threads-panel-phone-${colorScheme}.png` });
	}
	await panel(ben.page).getByRole('button', { name: 'Back to the channel' }).click();
	await expect(panel(ben.page)).toHaveCount(0);
	await expect(channelMessage(ben.page, 'Who brings the cake on Friday?')).toBeVisible();
	await ben.page.screenshot({ path: 'test-results/threads-summary-phone-dark.png' });
	await ben.page.emulateMedia({ colorScheme: 'light' });
	await ben.page.setViewportSize({ width: 1280, height: 800 });
});

test('Escape closes the thread and a reload keeps the replies (they were stored, not only shown)', async () => {
	await open(ben.page);
	const summary = channelMessage(ben.page, 'Who brings the cake on Friday?').locator('[data-thread-summary]');
	await expect(summary).toContainText('4 replies');
	await summary.click();
	await expect(threadLog(ben.page).locator('article[data-message-id]')).toHaveCount(5);
	await threadComposer(ben.page).press('Escape');
	await expect(panel(ben.page)).toHaveCount(0);
	await expect(summary).toBeFocused();
});
