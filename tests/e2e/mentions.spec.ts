// Mentions as people use them: "@" in the composer offers the conversation's members (keyboard
// driven), the person mentioned sees it counted apart from unread messages in the sidebar, the
// community rail and the tab title, the message is highlighted for them, and a desktop
// notification shows the decrypted sender and text while their window is in the background.
import { expect, test, type Page } from '@playwright/test';
import { composer, messageWith, person, type Person } from './support.ts';

test.describe.configure({ mode: 'serial' });

let ann: Person;
let ben: Person;
let communityId = '';
let generalId = '';
let randomId = '';

test.beforeAll(async ({ browser, baseURL }) => {
	ann = await person(browser, baseURL!, 'ann', 'Ann Mention');
	ben = await person(browser, baseURL!, 'ben', 'Ben Mentioned');
	const community = await ann.api.createCommunity('Mentions Club');
	communityId = community.id;
	generalId = community.systemChannelId;
	randomId = (await ann.api.createChannel(communityId, 'random')).id;
	const { invite } = await ann.api.send<{ invite: { code: string } }>('POST', `/api/communities/${communityId}/invites`, {});
	await ben.api.send('POST', `/api/invites/${invite.code}/accept`);
	// Ben's window will be in the background: the page reports no focus, and the notifications it
	// shows are recorded (the real API still runs).
	await ben.context.grantPermissions(['notifications'], { origin: baseURL! });
	await ben.context.addInitScript(() => {
		const shown: Array<{ title: string; body: string }> = [];
		const objects: Notification[] = [];
		(window as unknown as { shownNotifications: typeof shown; notificationObjects: Notification[] }).shownNotifications = shown;
		(window as unknown as { notificationObjects: Notification[] }).notificationObjects = objects;
		const Real = window.Notification;
		class Recorded extends Real {
			constructor(title: string, options?: NotificationOptions) {
				super(title, options);
				shown.push({ title, body: options?.body ?? '' });
				objects.push(this);
			}
		}
		Object.defineProperty(window, 'Notification', { value: Recorded });
		document.hasFocus = () => (window as unknown as { pretendFocus?: boolean }).pretendFocus === true;
	});
});

test.afterAll(async () => {
	await ann?.context.close();
	await ben?.context.close();
});

async function open(page: Page, channelId: string) {
	await page.goto(`/c/${communityId}/${channelId}`);
	await expect(page.locator('[data-connection="open"]')).toBeVisible();
}

test('@ offers the members, the keyboard picks one, and the person mentioned sees it counted, highlighted and notified', async () => {
	await open(ben.page, randomId);
	// Ben turns desktop notifications on (the browser's permission was granted above).
	await ben.page.goto('/settings#notifications');
	const toggle = ben.page.getByRole('checkbox', { name: /While Hearth is open in a tab/ });
	await toggle.check();
	await expect(ben.page.getByText('On: a desktop notification when the tab is in the background.')).toBeVisible();
	await open(ben.page, randomId);

	await open(ann.page, generalId);
	await composer(ann.page).fill('');
	await composer(ann.page).pressSequentially('good morning @ben');
	const list = ann.page.getByRole('listbox', { name: 'Mention someone' });
	await expect(list).toBeVisible();
	// The owner may also mention everyone; "ben" matches only Ben.
	await expect(list.getByRole('option')).toHaveCount(1);
	await expect(list.getByRole('option', { selected: true })).toContainText('Ben Mentioned');
	await composer(ann.page).press('Enter');
	await expect(list).toBeHidden();
	await expect(composer(ann.page)).toHaveValue(`good morning @${ben.username} `);
	await composer(ann.page).pressSequentially('the report is ready');
	await composer(ann.page).press('Enter');
	await expect(messageWith(ann.page, 'the report is ready')).toBeVisible();
	// The sender does not see their own message as a mention.
	await expect(messageWith(ann.page, 'the report is ready')).not.toHaveAttribute('data-mention');

	// Ben, in #random with his window in the background: counted apart from unread messages…
	const general = ben.page.getByRole('link', { name: /^general/ });
	await expect(general.locator('[data-mentions="1"]')).toHaveText('@1 mention');
	await expect(ben.page.getByRole('navigation', { name: 'Communities' }).getByRole('link', { name: /Mentions Club.*1 mention/ })).toBeVisible();
	await expect(ben.page).toHaveTitle(/^\(@1\) #random/);
	// …and notified with the decrypted sender and text.
	await expect.poll(() => ben.page.evaluate(() => (window as unknown as { shownNotifications: unknown[] }).shownNotifications)).toEqual([
		{ title: 'Ann Mention in #general', body: `good morning @${ben.username} the report is ready` }
	]);

	// A message without a mention only counts as unread, and does not notify.
	await composer(ann.page).fill('just chatting');
	await composer(ann.page).press('Enter');
	await expect(general.locator('.badge.quiet')).toHaveText('2 unread');
	await expect(general.locator('[data-mentions]')).toHaveText('@1 mention');
	await expect(ben.page).toHaveTitle(/^\(@1 · 2\) #random/);
	await ben.page.screenshot({ path: 'test-results/mention-counts.png' });

	// A click on the notification opens the conversation at that message (shown highlighted).
	await ben.page.evaluate(() => {
		(window as unknown as { pretendFocus: boolean }).pretendFocus = true;
		const [first] = (window as unknown as { notificationObjects: Notification[] }).notificationObjects;
		first!.onclick?.(new Event('click'));
	});
	await expect(ben.page).toHaveURL(new RegExp(`/c/${communityId}/${generalId}$`));
	const mentioned = messageWith(ben.page, 'the report is ready');
	await expect(mentioned).toHaveClass(/highlighted/);
	await expect(mentioned).toHaveAttribute('data-mention', '');
	await expect(messageWith(ben.page, 'just chatting')).not.toHaveAttribute('data-mention');
	await expect(general.locator('.badge')).toHaveCount(0);
	await expect(ben.page).toHaveTitle(/^#general/);
	expect(await ben.page.evaluate(() => (window as unknown as { shownNotifications: unknown[] }).shownNotifications)).toHaveLength(1);
	await ben.page.screenshot({ path: 'test-results/mention-highlight.png' });
});

test('a member without the permission is not offered @everyone; the owner is, and it reaches everyone', async () => {
	await open(ben.page, generalId);
	await composer(ben.page).pressSequentially('@ev');
	await expect(ben.page.getByRole('listbox', { name: 'Mention someone' })).toBeHidden();
	await composer(ben.page).fill('');

	await open(ann.page, generalId);
	await composer(ann.page).pressSequentially('@ev');
	const list = ann.page.getByRole('listbox', { name: 'Mention someone' });
	await expect(list.getByRole('option', { selected: true })).toContainText('@everyone');
	await ann.page.screenshot({ path: 'test-results/mention-autocomplete.png' });
	await composer(ann.page).press('Tab');
	await composer(ann.page).pressSequentially('meeting at noon');
	await composer(ann.page).press('Enter');
	await expect(messageWith(ben.page, 'meeting at noon')).toHaveAttribute('data-mention', '');
});

test('do not disturb, and a channel set to nothing, silence desktop notifications', async () => {
	const shown = () => ben.page.evaluate(() => (window as unknown as { shownNotifications: unknown[] }).shownNotifications.length);
	const mentionBen = async (text: string) => {
		await composer(ann.page).fill(`@${ben.username} ${text}`);
		await composer(ann.page).press('Enter');
		await expect(messageWith(ben.page, text)).toBeVisible();
	};
	await open(ann.page, generalId);

	// #general muted from its bell; Ben in #random with the window in the background.
	await open(ben.page, generalId);
	await ben.page.getByRole('button', { name: 'Notifications for this conversation' }).click();
	const panel = ben.page.getByRole('dialog', { name: 'Notifications for #general' });
	// A choice is saved and closes the panel, so it is clicked (check() re-reads the radio after
	// the click, and the panel may be gone by then).
	await panel.getByRole('radio', { name: 'Nothing' }).click();
	await expect(panel).toBeHidden();
	await ben.page.screenshot({ path: 'test-results/channel-notifications.png' });
	await open(ben.page, generalId);
	await ben.page.evaluate(() => ((window as unknown as { pretendFocus: boolean }).pretendFocus = false));
	let before = await shown();
	await mentionBen('muted channel mention');
	await ben.page.waitForTimeout(500);
	expect(await shown()).toBe(before);

	// Back to the default, then do not disturb for an hour from Settings.
	await ben.page.getByRole('button', { name: 'Notifications for this conversation' }).click();
	await expect(panel.getByRole('radio', { name: 'Nothing' })).toBeChecked();
	await panel.getByRole('radio', { name: /^Default/ }).click();
	await expect(panel).toBeHidden();
	await ben.page.goto('/settings#notifications');
	await ben.page.getByLabel('Do not disturb').selectOption('1h');
	await ben.page.getByRole('button', { name: 'Start' }).click();
	await expect(ben.page.getByText(/Nothing notifies you until/)).toBeVisible();
	await ben.page.screenshot({ path: 'test-results/notification-settings.png', fullPage: true });
	await open(ben.page, generalId);
	await ben.page.evaluate(() => ((window as unknown as { pretendFocus: boolean }).pretendFocus = false));
	before = await shown();
	await mentionBen('quiet hours mention');
	await ben.page.waitForTimeout(500);
	expect(await shown()).toBe(before);

	// Do not disturb off: mentions notify again.
	await ben.page.goto('/settings#notifications');
	await ben.page.getByRole('button', { name: 'Turn off' }).click();
	await open(ben.page, generalId);
	await ben.page.evaluate(() => ((window as unknown as { pretendFocus: boolean }).pretendFocus = false));
	before = await shown();
	await mentionBen('back to normal');
	await expect.poll(shown).toBe(before + 1);
});
