// Two people in two browsers: one creates a community and invites the other, then everything a
// conversation needs happens live on both sides. The steps build on each other (one account pair,
// one community), so they run in order.
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { ContextApi, composer, fillSignUp, log, messageExactly, messageWith, send, uniqueUsername } from './support.ts';

test.describe.configure({ mode: 'serial' });

let contextA: BrowserContext;
let contextB: BrowserContext;
let a: Page;
let b: Page;
const ana = { username: uniqueUsername('ana'), displayName: 'Ana Lima' };
const bo = { username: uniqueUsername('bo'), displayName: 'Bo Chen' };
let generalUrl = '';

async function open(browser: Browser) {
	const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const page = await context.newPage();
	page.on('dialog', (dialog) => void dialog.dismiss()); // an alert() would mean injected script ran
	return { context, page };
}

test.beforeAll(async ({ browser }) => {
	({ context: contextA, page: a } = await open(browser));
	({ context: contextB, page: b } = await open(browser));
});

test.afterAll(async () => {
	await contextA?.close();
	await contextB?.close();
});

test.describe('Two members of a community', () => {
	test('a new member signs up through an invite link and lands in the community', async () => {
		await a.goto('/sign-up');
		await fillSignUp(a, ana.username, ana.displayName);
		await a.getByRole('button', { name: 'Create account' }).click();
		await a.getByRole('button', { name: 'Create a community' }).first().click();
		await a.getByLabel('Community name').fill('Book Club');
		await a.getByRole('button', { name: 'Create community' }).click();
		await expect(a.getByRole('heading', { name: 'general', level: 1 })).toBeVisible();
		generalUrl = a.url();

		await a.getByRole('button', { name: 'Invite people' }).first().click();
		const link = a.getByRole('textbox', { name: 'Invite link' });
		await expect(link).toHaveValue(/\/invite\/[A-Za-z0-9]+$/);
		const inviteUrl = await link.inputValue();
		await a.getByRole('button', { name: 'Close' }).click();

		await b.goto(inviteUrl);
		await expect(b.getByRole('heading', { name: 'Book Club' })).toBeVisible();
		await expect(b.getByText("You've been invited to join")).toBeVisible();
		await b.getByRole('button', { name: 'Create an account and join' }).click();
		await fillSignUp(b, bo.username, bo.displayName);
		await b.getByRole('button', { name: 'Create account and join' }).click();

		await expect(b).toHaveURL(generalUrl);
		await expect(b.getByRole('heading', { name: 'general', level: 1 })).toBeVisible();
		await expect(b.getByRole('navigation', { name: 'Communities' }).getByRole('link', { name: 'Book Club' })).toHaveAttribute('aria-current', 'page');
	});

	test('the owner sees the newcomer join in #general, live and after a reload', async () => {
		const notice = (page: Page) => log(page).locator('[data-notice-seq]').filter({ hasText: `${bo.displayName} joined the community` });
		await expect(notice(a)).toHaveCount(1);
		await a.reload();
		await expect(notice(a)).toHaveCount(1);
		await expect(notice(b)).toHaveCount(1);
	});

	test('messages appear on the other side in real time, both ways', async () => {
		await send(a, 'Welcome to the club!');
		await expect(messageWith(b, 'Welcome to the club!')).toBeVisible();
		await expect(messageWith(b, 'Welcome to the club!')).toContainText('Ana Lima');

		await send(b, 'Thanks, happy to be here');
		await expect(messageWith(a, 'Thanks, happy to be here')).toBeVisible();
		await expect(messageWith(a, 'Thanks, happy to be here')).toContainText('Bo Chen');
	});

	test('a reaction and an edit appear on the other side', async () => {
		const onB = messageWith(b, 'Welcome to the club!');
		await onB.hover();
		await onB.getByRole('button', { name: 'Add reaction' }).click();
		await b.getByRole('dialog', { name: 'Choose a reaction' }).getByRole('button', { name: 'Thumbs up' }).click();
		await expect(messageWith(a, 'Welcome to the club!').getByRole('button', { name: 'Thumbs up: 1 reaction' })).toBeVisible();

		const onA = messageWith(a, 'Welcome to the club!');
		await onA.hover();
		await onA.getByRole('button', { name: 'Edit message' }).click();
		const editor = a.getByRole('textbox', { name: 'Edit message' });
		await editor.fill('Welcome to the Book Club!');
		await editor.press('Enter');
		await expect(editor).toBeHidden();

		await expect(messageWith(b, 'Welcome to the Book Club!')).toContainText('(edited)');
		await expect(messageWith(b, 'Welcome to the Book Club!').getByRole('button', { name: 'Thumbs up: 1 reaction, including yours' })).toBeVisible();
	});

	test('a reply shows the message it quotes, on both sides', async () => {
		const original = messageWith(b, 'Welcome to the Book Club!');
		await original.hover();
		await original.getByRole('button', { name: 'Reply', exact: true }).click();
		await expect(b.getByText('Replying to Ana Lima')).toBeVisible();
		await send(b, 'What are we reading first?');

		for (const page of [a, b]) {
			const reply = messageWith(page, 'What are we reading first?');
			await expect(reply.getByRole('button', { name: /Replying to.*Ana Lima.*Welcome to the Book Club!/ })).toBeVisible();
		}
	});

	test('a deleted message disappears on the other side', async () => {
		await send(a, 'Oops, wrong channel');
		await expect(messageWith(b, 'Oops, wrong channel')).toBeVisible();
		const mine = messageWith(a, 'Oops, wrong channel');
		await mine.hover();
		await mine.getByRole('button', { name: 'Delete message' }).click();
		await a.getByRole('dialog', { name: 'Delete message?' }).getByRole('button', { name: 'Delete' }).click();
		await expect(messageWith(a, 'Oops, wrong channel')).toHaveCount(0);
		await expect(messageWith(b, 'Oops, wrong channel')).toHaveCount(0);
		// Bo cannot delete Ana's messages: the action is not offered.
		const anas = messageWith(b, 'Welcome to the Book Club!').first();
		await anas.hover();
		await expect(anas.getByRole('button', { name: 'Reply', exact: true })).toBeVisible();
		await expect(anas.getByRole('button', { name: 'Delete message' })).toHaveCount(0);
	});

	test('the other member sees who is typing', async () => {
		await composer(a).pressSequentially('Let me think', { delay: 20 });
		await expect(b.getByText('Ana Lima is typing…')).toBeVisible();
		await composer(a).fill('');
	});

	test("the other member's presence shows in the member list", async () => {
		const members = a.getByRole('complementary', { name: 'Members' });
		await expect(members.getByRole('button', { name: /Bo Chen.*online/ })).toBeVisible();
		await expect(members.getByRole('button', { name: /Bo Chen/ }).locator('[data-presence="online"]')).toBeVisible();
	});

	test('a channel with new messages shows an unread badge until it is opened', async () => {
		await a.getByRole('button', { name: 'Create channel' }).click();
		await a.getByLabel('Channel name').fill('Off Topic');
		await expect(a.getByText('Will be saved as #off-topic')).toBeVisible();
		await a.getByRole('button', { name: 'Create channel' }).last().click();
		await expect(a.getByRole('heading', { name: 'off-topic', level: 1 })).toBeVisible();
		await a.goto(generalUrl);

		const offTopicOnB = b.getByRole('link', { name: /off-topic/ });
		await expect(offTopicOnB).toBeVisible(); // appeared live (directory.changed)
		await offTopicOnB.click();
		await send(b, 'Anyone watching the match tonight?');

		const offTopicOnA = a.getByRole('link', { name: /off-topic/ });
		await expect(offTopicOnA.locator('.badge')).toHaveText('1 unread');
		await expect(a.getByRole('link', { name: /Book Club, 1 unread/ })).toBeVisible();

		await offTopicOnA.click();
		await expect(messageWith(a, 'Anyone watching the match tonight?')).toBeVisible();
		await expect(log(a).getByRole('separator', { name: 'New messages' })).toBeVisible();
		await expect(offTopicOnA.locator('.badge')).toHaveCount(0);
		await expect(a.getByRole('navigation', { name: 'Communities' }).getByRole('link', { name: 'Book Club' })).toBeVisible();

		// The read marker is stored: after a reload the channel is still read.
		await a.reload();
		await expect(a.getByRole('link', { name: /off-topic/ })).toBeVisible();
		await expect(a.getByRole('link', { name: /off-topic/ }).locator('.badge')).toHaveCount(0);
		await a.goto(generalUrl);
		await b.goto(generalUrl);
	});

	test('markdown renders bold, code and links, and HTML comes out as text', async () => {
		await send(a, '**Bold move** with `npm test`, see https://example.com/docs and <img src=x onerror=window.__pwned=1> [click](javascript:window.__pwned=2)');
		const message = messageWith(b, 'Bold move');
		await expect(message.locator('strong')).toHaveText('Bold move');
		await expect(message.locator('code')).toHaveText('npm test');
		const link = message.getByRole('link', { name: 'https://example.com/docs' });
		await expect(link).toHaveAttribute('href', 'https://example.com/docs');
		await expect(link).toHaveAttribute('target', '_blank');
		await expect(link).toHaveAttribute('rel', 'noopener noreferrer nofollow');
		await expect(message).toContainText('<img src=x onerror=window.__pwned=1>');
		await expect(message.locator('img')).toHaveCount(0);
		await expect(message.getByRole('link', { name: 'click' })).toHaveCount(0);
		expect(await b.evaluate(() => (window as { __pwned?: unknown }).__pwned)).toBeUndefined();
	});

	test('a direct message can be started from the member list', async () => {
		await a.getByRole('complementary', { name: 'Members' }).getByRole('button', { name: /Bo Chen/ }).click();
		const card = a.getByRole('dialog', { name: 'Bo Chen' });
		await expect(card).toContainText('@' + bo.username);
		await card.getByRole('button', { name: 'Send message' }).click();
		await expect(a).toHaveURL(/\/dm\//);
		await expect(a.getByRole('heading', { name: 'Bo Chen', level: 1 })).toBeVisible();
		await send(a, 'Psst, a private hello');

		const home = b.getByRole('link', { name: /Home and direct messages, 1 unread/ });
		await expect(home).toBeVisible();
		await home.click();
		await b.getByRole('complementary').or(b.locator('aside')).getByRole('link', { name: /Ana Lima/ }).first().click();
		await expect(messageWith(b, 'Psst, a private hello')).toBeVisible();
		await expect(b.getByRole('link', { name: /Home and direct messages, 1 unread/ })).toHaveCount(0);

		await send(b, 'Hello back, privately');
		await expect(messageWith(a, 'Hello back, privately')).toBeVisible();
		await a.goto(generalUrl);
		await b.goto(generalUrl);
	});

	test('a message sent while offline waits, then is delivered exactly once', async () => {
		await expect(composer(b)).toBeVisible();
		await expect(b.locator('[data-connection="open"]')).toBeVisible();
		await contextB.setOffline(true);
		await expect(b.getByRole('status').filter({ hasText: 'Reconnecting…' })).toBeVisible();

		await send(b, 'Written on the train without signal');
		const pending = log(b).locator('article[data-pending="sending"]', { hasText: 'Written on the train' });
		await expect(pending).toBeVisible();
		await expect(pending.getByRole('img', { name: 'Sending…' })).toBeVisible();
		await a.waitForTimeout(1000);
		await expect(messageWith(a, 'Written on the train')).toHaveCount(0);

		await contextB.setOffline(false);
		await expect(b.getByRole('status').filter({ hasText: 'Connected' })).toBeVisible();
		await expect(messageWith(a, 'Written on the train without signal')).toHaveCount(1);
		await expect(messageWith(b, 'Written on the train without signal')).toHaveCount(1);
		await expect(pending).toHaveCount(0);

		// Nothing was stored twice either.
		await a.reload();
		await expect(messageWith(a, 'Written on the train without signal')).toHaveCount(1);
	});

	test('a message the server refuses says why and can be discarded', async () => {
		// A queued message from an earlier visit whose reply target is not in this channel: the
		// server refuses it for good (not a network problem), so it must not be retried silently.
		const { user } = await contextB.request.get('/api/me').then((r) => r.json() as Promise<{ user: { id: string } }>);
		const channelId = new URL(generalUrl).pathname.split('/')[3]!;
		await b.evaluate(
			({ key, item }) => localStorage.setItem(key, JSON.stringify([item])),
			{
				key: `hearth:outbox:${user.id}`,
				item: {
					clientId: 'refused-reply-0001',
					channelId,
					payload: JSON.stringify({ v: 1, text: 'This reply has nowhere to go' }),
					replyToId: '00000000-0000-4000-8000-000000000000',
					createdAt: new Date().toISOString()
				}
			}
		);
		await b.reload();

		const failed = log(b).locator('article[data-pending="failed"]', { hasText: 'This reply has nowhere to go' });
		await expect(failed.getByRole('alert')).toContainText('Not sent: The message you reply to is not in this channel.');
		await expect(failed.getByRole('button', { name: 'Retry' })).toBeVisible();
		await failed.getByRole('button', { name: 'Discard' }).click();
		await expect(failed).toHaveCount(0);
		expect(await b.evaluate((key) => localStorage.getItem(key), `hearth:outbox:${user.id}`)).toBeNull();
		await expect(messageWith(a, 'This reply has nowhere to go')).toHaveCount(0);
	});

	test('scrolling up loads older history and keeps the view in place', async ({ baseURL }) => {
		const api = new ContextApi(contextA, baseURL!);
		const communityId = new URL(generalUrl).pathname.split('/')[2]!;
		const channel = await api.createChannel(communityId, 'archive');
		for (let i = 1; i <= 70; i++) await api.sendMessage(channel.id, `History ${i}`);

		// Hold the older page back until the position before it arrives has been measured.
		let release!: () => void;
		const held = new Promise<void>((resolve) => (release = resolve));
		await b.route('**/api/channels/*/messages?before=*', async (route) => {
			await held;
			await route.continue();
		});

		await b.goto(`/c/${communityId}/${channel.id}`);
		await expect(messageExactly(b, 'History 70')).toBeVisible();
		await expect(messageExactly(b, 'History 21')).toHaveCount(1);
		await expect(messageExactly(b, 'History 20')).toHaveCount(0);

		await log(b).evaluate((element) => (element.scrollTop = 0));
		await expect(messageExactly(b, 'History 21')).toBeInViewport();
		const before = (await messageExactly(b, 'History 21').boundingBox())!.y;
		release();

		await expect(messageExactly(b, 'History 1')).toHaveCount(1);
		const after = (await messageExactly(b, 'History 21').boundingBox())!.y;
		expect(Math.abs(after - before)).toBeLessThan(3);
		await expect(b.getByText('Welcome to #archive!')).toBeAttached();
		await b.unroute('**/api/channels/*/messages?before=*');
	});
});
