// Profiles, presence and emoji between two people (issue 15): an avatar cropped and uploaded by one
// shows for the other; bio and pronouns on the member card; a custom status, do not disturb and
// invisible as the other sees them; the emoji picker by keyboard in the composer and for reactions.
// Each view is looked at at desktop and phone width, in both themes, and checked with axe.
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { composer, messageWith, openChannel, send, twoMembers, type Person } from './support.ts';

test.describe.configure({ mode: 'serial' });

let ann: Person;
let ben: Person;
let communityId = '';
let generalId = '';

test.beforeAll(async ({ browser, baseURL }) => {
	({ ann, ben, communityId, generalId } = await twoMembers(browser, baseURL!, { ann: 'Ann Profile', ben: 'Ben Profile', community: 'Profile Club' }));
});

test.afterAll(async () => {
	await ann?.context.close();
	await ben?.context.close();
});

async function open(page: Page, channelId = generalId) {
	await openChannel(page, communityId, channelId);
}

function members(page: Page) {
	return page.getByRole('complementary', { name: 'Members' });
}

async function showMembers(page: Page) {
	if (!(await members(page).isVisible())) await page.getByRole('button', { name: 'Members', exact: true }).click();
	await expect(members(page)).toBeVisible();
}

async function expectNoAxeViolations(page: Page, selector: string) {
	// Colours settle first (theme switches and hovers fade over 600 ms).
	await page.evaluate(() =>
		Promise.all(document.getAnimations().filter((animation) => Number.isFinite(animation.effect?.getComputedTiming().endTime ?? Infinity)).map((animation) => animation.finished.catch(() => {})))
	);
	const results = await new AxeBuilder({ page }).include(selector).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
	expect(results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

/** A 600×400 picture drawn by the browser (a photo stand-in), as PNG bytes. */
async function landscapePicture(page: Page): Promise<Buffer> {
	const dataUrl = await page.evaluate(() => {
		const canvas = document.createElement('canvas');
		canvas.width = 600;
		canvas.height = 400;
		const g = canvas.getContext('2d')!;
		g.fillStyle = '#2f6f4f';
		g.fillRect(0, 0, 600, 400);
		g.fillStyle = '#f4c430';
		g.beginPath();
		g.arc(300, 200, 120, 0, Math.PI * 2);
		g.fill();
		return canvas.toDataURL('image/png');
	});
	return Buffer.from(dataUrl.split(',')[1]!, 'base64');
}

test('a picture cropped and uploaded in settings shows as the avatar for the other person, with bio and pronouns on the card', async () => {
	await ann.page.goto('/settings');
	await ann.page.getByTestId('avatar-input').setInputFiles({ name: 'holiday.png', mimeType: 'image/png', buffer: await landscapePicture(ann.page) });
	const crop = ann.page.getByRole('dialog', { name: 'Crop your picture' });
	await expect(crop).toBeVisible();
	await crop.getByRole('group', { name: /Picture position/ }).focus();
	await ann.page.keyboard.press('ArrowRight');
	await ann.page.keyboard.press('+');
	for (const colorScheme of ['light', 'dark'] as const) {
		await ann.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ann.page, 'dialog[open]');
		await crop.screenshot({ path: `test-results/profiles-crop-${colorScheme}.png` });
	}
	await crop.getByRole('button', { name: 'Save picture' }).click();
	await expect(crop).toBeHidden();
	await expect(ann.page.getByRole('button', { name: 'Change picture' })).toBeVisible();

	await ann.page.getByLabel('Pronouns').fill('she/her');
	await ann.page.getByLabel('About me').fill('Gardener. Reads on trains.');
	await ann.page.getByRole('button', { name: 'Save profile' }).click();
	await expect(ann.page.getByText('Profile saved.')).toBeVisible();
	for (const colorScheme of ['light', 'dark'] as const) {
		await ann.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ann.page, '#profile');
		await ann.page.locator('#profile').screenshot({ path: `test-results/profiles-settings-desktop-${colorScheme}.png` });
	}
	// At phone width the settings page is not clipped: nothing scrolls sideways.
	await ann.page.setViewportSize({ width: 390, height: 800 });
	await ann.page.screenshot({ path: 'test-results/profiles-settings-phone-dark.png' });
	expect(await ann.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
	// Every section fits the screen's width (none is clipped by the scrolling column).
	const overflowing = await ann.page.evaluate(() =>
		[...document.querySelectorAll('.section')].filter((section) => section.getBoundingClientRect().right > window.innerWidth).map((section) => section.id)
	);
	expect(overflowing).toEqual([]);
	await ann.page.setViewportSize({ width: 1280, height: 800 });
	await ann.page.emulateMedia({ colorScheme: 'light' });

	// Ben sees the picture: the cropped square, re-encoded (256×256), in the member list.
	await open(ben.page);
	await showMembers(ben.page);
	const annRow = members(ben.page).getByRole('button', { name: /Ann Profile/ });
	const picture = annRow.locator('img.picture');
	await expect(picture).toHaveAttribute('src', new RegExp(`^/api/users/${ann.id}/avatar\\?v=[0-9a-f]{20}$`));
	await expect.poll(() => picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(256);
	expect(await picture.evaluate((img: HTMLImageElement) => img.naturalHeight)).toBe(256);

	await annRow.click();
	const card = ben.page.getByRole('dialog', { name: 'Ann Profile' });
	await expect(card.locator('.username')).toHaveText(`@${ann.username} · she/her`);
	await expect(card.getByRole('region', { name: 'About' })).toContainText('Gardener. Reads on trains.');
	await expect(card.locator('img.picture')).toBeVisible();
	for (const colorScheme of ['light', 'dark'] as const) {
		await ben.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ben.page, '.card-pop');
		await card.screenshot({ path: `test-results/profiles-card-${colorScheme}.png` });
	}
	await ben.page.keyboard.press('Escape');
	await ben.page.emulateMedia({ colorScheme: 'light' });
});

test('a custom status chosen with the emoji picker, then do not disturb and invisible, are what the other person sees', async () => {
	await open(ann.page);
	await open(ben.page);
	await showMembers(ben.page);
	const annRow = members(ben.page).getByRole('button', { name: /Ann Profile/ });

	await ann.page.getByRole('button', { name: /^Your status: Online/ }).click();
	const menu = ann.page.getByRole('menu', { name: 'Your status' });
	for (const colorScheme of ['light', 'dark'] as const) {
		await ann.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ann.page, '.presence-menu');
		await menu.screenshot({ path: `test-results/profiles-presence-menu-${colorScheme}.png` });
	}
	await ann.page.emulateMedia({ colorScheme: 'light' });
	await menu.getByRole('menuitem', { name: 'Set a custom status' }).click();
	const dialog = ann.page.getByRole('dialog', { name: 'Set a custom status' });
	await dialog.getByRole('button', { name: 'Choose a status emoji' }).click();
	const picker = ann.page.getByRole('dialog', { name: 'Emoji picker' });
	await expect(picker.getByRole('searchbox', { name: 'Search emoji' })).toBeFocused();
	await ann.page.keyboard.type('coffee');
	await ann.page.keyboard.press('Enter');
	await expect(picker).toBeHidden();
	await dialog.getByPlaceholder("What's happening?").fill('In a meeting');
	await dialog.getByLabel('Clear after').selectOption('1h');
	await expectNoAxeViolations(ann.page, 'dialog[open]');
	await dialog.screenshot({ path: 'test-results/profiles-status-dialog.png' });
	await dialog.getByRole('button', { name: 'Save status' }).click();
	await expect(dialog).toBeHidden();
	await expect(ann.page.getByTestId('own-status')).toHaveText('☕ In a meeting');

	await expect(annRow).toContainText('☕ In a meeting');
	await expect(annRow.locator('[data-presence]')).toHaveAttribute('data-presence', 'online');
	await members(ben.page).screenshot({ path: 'test-results/profiles-members-status-light.png' });

	// Do not disturb: a red dot for Ben, and no desktop notifications for Ann (attention.svelte.ts).
	await ann.page.getByRole('button', { name: /^Your status: Online/ }).click();
	await menu.getByRole('menuitemradio', { name: /Do not disturb/ }).click();
	await expect(annRow.locator('[data-presence]')).toHaveAttribute('data-presence', 'dnd');
	await annRow.click();
	await expect(ben.page.getByTestId('card-presence')).toHaveText('Do not disturb');
	await expect(ben.page.getByTestId('card-status')).toHaveText('☕In a meeting');
	await ben.page.keyboard.press('Escape');
	await ben.page.emulateMedia({ colorScheme: 'dark' });
	await members(ben.page).screenshot({ path: 'test-results/profiles-members-dnd-dark.png' });
	await ben.page.emulateMedia({ colorScheme: 'light' });

	// The choice survives a reload (a new socket): still do not disturb for Ben, never online between.
	await ann.page.reload();
	await expect(ann.page.locator('[data-connection="open"]')).toBeVisible();
	await expect(ann.page.getByRole('button', { name: /^Your status: Do not disturb/ })).toBeVisible();
	await expect(annRow.locator('[data-presence]')).toHaveAttribute('data-presence', 'dnd');

	// Invisible: offline for Ben, who still gets Ann's messages.
	await ann.page.getByRole('button', { name: /^Your status: Do not disturb/ }).click();
	await menu.getByRole('menuitemradio', { name: /Invisible/ }).click();
	await expect(annRow.locator('[data-presence]')).toHaveAttribute('data-presence', 'offline');
	await expect(annRow).toHaveClass(/offline/);
	await send(ann.page, 'Nobody sees me online');
	await expect(messageWith(ben.page, 'Nobody sees me online')).toBeVisible();
	// Ann sees herself as invisible (a hollow dot), not as disconnected.
	await expect(ann.page.getByRole('button', { name: /^Your status: Invisible/ })).toBeVisible();

	await ann.page.getByRole('button', { name: /^Your status: Invisible/ }).click();
	await menu.getByRole('menuitemradio', { name: /Online/ }).click();
	await expect(annRow.locator('[data-presence]')).toHaveAttribute('data-presence', 'online');
	await ann.page.getByRole('button', { name: /^Your status: Online/ }).click();
	await menu.getByRole('menuitem', { name: 'Clear custom status' }).click();
	await expect(annRow).not.toContainText('In a meeting');
});

test('the emoji picker works by keyboard in the composer: search, arrows, Enter; recent emoji come first; skin tones apply', async () => {
	await open(ann.page);
	await composer(ann.page).fill('Party time ');
	await ann.page.getByRole('button', { name: 'Insert emoji' }).click();
	const picker = ann.page.getByRole('dialog', { name: 'Emoji picker' });
	const search = picker.getByRole('searchbox', { name: 'Search emoji' });
	await expect(search).toBeFocused();
	await ann.page.keyboard.type('tada');
	await ann.page.keyboard.press('ArrowDown');
	await expect(picker.getByRole('button', { name: 'Party popper' })).toBeFocused();
	await ann.page.keyboard.press('Enter');
	await expect(picker).toBeHidden();
	await expect(composer(ann.page)).toBeFocused();
	await expect(composer(ann.page)).toHaveValue('Party time 🎉');

	// Next time the picker opens, the emoji just used leads the "Recently used" row.
	await ann.page.getByRole('button', { name: 'Insert emoji' }).click();
	const recent = picker.locator('section[data-category="recent"] button.emoji');
	await expect(recent.first()).toHaveAttribute('data-emoji', '🎉');
	// Skin tone: chosen once, applied to the emoji that take one.
	await picker.getByRole('button', { name: /^Skin tone/ }).click();
	await picker.getByRole('radio', { name: 'Medium skin tone' }).click();
	await ann.page.keyboard.type('wave');
	await expect(picker.getByRole('button', { name: 'Waving hand' })).toHaveText('👋🏽');
	for (const colorScheme of ['light', 'dark'] as const) {
		await ann.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ann.page, '.emoji-picker');
		await picker.screenshot({ path: `test-results/profiles-picker-desktop-${colorScheme}.png` });
	}
	// Arrow keys move through the grid: right, then down a row.
	await search.fill('');
	await ann.page.keyboard.press('ArrowDown');
	await ann.page.keyboard.press('ArrowRight');
	await ann.page.keyboard.press('ArrowDown');
	const focusedIndex = await picker.evaluate((panel) => [...panel.querySelectorAll('button.emoji')].indexOf(document.activeElement as Element));
	expect(focusedIndex).toBe(9);
	await ann.page.keyboard.press('Escape');
	await expect(picker).toBeHidden();
	await expect(ann.page.getByRole('button', { name: 'Insert emoji' })).toBeFocused();

	// Phone width: the picker fits the screen.
	await ann.page.setViewportSize({ width: 390, height: 800 });
	await ann.page.getByRole('button', { name: 'Insert emoji' }).click();
	await expect(picker).toBeVisible();
	const box = (await picker.boundingBox())!;
	expect(box.x).toBeGreaterThanOrEqual(0);
	expect(box.x + box.width).toBeLessThanOrEqual(390);
	await ann.page.screenshot({ path: 'test-results/profiles-picker-phone-dark.png' });
	await ann.page.emulateMedia({ colorScheme: 'light' });
	await ann.page.screenshot({ path: 'test-results/profiles-picker-phone-light.png' });
	await ann.page.keyboard.press('Escape');
	await ann.page.screenshot({ path: 'test-results/profiles-channel-phone-light.png' });
	await ann.page.setViewportSize({ width: 1280, height: 800 });
	await composer(ann.page).press('Enter');
	await expect(messageWith(ben.page, 'Party time 🎉')).toBeVisible();
});

test('a reaction picked from the full picker reaches the other person, even when Enter comes before the emoji catalogue has loaded', async () => {
	// The catalogue (gemoji) arrives a second late, as on a slow network: "pizza" and Enter are
	// typed before it is there, and Enter must still pick the first match once it is.
	let catalogueDelayed = false;
	await ben.page.route('**/_app/immutable/**/*.js', async (route) => {
		const response = await route.fetch();
		const body = await response.text();
		if (body.includes('grinning face')) {
			catalogueDelayed = true;
			await new Promise((resolve) => setTimeout(resolve, 1000));
		}
		await route.fulfill({ response, body });
	});
	await open(ben.page);
	const message = messageWith(ben.page, 'Party time');
	await message.hover();
	await message.getByRole('button', { name: 'Add reaction' }).click();
	await ben.page.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: 'More emoji' }).click();
	const picker = ben.page.getByRole('dialog', { name: 'Choose a reaction emoji' });
	await expect(picker.getByRole('searchbox', { name: 'Search emoji' })).toBeFocused();
	await ben.page.keyboard.type('pizza');
	await ben.page.keyboard.press('Enter');
	await expect(picker).toBeHidden();
	expect(catalogueDelayed).toBe(true);
	await ben.page.unroute('**/_app/immutable/**/*.js');
	await expect(messageWith(ann.page, 'Party time').getByRole('button', { name: '🍕: 1 reaction' })).toBeVisible();
});

test('a community emoji uploaded in community settings shows as a picture in messages and reactions for the other person', async () => {
	await ann.page.goto(`/manage/${communityId}`);
	const section = ann.page.locator('#emoji');
	await expect(section.getByRole('heading', { name: 'Emoji' })).toBeVisible();
	const picture = Buffer.from((await landscapePicture(ann.page)).toString('base64'), 'base64');
	await section.getByLabel('Picture').setInputFiles({ name: 'Hearth Blob.png', mimeType: 'image/png', buffer: picture });
	// The file's name suggests the emoji's.
	await expect(section.getByLabel('Name')).toHaveValue('hearth_blob');
	await section.getByRole('button', { name: 'Add emoji' }).click();
	await expect(section.getByRole('list', { name: 'Custom emoji' }).getByText(':hearth_blob:')).toBeVisible();
	for (const colorScheme of ['light', 'dark'] as const) {
		await ann.page.emulateMedia({ colorScheme });
		await expectNoAxeViolations(ann.page, '#emoji');
		await section.screenshot({ path: `test-results/profiles-community-emoji-${colorScheme}.png` });
	}
	await ann.page.emulateMedia({ colorScheme: 'light' });

	await open(ann.page);
	await open(ben.page);
	// Typing its :shortcode: offers it first, with its picture; Enter puts ":hearth_blob:" in the text.
	await composer(ann.page).fill('');
	await composer(ann.page).pressSequentially('Meet our mascot :hearth');
	const offered = ann.page.getByRole('listbox', { name: 'Insert an emoji' }).getByRole('option').first();
	await expect(offered).toContainText(':hearth_blob:');
	await expect(offered.locator('img.custom')).toBeVisible();
	await composer(ann.page).press('Enter');
	await expect(composer(ann.page)).toHaveValue('Meet our mascot :hearth_blob:');
	await composer(ann.page).press('Enter');
	const message = messageWith(ben.page, 'Meet our mascot');
	const inline = message.locator('img.custom-emoji');
	await expect(inline).toHaveAttribute('alt', ':hearth_blob:');
	await expect.poll(() => inline.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);

	await message.hover();
	await message.getByRole('button', { name: 'Add reaction' }).click();
	await ben.page.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: 'More emoji' }).click();
	const picker = ben.page.getByRole('dialog', { name: 'Choose a reaction emoji' });
	await expect(picker.locator('section[data-category="custom"] img')).toHaveCount(1);
	await ben.page.keyboard.type('hearth');
	await ben.page.keyboard.press('Enter');
	const chip = messageWith(ann.page, 'Meet our mascot').getByRole('button', { name: ':hearth_blob:: 1 reaction' });
	await expect(chip).toBeVisible();
	await expect(chip.locator('img.custom')).toBeVisible();
});
