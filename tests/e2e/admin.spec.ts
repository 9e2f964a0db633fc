// Administration in the browser: the server's owner changes who may sign up and a new visitor sees
// it at once; a moderator bans a member, who drops out of the community live and cannot rejoin; the
// audit logs show both. UI_SHOTS_DIR=/some/folder also saves a screenshot of each admin page.
import { crc32, deflateSync } from 'node:zlib';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { ContextApi, OWNER, log, messageWith, send, signInThroughUi, uniqueUsername } from './support.ts';

const shotsDir = process.env.UI_SHOTS_DIR;
async function shot(page: Page, name: string) {
	if (!shotsDir) return;
	// The page scrolls inside its content column: a tall viewport shows all of it.
	const size = page.viewportSize()!;
	await page.setViewportSize({ width: size.width, height: 2200 });
	await page.screenshot({ path: `${shotsDir}/${name}.png` });
	await page.setViewportSize(size);
}

/** A solid-colour square PNG, built here so the test needs no image file. */
function squarePng(size: number, rgb: [number, number, number]): Buffer {
	const chunk = (type: string, data: Buffer) => {
		const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
		const length = Buffer.alloc(4);
		length.writeUInt32BE(data.length);
		const crc = Buffer.alloc(4);
		crc.writeUInt32BE(crc32(body));
		return Buffer.concat([length, body, crc]);
	};
	const header = Buffer.alloc(13);
	header.writeUInt32BE(size, 0);
	header.writeUInt32BE(size, 4);
	header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
	const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: size }, () => rgb).flat())]);
	const pixels = deflateSync(Buffer.concat(Array.from({ length: size }, () => row)));
	return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', pixels), chunk('IEND', Buffer.alloc(0))]);
}

async function open(browser: Browser) {
	const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
	const page = await context.newPage();
	return { context, page, api: new ContextApi(context, test.info().project.use.baseURL!) };
}

test.describe('Server administration', () => {
	test.afterAll(async ({ browser }) => {
		// Other test files sign up through the UI: whatever happened here, registration ends open.
		const { context, api } = await open(browser);
		await api.signIn(OWNER.username);
		await api.send('PATCH', '/api/admin/settings', { registrationMode: 'open', rateLimitLevel: 'normal' });
		await api.send('DELETE', '/api/admin/icon');
		await context.close();
	});

	test('the owner closes registration and a new visitor is told at once; the audit log records it', async ({ browser }) => {
		const owner = await open(browser);
		await signInThroughUi(owner.page, OWNER.username);
		await owner.page.goto('/settings');
		await owner.page.getByRole('navigation', { name: 'Settings sections' }).getByRole('link', { name: 'Server administration' }).click();
		await expect(owner.page.getByRole('heading', { name: 'Server administration', level: 1 })).toBeVisible();

		await owner.page.getByRole('radio', { name: /^Closed/ }).check();
		await expect(owner.page.getByText('Registration is now closed.')).toBeVisible();

		const visitor = await open(browser);
		await visitor.page.goto('/sign-up');
		await expect(visitor.page.getByRole('alert')).toContainText('Registration is closed on this server.');
		await visitor.page.goto('/sign-in');
		await expect(visitor.page.getByRole('link', { name: /create an account|sign up/i })).toHaveCount(0);

		const audit = owner.page.getByRole('list', { name: 'Audit log entries' });
		await expect(audit.locator('li[data-action="instance.settings_changed"]').first()).toContainText(`${OWNER.displayName} changed server settings`);
		await expect(audit.locator('li[data-action="instance.settings_changed"]').first()).toContainText('Registration: open → closed');
		await shot(owner.page, 'admin-server');

		await owner.page.getByRole('radio', { name: /^Open/ }).check();
		await expect(owner.page.getByText('Registration is now open.')).toBeVisible();
		await visitor.page.goto('/sign-up');
		await expect(visitor.page.getByRole('button', { name: 'Create account' })).toBeVisible();
		await owner.context.close();
		await visitor.context.close();
	});
});

test.describe('Server administration: icon, rate limits, invites', () => {
	test.afterAll(async ({ browser }) => {
		const { context, api } = await open(browser);
		await api.signIn(OWNER.username);
		await api.send('PATCH', '/api/admin/settings', { rateLimitLevel: 'normal' });
		await api.send('DELETE', '/api/admin/icon');
		await context.close();
	});

	test('the owner sets a server icon that the rail and the sign-in page show, picks a rate-limit level, and sees who used an invite', async ({ browser }) => {
		const owner = await open(browser);
		await owner.api.signIn(OWNER.username);
		const { invite } = await owner.api.send<{ invite: { code: string } }>('POST', '/api/admin/invites', { maxUses: 5 });
		const guest = await open(browser);
		await guest.api.signUp(uniqueUsername('inv'), 'Ines Invited', invite.code);

		await owner.page.goto('/admin');
		await owner.page.locator('#admin-server-icon').setInputFiles({ name: 'icon.png', mimeType: 'image/png', buffer: squarePng(64, [46, 139, 87]) });
		await expect(owner.page.getByText('Server icon saved.')).toBeVisible();
		await expect(owner.page.getByRole('img', { name: 'Current server icon' })).toHaveAttribute('src', /^\/api\/instance\/icon\?v=/);

		await owner.page.getByLabel('Rate limits').selectOption('strict');
		await expect(owner.page.getByText('Rate-limit level saved.')).toBeVisible();
		const audit = owner.page.getByRole('list', { name: 'Audit log entries' });
		await expect(audit.locator('li[data-action="instance.settings_changed"]').first()).toContainText('Rate limits: normal → strict');
		await expect(audit.locator('li[data-action="instance.icon_changed"]').first()).toBeVisible();

		const used = owner.page.locator(`li[data-code="${invite.code}"]`);
		await expect(used).toContainText('1/5 used');
		await expect(used.getByRole('list', { name: 'Used by' })).toContainText('Ines Invited');
		await owner.page.locator('#general').scrollIntoViewIfNeeded();
		await shot(owner.page, 'admin-server-icon-invites');

		// The icon replaces the flame in the rail, and a signed-out visitor sees it on the sign-in page.
		await owner.page.goto('/');
		await expect(owner.page.getByRole('navigation', { name: 'Communities' }).locator('img.brand')).toHaveAttribute('src', /^\/api\/instance\/icon\?v=/);
		const visitor = await open(browser);
		await visitor.page.goto('/sign-in');
		const icon = visitor.page.locator('.brand img');
		await expect(icon).toHaveAttribute('src', /^\/api\/instance\/icon\?v=/);
		expect(await icon.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(64);

		await owner.context.close();
		await guest.context.close();
		await visitor.context.close();
	});
});

test.describe('Server administration: upload size', () => {
	test('the owner lowers the largest encrypted attachment below ATTACHMENT_MAX_BYTES; a value above it is refused; the audit log records it', async ({ browser }) => {
		const owner = await open(browser);
		await owner.api.signIn(OWNER.username);
		await owner.page.goto('/admin');
		const field = owner.page.getByLabel('Upload size limit (bytes)');
		await expect(field).toHaveAttribute('placeholder', String(25 * 1024 * 1024));
		await field.fill(String(25 * 1024 * 1024 + 1));
		await owner.page.getByRole('button', { name: 'Save upload limit' }).click();
		await expect(owner.page.getByText(`The upload size limit can be at most ${25 * 1024 * 1024} bytes (ATTACHMENT_MAX_BYTES on the server).`)).toBeVisible();
		await field.fill('1048576');
		await owner.page.getByRole('button', { name: 'Save upload limit' }).click();
		await expect(owner.page.getByText('Settings saved.')).toBeVisible();
		const audit = owner.page.getByRole('list', { name: 'Audit log entries' });
		await expect(audit.locator('li[data-action="instance.settings_changed"]').first()).toContainText('Upload size limit');
		await owner.page.reload();
		await expect(owner.page.getByLabel('Upload size limit (bytes)')).toHaveValue('1048576');
		await owner.api.send('PATCH', '/api/admin/settings', { uploadMaxBytes: null });
		await owner.context.close();
	});
});

test.describe('Server administration: call servers', () => {
	test.afterAll(async ({ browser }) => {
		const { context, api } = await open(browser);
		await api.signIn(OWNER.username);
		await api.send('PATCH', '/api/admin/settings', { stunUrls: [], turnUrls: [] });
		await context.close();
	});

	test('the owner sets a STUN server; TURN is refused while the server has no TURN_SECRET; the audit log records it', async ({ browser }) => {
		const owner = await open(browser);
		await owner.api.signIn(OWNER.username);
		await owner.page.goto('/admin');
		const calls = owner.page.locator('#calls');
		await expect(calls.getByRole('heading', { name: 'Calls' })).toBeVisible();
		// The e2e server runs without TURN_SECRET: the page says what is missing before anyone tries.
		await expect(calls.getByText("TURN needs TURN_SECRET in the server's environment first")).toBeVisible();

		await calls.getByLabel('TURN servers').fill('turn:turn.example.test:3478?transport=udp');
		await calls.getByRole('button', { name: 'Save call servers' }).click();
		await expect(owner.page.getByText("set TURN_SECRET in the server's environment first.")).toBeVisible();

		await calls.getByLabel('TURN servers').fill('');
		await calls.getByLabel('STUN servers').fill('stun:stun1.example.test:3478\n\nstun:[2001:db8::1]:3478\n');
		await calls.getByRole('button', { name: 'Save call servers' }).click();
		await expect(owner.page.getByText('Call servers saved.')).toBeVisible();
		await expect(calls.getByLabel('STUN servers')).toHaveValue('stun:stun1.example.test:3478\nstun:[2001:db8::1]:3478');
		const audit = owner.page.getByRole('list', { name: 'Audit log entries' });
		await expect(audit.locator('li[data-action="instance.settings_changed"]').first()).toContainText(
			'STUN servers: default → stun:stun1.example.test:3478, stun:[2001:db8::1]:3478'
		);

		await calls.getByLabel('STUN servers').fill('stun:stun1.example.test:3478?transport=udp');
		await calls.getByRole('button', { name: 'Save call servers' }).click();
		await expect(owner.page.getByText('Each STUN server must look like stun:host:3478 or stuns:host:5349.')).toBeVisible();
		await owner.page.locator('#calls').scrollIntoViewIfNeeded();
		await shot(owner.page, 'admin-server-calls');
		await owner.context.close();
	});
});

test.describe('Guest access', () => {
	test.afterAll(async ({ browser }) => {
		const { context, api } = await open(browser);
		await api.signIn(OWNER.username);
		await api.send('PATCH', '/api/admin/settings', { guestAccess: false });
		await context.close();
	});

	test('with guest access on, a visitor joins from an invite with a display name only and is marked as a guest', async ({ browser }) => {
		const owner = await open(browser);
		await signInThroughUi(owner.page, OWNER.username);
		const community = await owner.api.createCommunity('Open Studio');
		const { invite } = await owner.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});

		const visitor = await open(browser);
		await visitor.page.goto(`/invite/${invite.code}`);
		await expect(visitor.page.getByRole('button', { name: 'Create an account and join' })).toBeVisible();
		await expect(visitor.page.getByRole('button', { name: 'Join as guest' })).toHaveCount(0);

		await owner.page.goto('/admin');
		await owner.page.getByRole('checkbox', { name: /Guest access/ }).check();
		await expect(owner.page.getByText('Guest access is on.')).toBeVisible();

		await visitor.page.reload();
		await visitor.page.getByRole('button', { name: 'Join as guest' }).click();
		await visitor.page.getByLabel('Display name').fill('Gina Guest');
		await visitor.page.getByRole('button', { name: 'Join as guest' }).click();
		await expect(visitor.page).toHaveURL(new RegExp(`/c/${community.id}`));
		await expect(visitor.page.getByRole('button', { name: 'Create a community' })).toHaveCount(0);

		await owner.page.goto(`/c/${community.id}/${community.systemChannelId}`);
		const toggle = owner.page.getByRole('button', { name: 'Members' });
		await expect(toggle).toBeVisible();
		if ((await toggle.getAttribute('aria-pressed')) !== 'true') await toggle.click();
		const members = owner.page.getByRole('complementary', { name: 'Members' });
		await expect(members.getByRole('button', { name: /Gina Guest/ })).toContainText('Guest');
		await owner.context.close();
		await visitor.context.close();
	});
});

test.describe('Community moderation', () => {
	test('a moderator bans a member, who drops out of the community at once and cannot rejoin; the audit log shows it', async ({ browser }) => {
		const owner = await open(browser);
		const moderator = await open(browser);
		const member = await open(browser);
		await owner.api.signIn(OWNER.username);
		const mod = { username: uniqueUsername('mod'), displayName: 'Maya Moderator' };
		const mem = { username: uniqueUsername('mem'), displayName: 'Milo Member' };
		const { user: modUser } = await moderator.api.signUp(mod.username, mod.displayName);
		await member.api.signUp(mem.username, mem.displayName);
		const community = await owner.api.createCommunity('Garden Club');
		const { invite } = await owner.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
		await moderator.api.send('POST', `/api/invites/${invite.code}/accept`);
		await member.api.send('POST', `/api/invites/${invite.code}/accept`);
		await owner.api.send('PATCH', `/api/communities/${community.id}/members/${modUser.id}`, { role: 'moderator' });
		await member.api.sendMessage(community.systemChannelId, 'buy cheap watches');

		// The member is in the community's channel, live.
		await member.page.goto(`/c/${community.id}/${community.systemChannelId}`);
		await expect(member.page.locator('[data-connection="open"]')).toBeVisible();
		const rail = member.page.getByRole('navigation', { name: 'Communities' });
		await expect(rail.getByRole('link', { name: 'Garden Club' })).toBeVisible();
		await owner.page.goto(`/c/${community.id}/${community.systemChannelId}`);
		await expect(owner.page.locator('[data-connection="open"]')).toBeVisible();

		// The moderator reaches the community settings from the community menu and bans the member.
		await moderator.page.goto(`/c/${community.id}/${community.systemChannelId}`);
		await moderator.page.getByRole('button', { name: 'Community options' }).click();
		await moderator.page.getByRole('menuitem', { name: 'Community settings' }).click();
		await expect(moderator.page.getByRole('heading', { name: 'Community settings', level: 1 })).toBeVisible();
		const row = moderator.page.getByRole('list', { name: 'Members' }).locator(`li[data-member="${mem.username}"]`);
		await shot(moderator.page, 'community-settings-moderator');
		await row.getByRole('button', { name: 'Ban' }).click();
		const dialog = moderator.page.getByRole('dialog', { name: `Ban ${mem.displayName}?` });
		await dialog.getByLabel('Reason').fill('spam');
		await shot(moderator.page, 'community-ban-dialog');
		await dialog.getByRole('button', { name: 'Ban' }).click();
		await expect(moderator.page.getByText(`${mem.displayName} was banned.`)).toBeVisible();
		await expect(row).toHaveCount(0);
		await expect(moderator.page.getByRole('list', { name: 'Bans' })).toContainText(mem.displayName);

		// The member's open page drops the community without a reload, and gets nothing said after.
		await expect(rail.getByRole('link', { name: 'Garden Club' })).toHaveCount(0);
		await send(owner.page, 'after the ban');
		await expect(messageWith(owner.page, 'after the ban')).toBeVisible();
		await expect(log(member.page).getByText('after the ban')).toHaveCount(0);

		// A fresh invite does not let them back in.
		const { invite: fresh } = await owner.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
		await member.page.goto(`/invite/${fresh.code}`);
		await member.page.getByRole('button', { name: 'Join Garden Club' }).click();
		await expect(member.page.getByRole('alert')).toContainText('You are banned from this community.');

		// The audit log names who banned whom and why.
		const entry = moderator.page.getByRole('list', { name: 'Audit log entries' }).locator('li[data-action="member.banned"]');
		await expect(entry).toContainText(`${mod.displayName} banned a user ${mem.displayName}`);
		await expect(entry).toContainText('Reason: spam');
		await shot(moderator.page, 'community-settings-after-ban');

		// The owner sees the same entry, and the role change before it.
		await owner.page.goto(`/manage/${community.id}`);
		const ownerAudit = owner.page.getByRole('list', { name: 'Audit log entries' });
		await expect(ownerAudit.locator('li[data-action="member.banned"]')).toContainText(mem.displayName);
		await expect(ownerAudit.locator('li[data-action="member.role_changed"]')).toContainText(mod.displayName);
		await shot(owner.page, 'community-settings-owner');

		await owner.context.close();
		await moderator.context.close();
		await member.context.close();
	});

	test("a member reports a message; moderators see it labelled as the reporter's copy and delete it", async ({ browser }) => {
		const owner = await open(browser);
		const member = await open(browser);
		const troll = await open(browser);
		await owner.api.signIn(OWNER.username);
		await member.api.signUp(uniqueUsername('rep'), 'Rita Reporter');
		await troll.api.signUp(uniqueUsername('trl'), 'Tom Troll');
		const community = await owner.api.createCommunity('Chess Club');
		const { invite } = await owner.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
		await member.api.send('POST', `/api/invites/${invite.code}/accept`);
		await troll.api.send('POST', `/api/invites/${invite.code}/accept`);
		await troll.api.sendMessage(community.systemChannelId, 'you all play badly');

		await member.page.goto(`/c/${community.id}/${community.systemChannelId}`);
		const message = messageWith(member.page, 'you all play badly');
		await message.hover();
		await message.getByRole('button', { name: 'Report message' }).click();
		const dialog = member.page.getByRole('dialog', { name: 'Report message?' });
		await dialog.getByLabel('What is wrong with it?').fill('insulting');
		await shot(member.page, 'report-dialog');
		await dialog.getByRole('button', { name: 'Report' }).click();
		await expect(member.page.getByText('Thanks. The moderators will look at it.')).toBeVisible();

		await owner.page.goto(`/manage/${community.id}`);
		const reports = owner.page.getByRole('list', { name: 'Open reports' });
		await expect(reports).toContainText('As forwarded by the reporter');
		await expect(reports).toContainText('you all play badly');
		await expect(reports).toContainText('Reason: insulting');
		await shot(owner.page, 'community-reports');
		await reports.getByRole('button', { name: 'Delete message' }).click();
		await expect(owner.page.getByText('No open reports.')).toBeVisible();
		await expect(messageWith(member.page, 'you all play badly')).toHaveCount(0);

		await owner.context.close();
		await member.context.close();
		await troll.context.close();
	});

	test('the owner makes a channel read-only for members; a member sees why they cannot post', async ({ browser }) => {
		const owner = await open(browser);
		const member = await open(browser);
		await owner.api.signIn(OWNER.username);
		await member.api.signUp(uniqueUsername('rdr'), 'Rae Reader');
		const community = await owner.api.createCommunity('Town Hall');
		const channel = await owner.api.createChannel(community.id, 'announcements');
		const { invite } = await owner.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
		await member.api.send('POST', `/api/invites/${invite.code}/accept`);

		await owner.page.goto(`/manage/${community.id}`);
		await owner.page.getByLabel('Who can post in #announcements').selectOption({ label: 'Moderators and up' });
		await expect(owner.page.getByText('#announcements saved.')).toBeVisible();
		await shot(owner.page, 'community-channels');

		await member.page.goto(`/c/${community.id}/${channel.id}`);
		await expect(member.page.getByRole('note')).toContainText('Only some roles can post in this channel.');
		await expect(member.page.getByRole('textbox', { name: /^Message / })).toHaveCount(0);
		await shot(member.page, 'read-only-channel');
		await member.page.goto(`/c/${community.id}/${community.systemChannelId}`);
		await expect(member.page.getByRole('textbox', { name: 'Message #general' })).toBeVisible();

		await owner.context.close();
		await member.context.close();
	});
});
