// Everyday messaging between two people (issue 15): code blocks, pins, edit history. Each feature is
// checked where the other person sees it, at desktop and phone width, in both themes, with axe.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { composer, messageWith, openChannel, twoMembers, type Person } from './support.ts';

test.describe.configure({ mode: 'serial' });

let ann: Person;
let ben: Person;
let communityId = '';
let generalId = '';

test.beforeAll(async ({ browser, baseURL }) => {
	({ ann, ben, communityId, generalId } = await twoMembers(browser, baseURL!, { ann: 'Ann Everyday', ben: 'Ben Everyday', community: 'Everyday Club' }));
});

test.afterAll(async () => {
	await ann?.context.close();
	await ben?.context.close();
});

async function open(page: Page, channelId = generalId) {
	await openChannel(page, communityId, channelId);
}

async function expectNoAxeViolations(page: Page, selector: string) {
	// Colours settle first: a theme switch or a hover fades backgrounds over 600 ms, and contrast
	// measured mid-fade is that of neither theme. (Endless animations, spinners, are not waited for.)
	await page.evaluate(() =>
		Promise.all(document.getAnimations().filter((animation) => Number.isFinite(animation.effect?.getComputedTiming().endTime ?? Infinity)).map((animation) => animation.finished.catch(() => {})))
	);
	const results = await new AxeBuilder({ page }).include(selector).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
	expect(results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

test('a fenced code block arrives highlighted with its language, inline code stays inline, and Copy copies the code', async () => {
	await open(ann.page);
	await open(ben.page);
	const code = 'def greet(name):\n    return f"<b>{name}</b>"  # not markup';
	await composer(ann.page).fill(`run \`greet()\` like this:\n\`\`\`python\n${code}\n\`\`\``);
	await composer(ann.page).press('Enter');

	const message = messageWith(ben.page, 'run');
	await expect(message.locator('.markdown p code')).toHaveText('greet()');
	const block = message.locator('.code-block');
	await expect(block.locator('.code-language')).toHaveText('Python');
	// Highlighted once the Python grammar loaded on demand: keywords and strings are tokens.
	await expect(block.locator('code .hljs-keyword').first()).toHaveText('def');
	await expect(block.locator('code .hljs-string')).toHaveText('f"<b>{name}</b>"');
	await expect(block.locator('code .hljs-comment')).toHaveText('# not markup');
	// The markup inside the code is text, never elements.
	await expect(block.locator('code b')).toHaveCount(0);
	await expect(block.locator('code')).toHaveText(`${code}\n`);

	await ben.context.grantPermissions(['clipboard-read', 'clipboard-write']);
	await block.getByRole('button', { name: 'Copy code' }).click();
	await expect(block.locator('.copy-code')).toHaveText('Copied');
	expect(await ben.page.evaluate(() => navigator.clipboard.readText())).toBe(`${code}\n`);

	for (const colorScheme of ['light', 'dark'] as const) {
		await ben.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ben.page, '[role="log"]');
	}
	await ben.page.setViewportSize({ width: 390, height: 800 });
	await expect(block).toBeVisible();
	await block.screenshot({ path: 'test-results/everyday-code-phone-dark.png' });
	await ben.page.emulateMedia({ colorScheme: 'light' });
	await block.screenshot({ path: 'test-results/everyday-code-phone-light.png' });
	// The block scrolls inside itself at phone width: the page never scrolls sideways.
	expect(await ben.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
	await ben.page.setViewportSize({ width: 1280, height: 800 });
});

test('pins: the owner pins a message, both see the notice and the decrypted pinned list, a member without the permission cannot pin, and unpinning empties the list', async () => {
	await open(ann.page);
	await open(ben.page);
	await composer(ben.page).fill('the wifi password is on the fridge');
	await composer(ben.page).press('Enter');
	const annMessage = messageWith(ann.page, 'the wifi password is on the fridge');
	await expect(annMessage).toBeVisible();

	// Ben is a plain member: no pin action for him (the server refuses it too: permissions.test.ts).
	const benMessage = messageWith(ben.page, 'the wifi password is on the fridge');
	await benMessage.hover();
	await expect(benMessage.getByRole('button', { name: 'Delete message' })).toBeVisible();
	await expect(benMessage.getByRole('button', { name: 'Pin message' })).toHaveCount(0);

	await annMessage.hover();
	await annMessage.getByRole('button', { name: 'Pin message' }).click();
	for (const page of [ann.page, ben.page]) {
		const notice = page.locator('[data-notice-type="message.pinned"]');
		await expect(notice).toContainText('Ann Everyday pinned a message to this channel.');
		await expect(messageWith(page, 'the wifi password is on the fridge').getByRole('img', { name: 'Pinned' })).toBeVisible();
	}

	// Ben opens the pinned list from the notice: the message is decrypted there on his device.
	await ben.page.locator('[data-notice-type="message.pinned"]').getByRole('button', { name: 'See all pinned messages' }).click();
	const dialog = ben.page.getByRole('dialog', { name: 'Pinned messages' });
	await expect(dialog.locator('.pin')).toHaveCount(1);
	await expect(dialog.locator('.pin')).toContainText('the wifi password is on the fridge');
	await expect(dialog.locator('.pin')).toContainText('Pinned by Ann Everyday');
	await expect(dialog.getByRole('button', { name: 'Unpin' })).toHaveCount(0);
	for (const colorScheme of ['light', 'dark'] as const) {
		await ben.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ben.page, 'dialog[open]');
	}
	await ben.page.setViewportSize({ width: 390, height: 800 });
	await ben.page.screenshot({ path: 'test-results/everyday-pins-phone-dark.png' });
	await ben.page.emulateMedia({ colorScheme: 'light' });
	await ben.page.screenshot({ path: 'test-results/everyday-pins-phone-light.png' });
	await ben.page.setViewportSize({ width: 1280, height: 800 });

	// Ann unpins from the header's list; Ben's open list follows.
	await ann.page.getByRole('button', { name: 'Pinned messages', exact: true }).click();
	const annDialog = ann.page.getByRole('dialog', { name: 'Pinned messages' });
	await annDialog.getByRole('button', { name: 'Unpin' }).click();
	await expect(annDialog).toContainText('Nothing is pinned here yet.');
	await expect(dialog).toContainText('Nothing is pinned here yet.');
	await expect(ben.page.locator('[data-notice-type="message.unpinned"]')).toContainText('Ann Everyday unpinned a message.');
	await expect(messageWith(ben.page, 'the wifi password is on the fridge').getByRole('img', { name: 'Pinned' })).toHaveCount(0);
});

test('edit history: the "(edited)" marker opens every earlier version, decrypted on the reader\'s device, newest first', async () => {
	await open(ann.page);
	await open(ben.page);
	await composer(ann.page).fill('lunch at noon');
	await composer(ann.page).press('Enter');
	const id = await messageWith(ann.page, 'lunch at noon').getAttribute('data-message-id');
	const mine = ann.page.locator(`article[data-message-id="${id}"]`);
	for (const text of ['lunch at 12:30', 'lunch at 1pm, sorry']) {
		await mine.hover();
		await mine.getByRole('button', { name: 'Edit message' }).click();
		const editor = ann.page.getByRole('textbox', { name: 'Edit message' });
		await editor.fill(text);
		await editor.press('Enter');
		await expect(messageWith(ben.page, text)).toBeVisible();
	}

	const theirs = messageWith(ben.page, 'lunch at 1pm, sorry');
	await theirs.getByRole('button', { name: '(edited)' }).click();
	const dialog = ben.page.getByRole('dialog', { name: 'Edit history' });
	const versions = dialog.locator('.version');
	await expect(versions).toHaveCount(3);
	await expect(versions.nth(0)).toContainText('Now');
	await expect(versions.nth(0)).toContainText('lunch at 1pm, sorry');
	await expect(versions.nth(1)).toContainText('Earlier');
	await expect(versions.nth(1)).toContainText('lunch at 12:30');
	await expect(versions.nth(2)).toContainText('Original');
	await expect(versions.nth(2)).toContainText('lunch at noon');

	// The earlier versions stay out of the local search index, which holds each message's current
	// text by message id: had the original been recorded, the one result would read "noon".
	await dialog.getByRole('button', { name: 'Close' }).click();
	await ben.page.getByRole('searchbox', { name: 'Search messages' }).fill('lunch');
	const found = ben.page.getByRole('list', { name: 'Messages found' }).getByRole('listitem');
	await expect(found).toHaveCount(1);
	await expect(found).toContainText('lunch at 1pm, sorry');
	await ben.page.getByRole('searchbox', { name: 'Search messages' }).fill('');
	for (const colorScheme of ['light', 'dark'] as const) {
		await ben.page.emulateMedia({ colorScheme });
		await theirs.getByRole('button', { name: '(edited)' }).click();
		await expect(versions).toHaveCount(3);
		await expectNoAxeViolations(ben.page, 'dialog[open]');
		if (colorScheme === 'dark') {
			await ben.page.setViewportSize({ width: 390, height: 800 });
			await ben.page.screenshot({ path: 'test-results/everyday-history-phone-dark.png' });
			await ben.page.setViewportSize({ width: 1280, height: 800 });
		}
		await dialog.getByRole('button', { name: 'Close' }).click();
	}
	await ben.page.emulateMedia({ colorScheme: 'light' });
});

test('blocking: Ann blocks Ben from his member card, his messages collapse for her, his direct message to her is refused visibly, and she unblocks him in settings', async () => {
	await open(ben.page);
	await composer(ben.page).fill('a message from before the block');
	await composer(ben.page).press('Enter');
	await open(ann.page);
	await expect(messageWith(ann.page, 'a message from before the block')).toBeVisible();

	const members = ann.page.getByRole('complementary', { name: 'Members' });
	if (!(await members.isVisible())) await ann.page.getByRole('button', { name: 'Members', exact: true }).click();
	await members.getByRole('button', { name: /Ben Everyday/ }).click();
	const card = ann.page.getByRole('dialog', { name: 'Ben Everyday' });
	await card.getByRole('button', { name: 'Block' }).click();
	await expect(card.getByRole('button', { name: 'Unblock' })).toBeVisible();
	await ann.page.keyboard.press('Escape');

	// Collapsed, with a way to look anyway.
	await expect(messageWith(ann.page, 'a message from before the block')).toHaveCount(0);
	const collapsed = ann.page.locator('article[data-blocked]').last();
	await expect(collapsed).toContainText('Message from someone you blocked.');
	await collapsed.getByRole('button', { name: 'Show' }).click();
	await expect(messageWith(ann.page, 'a message from before the block')).toBeVisible();

	// Ben's direct message to Ann is refused, and he is told.
	const { channel: dm } = await ben.api.send<{ channel: { id: string } }>('POST', '/api/dms', { userId: ann.id });
	await ben.page.goto(`/dm/${dm.id}`);
	await composer(ben.page).fill('can we talk?');
	await composer(ben.page).press('Enter');
	await expect(ben.page.locator('article[data-pending="failed"]')).toContainText('Not sent: This person is not accepting your messages.');
	// In the conversation itself Ann's header says she blocked him, and could unblock there too.
	await ann.page.goto(`/dm/${dm.id}`);
	await expect(ann.page.getByRole('button', { name: 'Unblock Ben Everyday' })).toHaveAttribute('aria-pressed', 'true');

	// Settings → Blocked people lists him; Unblock undoes it.
	await ann.page.goto('/settings#blocked');
	const section = ann.page.locator('#blocked');
	await expect(section.getByRole('list', { name: 'Blocked people' })).toContainText('Ben Everyday');
	for (const colorScheme of ['light', 'dark'] as const) {
		await ann.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ann.page, '#blocked');
	}
	await ann.page.setViewportSize({ width: 390, height: 800 });
	await section.scrollIntoViewIfNeeded();
	await ann.page.screenshot({ path: 'test-results/everyday-blocked-phone-dark.png' });
	await ann.page.setViewportSize({ width: 1280, height: 800 });
	await ann.page.emulateMedia({ colorScheme: 'light' });
	await section.getByRole('button', { name: 'Unblock Ben Everyday' }).click();
	await expect(section).toContainText('You have not blocked anyone.');
	await open(ann.page);
	await expect(messageWith(ann.page, 'a message from before the block')).toBeVisible();
	await expect(ann.page.locator('article[data-blocked]')).toHaveCount(0);
});

test('disappearing messages: the owner sets a timer, both see the notice and the clock on new messages, a member cannot change it, and turning it off is announced', async () => {
	await open(ann.page);
	await open(ben.page);
	await ann.page.getByRole('button', { name: 'Disappearing messages' }).click();
	const dialog = ann.page.getByRole('dialog', { name: 'Disappearing messages' });
	await dialog.getByRole('radio', { name: '1 day' }).check();
	await dialog.getByRole('button', { name: 'Save' }).click();
	await expect(dialog).toBeHidden();
	for (const page of [ann.page, ben.page]) {
		await expect(page.locator('[data-notice-type="disappearing.set"]').last()).toContainText('Ann Everyday set messages to disappear 1 day after they are sent.');
		await expect(page.getByRole('button', { name: 'Disappearing messages' })).toHaveAttribute('aria-pressed', 'true');
	}

	await composer(ben.page).fill('this one will not last');
	await composer(ben.page).press('Enter');
	await expect(messageWith(ann.page, 'this one will not last').getByRole('img', { name: /^Disappears / })).toBeVisible();

	// Ben is a member: he sees the timer but cannot change it.
	await ben.page.getByRole('button', { name: 'Disappearing messages' }).click();
	const benDialog = ben.page.getByRole('dialog', { name: 'Disappearing messages' });
	await expect(benDialog.getByRole('radio', { name: '1 day' })).toBeChecked();
	await expect(benDialog.getByRole('radio', { name: 'Off' })).toBeDisabled();
	await expect(benDialog).toContainText('Only people who can manage channels can change it.');
	for (const colorScheme of ['light', 'dark'] as const) {
		await ben.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ben.page, 'dialog[open]');
	}
	await ben.page.setViewportSize({ width: 390, height: 800 });
	await ben.page.screenshot({ path: 'test-results/everyday-disappearing-phone-dark.png' });
	await ben.page.setViewportSize({ width: 1280, height: 800 });
	await ben.page.emulateMedia({ colorScheme: 'light' });
	await benDialog.getByRole('button', { name: 'Close' }).click();

	await ann.page.getByRole('button', { name: 'Disappearing messages' }).click();
	await dialog.getByRole('radio', { name: 'Off' }).check();
	await dialog.getByRole('button', { name: 'Save' }).click();
	await expect(ben.page.locator('[data-notice-type="disappearing.set"]').last()).toContainText('Ann Everyday turned off disappearing messages.');
	await expect(ben.page.getByRole('button', { name: 'Disappearing messages' })).toHaveAttribute('aria-pressed', 'false');
});

test('emoji shortcodes: ":tad" offers 🎉 in a keyboard-driven list, Enter puts the emoji itself in the message, and the other person sees it', async () => {
	await open(ann.page);
	await open(ben.page);
	await composer(ann.page).fill('');
	await composer(ann.page).pressSequentially('we shipped it :tad');
	const list = ann.page.getByRole('listbox', { name: 'Insert an emoji' });
	await expect(list.getByRole('option', { selected: true })).toContainText(':tada:');
	await expectNoAxeViolations(ann.page, 'form, [role="listbox"]');
	await composer(ann.page).press('Enter');
	await expect(list).toBeHidden();
	await expect(composer(ann.page)).toHaveValue('we shipped it 🎉');
	// A time is not a shortcode: no list.
	await composer(ann.page).pressSequentially(' at 10:30');
	await expect(list).toBeHidden();
	await composer(ann.page).press('Enter');
	await expect(messageWith(ben.page, 'we shipped it 🎉 at 10:30')).toBeVisible();
});
