// Two people in one voice call, in two Chromium contexts with fake microphones: each receives the
// other's audio through the SFU (inbound RTP bytes grow in getStats(), shown per participant), mute
// stops the stream, a moderator can mute someone else, and leaving empties the call. Skipped, with the reason, without a mediasoup worker.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { ContextApi, uniqueUsername } from './support.ts';

const noCalls = process.env.HEARTH_E2E_NO_CALLS;
test.skip(!!noCalls, `calls unavailable: ${noCalls}`);
// A fake audio device (a beeping tone) instead of a microphone, granted without a prompt.
test.use({ launchOptions: { executablePath: process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required'] } });

async function person(browser: Browser, baseURL: string, name: string, inviteCode?: string) {
	const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
	const api = new ContextApi(context, new URL(baseURL).origin);
	const { user } = await api.signUp(uniqueUsername(name.toLowerCase()), name, inviteCode);
	const page = await context.newPage();
	return { context, api, page, userId: user.id };
}

/** The bytes this page has received from `userId`, as its participant list shows them. */
async function bytesFrom(page: Page, userId: string): Promise<number> {
	const value = await page.getByRole('list', { name: 'In the call' }).locator(`li[data-user-id="${userId}"]`).getAttribute('data-bytes-received');
	return Number(value ?? 0);
}

/** Frames from `userId` this page decrypted (call media is end-to-end encrypted). */
async function framesDecryptedFrom(page: Page, userId: string): Promise<number> {
	const value = await page.getByRole('list', { name: 'In the call' }).locator(`li[data-user-id="${userId}"]`).getAttribute('data-frames-decrypted');
	return Number(value ?? 0);
}

test('two participants receive each other’s audio, and leaving empties the call', async ({ browser, baseURL }) => {
	const ana = await person(browser, baseURL!, 'Ana');
	const community = await ana.api.createCommunity('Band practice');
	const { invite } = await ana.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	const bo = await person(browser, baseURL!, 'Bo', invite.code);
	const { channel } = await ana.api.send<{ channel: { id: string } }>('POST', `/api/communities/${community.id}/channels`, { name: 'rehearsal', kind: 'voice' });

	for (const { page } of [ana, bo]) {
		await page.goto(`/c/${community.id}/${channel.id}`);
		await page.getByRole('button', { name: 'Join call' }).click();
		// On failure this prints the panel's text, with the error the person would read.
		await expect(page.getByRole('region', { name: 'Voice call' })).toContainText('In the call', { timeout: 15_000 });
	}
	for (const [page, other] of [[ana.page, bo], [bo.page, ana]] as const) {
		await expect(page.getByRole('list', { name: 'In the call' }).getByRole('listitem')).toHaveCount(2);
		// Audio arrives, and keeps arriving (not a single burst).
		await expect.poll(() => bytesFrom(page, other.userId), { timeout: 20_000 }).toBeGreaterThan(0);
		const first = await bytesFrom(page, other.userId);
		await expect.poll(() => bytesFrom(page, other.userId), { timeout: 10_000 }).toBeGreaterThan(first);
		// What arrives was encrypted by the other browser and decrypted by this one, frame by frame.
		await expect.poll(() => framesDecryptedFrom(page, other.userId), { timeout: 10_000 }).toBeGreaterThan(10);
	}
	await expect(ana.page.getByRole('region', { name: 'Voice call' }).getByText('End-to-end encrypted')).toBeVisible();
	// Bo's safety number is one click away from the call (the keys of the call go over those sessions).
	await ana.page.getByRole('button', { name: 'Verify safety number of Bo' }).click();
	const dialog = ana.page.getByRole('dialog', { name: 'Safety number with Bo' });
	await expect(dialog.getByTestId('safety-number')).toHaveAttribute('data-digits', /^\d{60}$/);
	await ana.page.keyboard.press('Escape');
	await expect(dialog).toBeHidden();

	await ana.page.getByRole('button', { name: 'Mute', exact: true }).click();
	await expect(ana.page.getByRole('button', { name: 'Unmute', exact: true })).toHaveAttribute('aria-pressed', 'true');
	// Muting stops the stream: once what was in flight has arrived, Bo receives nothing more from Ana.
	await bo.page.waitForTimeout(1500);
	const whenMuted = await bytesFrom(bo.page, ana.userId);
	await bo.page.waitForTimeout(2500);
	expect(await bytesFrom(bo.page, ana.userId)).toBe(whenMuted);

	// Ana owns the community, so she may mute Bo for everyone; Bo is told.
	await ana.page.getByRole('button', { name: 'Mute Bo for everyone' }).click();
	await expect(bo.page.getByText('A moderator muted you.')).toBeVisible();

	await bo.page.getByRole('button', { name: 'Leave call' }).click();
	await expect(bo.page.getByRole('button', { name: 'Join call' })).toBeVisible();
	await expect(ana.page.getByRole('list', { name: 'In the call' }).getByRole('listitem')).toHaveCount(1);
	await ana.page.getByRole('button', { name: 'Leave call' }).click();
	await expect.poll(async () => ((await (await ana.page.request.get('/health')).json()) as { calls: { calls: number; participants: number } }).calls).toEqual(
		expect.objectContaining({ calls: 0, participants: 0 })
	);
	await ana.context.close();
	await bo.context.close();
});

test('a browser with only Chromium’s encoded streams still encrypts and decrypts; one with no encoded transform is told why and does not join', async ({ browser, baseURL }) => {
	const ana = await person(browser, baseURL!, 'Ana');
	const community = await ana.api.createCommunity('Old browsers');
	const { invite } = await ana.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	const bo = await person(browser, baseURL!, 'Bo', invite.code);
	const cy = await person(browser, baseURL!, 'Cy', invite.code);
	const { channel } = await ana.api.send<{ channel: { id: string } }>('POST', `/api/communities/${community.id}/channels`, { name: 'legacy', kind: 'voice' });
	// Bo's page is an older Chromium: no RTCRtpScriptTransform, only createEncodedStreams (and the
	// encodedInsertableStreams RTCConfiguration that goes with it). Cy's has neither.
	await bo.page.addInitScript(() => {
		delete (window as { RTCRtpScriptTransform?: unknown }).RTCRtpScriptTransform;
	});
	await cy.page.addInitScript(() => {
		delete (window as { RTCRtpScriptTransform?: unknown }).RTCRtpScriptTransform;
		delete (RTCRtpSender.prototype as { createEncodedStreams?: unknown }).createEncodedStreams;
		delete (RTCRtpReceiver.prototype as { createEncodedStreams?: unknown }).createEncodedStreams;
	});

	for (const { page } of [ana, bo]) {
		await page.goto(`/c/${community.id}/${channel.id}`);
		await page.getByRole('button', { name: 'Join call' }).click();
		await expect(page.getByRole('region', { name: 'Voice call' })).toContainText('In the call', { timeout: 15_000 });
	}
	expect(await bo.page.evaluate(() => typeof (window as { RTCRtpScriptTransform?: unknown }).RTCRtpScriptTransform)).toBe('undefined');
	for (const [page, other] of [[ana.page, bo], [bo.page, ana]] as const) {
		await expect.poll(() => framesDecryptedFrom(page, other.userId), { timeout: 20_000 }).toBeGreaterThan(10);
		const first = await framesDecryptedFrom(page, other.userId);
		await expect.poll(() => framesDecryptedFrom(page, other.userId), { timeout: 10_000 }).toBeGreaterThan(first);
	}

	await cy.page.goto(`/c/${community.id}/${channel.id}`);
	await cy.page.getByRole('button', { name: 'Join call' }).click();
	await expect(cy.page.getByRole('region', { name: 'Voice call' }).getByRole('alert')).toHaveText(
		'Calls here are end-to-end encrypted, and this browser cannot encrypt call audio and video (it lacks WebRTC encoded transforms). Join with a current Firefox, Chrome, Edge or Safari.'
	);
	await expect(cy.page.getByRole('button', { name: 'Join call' })).toBeVisible();
	// The server never saw Cy join.
	await expect(ana.page.getByRole('list', { name: 'In the call' }).getByRole('listitem')).toHaveCount(2);
	await ana.page.waitForTimeout(1_000);
	await expect(ana.page.getByRole('list', { name: 'In the call' }).getByRole('listitem')).toHaveCount(2);

	for (const { context } of [ana, bo, cy]) await context.close();
});
