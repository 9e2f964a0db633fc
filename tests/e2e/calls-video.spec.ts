// Three people in one call with Chromium's fake camera and microphone: each receives the others'
// audio AND video through the SFU (inbound RTP bytes of each kind grow, per sender), speaking shows
// as a ring, a screen share by one appears for the other two (focused by default), and leaving —
// with the button and by closing the page — frees every transport, producer and consumer in the
// mediasoup worker, as the worker itself reports them on /metrics. Skipped, with the reason,
// without a mediasoup worker.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { E2E_METRICS_TOKEN } from './metrics-token.ts';
import { ContextApi, uniqueUsername } from './support.ts';

const noCalls = process.env.HEARTH_E2E_NO_CALLS;
test.skip(!!noCalls, `calls unavailable: ${noCalls}`);

/**
 * Ten seconds of voice-like sound (a 220 Hz voice with harmonics, loudness swinging at 4 Hz like
 * syllables), looped by Chromium as the fake microphone: its default beep is mostly silence and
 * stays below the server's speaking threshold, like a quiet room.
 */
function writeVoiceWav(path: string): string {
	const rate = 16_000;
	const samples = rate * 10;
	const wav = Buffer.alloc(44 + samples * 2);
	wav.write('RIFF', 0);
	wav.writeUInt32LE(36 + samples * 2, 4);
	wav.write('WAVEfmt ', 8);
	wav.writeUInt32LE(16, 16);
	wav.writeUInt16LE(1, 20); // PCM
	wav.writeUInt16LE(1, 22); // mono
	wav.writeUInt32LE(rate, 24);
	wav.writeUInt32LE(rate * 2, 28);
	wav.writeUInt16LE(2, 32);
	wav.writeUInt16LE(16, 34);
	wav.write('data', 36);
	wav.writeUInt32LE(samples * 2, 40);
	for (let i = 0; i < samples; i++) {
		const t = i / rate;
		const envelope = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t);
		const voice = 0.5 * Math.sin(2 * Math.PI * 220 * t) + 0.25 * Math.sin(2 * Math.PI * 440 * t) + 0.12 * Math.sin(2 * Math.PI * 660 * t);
		wav.writeInt16LE(Math.round(envelope * voice * 0.8 * 32767), 44 + i * 2);
	}
	writeFileSync(path, wav);
	return path;
}
const voice = writeVoiceWav(join(tmpdir(), `hearth-e2e-voice-${process.pid}.wav`));

// Fake devices (a test pattern and the voice above) granted without a prompt; the fake UI also
// answers getDisplayMedia with a fake screen (and audio) in headless Chromium, no picker involved.
test.use({
	launchOptions: {
		executablePath: process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium',
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			'--use-fake-ui-for-media-stream',
			'--use-fake-device-for-media-stream',
			`--use-file-for-fake-audio-capture=${voice}`,
			'--autoplay-policy=no-user-gesture-required'
		]
	}
});
// Three browsers encoding and decoding video on a small, shared machine (load averages above 10 seen).
test.setTimeout(300_000);

type Person = Awaited<ReturnType<typeof person>>;

async function person(browser: Browser, baseURL: string, name: string, inviteCode?: string) {
	const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
	const api = new ContextApi(context, new URL(baseURL).origin);
	const { user } = await api.signUp(uniqueUsername(name.toLowerCase()), name, inviteCode);
	const page = await context.newPage();
	// What the call code reports in the console (why a join failed) shows in the test's output.
	page.on('console', (message) => {
		if (message.type() === 'warning' || message.type() === 'error') console.log(`[${name}'s browser] ${message.text()}`);
	});
	return { context, api, page, userId: user.id, name };
}

/** What this page's participant list shows it has received from `userId`. */
async function received(page: Page, userId: string): Promise<{ audio: number; video: number }> {
	const item = page.getByRole('list', { name: 'In the call' }).locator(`li[data-user-id="${userId}"]`);
	return { audio: Number((await item.getAttribute('data-bytes-received')) ?? 0), video: Number((await item.getAttribute('data-video-bytes-received')) ?? 0) };
}

/** The objects the mediasoup worker holds, from its own dump (hearth_call_worker_objects). */
async function workerObjects(page: Page): Promise<Record<'router' | 'transport' | 'producer' | 'consumer', number>> {
	const text = await (await page.request.get('/metrics', { headers: { authorization: `Bearer ${E2E_METRICS_TOKEN}` } })).text();
	const read = (kind: string) => Number(new RegExp(`^hearth_call_worker_objects\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? -1);
	return { router: read('router'), transport: read('transport'), producer: read('producer'), consumer: read('consumer') };
}

/** Whether a <video> in `tile` shows decoded frames (not just an element). */
async function showsFrames(page: Page, selector: string): Promise<boolean> {
	return page.locator(selector).locator('video').evaluate((video: HTMLVideoElement) => video.videoWidth > 0 && video.readyState >= 2).catch(() => false);
}

test('three participants receive each other’s audio and video, see a screen share, and leaving frees every server-side object', async ({ browser, baseURL }, testInfo) => {
	const ana = await person(browser, baseURL!, 'Ana');
	const community = await ana.api.createCommunity('Video club');
	const { invite } = await ana.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	const bo = await person(browser, baseURL!, 'Bo', invite.code);
	const cy = await person(browser, baseURL!, 'Cy', invite.code);
	const { channel } = await ana.api.send<{ channel: { id: string } }>('POST', `/api/communities/${community.id}/channels`, { name: 'studio', kind: 'voice' });
	const everyone: Person[] = [ana, bo, cy];

	for (const { page } of everyone) {
		await page.goto(`/c/${community.id}/${channel.id}`);
		await page.getByRole('button', { name: 'Join call' }).click();
		// On failure this prints the panel's text, with the error the person would read.
		await expect(page.getByRole('region', { name: 'Voice call' })).toContainText('In the call', { timeout: 60_000 });
		await page.getByRole('button', { name: 'Camera', exact: true }).click();
		await expect(page.getByRole('button', { name: 'Stop camera' })).toHaveAttribute('aria-pressed', 'true');
	}

	// Each receives audio and video from each of the two others, and keeps receiving them.
	for (const viewer of everyone) {
		await expect(viewer.page.getByRole('list', { name: 'In the call' }).getByRole('listitem')).toHaveCount(3);
		for (const sender of everyone.filter((p) => p !== viewer)) {
			const what = `${viewer.name} from ${sender.name}`;
			await expect.poll(async () => (await received(viewer.page, sender.userId)).audio, { message: `${what}: audio`, timeout: 30_000 }).toBeGreaterThan(0);
			await expect.poll(async () => (await received(viewer.page, sender.userId)).video, { message: `${what}: video`, timeout: 30_000 }).toBeGreaterThan(0);
			const first = await received(viewer.page, sender.userId);
			await expect.poll(async () => (await received(viewer.page, sender.userId)).audio, { message: `${what}: audio keeps coming`, timeout: 15_000 }).toBeGreaterThan(first.audio);
			await expect.poll(async () => (await received(viewer.page, sender.userId)).video, { message: `${what}: video keeps coming`, timeout: 15_000 }).toBeGreaterThan(first.video);
			// The camera tile shows decoded frames.
			await expect.poll(() => showsFrames(viewer.page, `.stage [data-source="camera"][data-user-id="${sender.userId}"]`), { message: `${what}: camera tile`, timeout: 20_000 }).toBe(true);
		}
	}
	// Each camera goes out as simulcast: more than one layer flowing (Chromium drops the top layer
	// when the machine is short of CPU, so not always all three).
	for (const { page, name } of everyone) {
		const layers = await page.locator('.stage [data-source="camera"][data-layers]').getAttribute('data-layers');
		console.log(`${name}'s camera sends ${layers} simulcast layers`);
		expect(Number(layers), `${name}'s camera layers`).toBeGreaterThanOrEqual(2);
	}
	// A grid of three camera tiles.
	await expect(ana.page.locator('.stage')).toHaveAttribute('data-layout', 'grid');
	await expect(ana.page.locator('.stage [data-source="camera"]')).toHaveCount(3);
	await testInfo.attach('grid of three', { body: await ana.page.screenshot(), contentType: 'image/png' });

	// Everyone's fake microphone talks: Bo sees rings on Ana and Cy. Ana mutes: her ring goes out
	// (the server hears nothing from her), Cy's stays; she unmutes and it comes back.
	const speaking = (page: Page, userId: string) => page.getByRole('list', { name: 'In the call' }).locator(`li[data-user-id="${userId}"]`).getAttribute('data-speaking');
	const tileSpeaking = (page: Page, userId: string) => page.locator(`.stage [data-source="camera"][data-user-id="${userId}"]`).getAttribute('data-speaking');
	await expect.poll(() => speaking(bo.page, ana.userId), { message: 'Ana speaking, seen by Bo', timeout: 20_000 }).toBe('true');
	await expect.poll(() => tileSpeaking(bo.page, cy.userId), { message: 'Cy’s tile ring, seen by Bo', timeout: 20_000 }).toBe('true');
	await ana.page.getByRole('button', { name: 'Mute', exact: true }).click();
	await expect.poll(() => speaking(bo.page, ana.userId), { message: 'muted Ana, seen by Bo', timeout: 10_000 }).toBe('false');
	expect(await speaking(bo.page, cy.userId)).toBe('true');
	await ana.page.getByRole('button', { name: 'Unmute', exact: true }).click();
	await expect.poll(() => speaking(bo.page, ana.userId), { message: 'Ana speaking again', timeout: 10_000 }).toBe('true');

	// Bo shares his screen: Ana and Cy get a screen tile from him, focused, with frames.
	await bo.page.getByRole('button', { name: 'Share screen' }).click();
	await expect(bo.page.getByRole('button', { name: 'Stop sharing' })).toHaveAttribute('aria-pressed', 'true');
	for (const viewer of [ana, cy]) {
		const screen = `.stage [data-source="screen"][data-user-id="${bo.userId}"]`;
		await expect(viewer.page.locator(screen)).toBeVisible({ timeout: 20_000 });
		await expect(viewer.page.locator('.stage')).toHaveAttribute('data-layout', 'focus');
		await expect(viewer.page.locator(screen)).toHaveAttribute('aria-pressed', 'true');
		await expect.poll(() => showsFrames(viewer.page, screen), { message: `${viewer.name} sees frames of Bo’s screen`, timeout: 20_000 }).toBe(true);
	}
	await testInfo.attach('focused screen share', { body: await ana.page.screenshot(), contentType: 'image/png' });
	// Clicking the focused share returns Ana to the grid (four tiles), clicking a tile focuses it.
	await ana.page.locator(`.stage [data-source="screen"]`).click();
	await expect(ana.page.locator('.stage')).toHaveAttribute('data-layout', 'grid');
	await expect(ana.page.locator('.stage .grid > *')).toHaveCount(4);
	await ana.page.locator(`.stage [data-source="camera"][data-user-id="${cy.userId}"]`).click();
	await expect(ana.page.locator('.stage')).toHaveAttribute('data-layout', 'focus');
	await expect(ana.page.locator(`.stage [data-source="camera"][data-user-id="${cy.userId}"]`)).toHaveAttribute('aria-pressed', 'true');
	// Simulcast at work: the SFU now forwards Bo's camera, a thumbnail, at its lowest layer (a
	// quarter of 1280 px) and Cy's, focused, at a higher one.
	const width = (userId: string) => ana.page.locator(`.stage [data-source="camera"][data-user-id="${userId}"] video`).evaluate((video: HTMLVideoElement) => video.videoWidth);
	await expect.poll(() => width(bo.userId), { message: 'Bo’s thumbnail at the lowest layer', timeout: 20_000 }).toBeLessThanOrEqual(320);
	await expect.poll(() => width(cy.userId), { message: 'Cy’s focused camera above the lowest layer', timeout: 20_000 }).toBeGreaterThan(320);
	console.log(`Ana receives Bo's thumbnail at ${await width(bo.userId)} px wide and Cy's focused camera at ${await width(cy.userId)} px`);

	// Three peers × (send + receive) transports; producers: 3 mics, 3 cameras, Bo's screen and its
	// audio (Chromium's fake screen has audio); each peer consumes every producer but its own:
	// Ana and Cy 2 + 4 each, Bo 2 + 2.
	expect(await workerObjects(ana.page)).toEqual({ router: 1, transport: 6, producer: 8, consumer: 16 });

	// Cy leaves with the button: his 2 transports, 2 producers and the consumers of and by him go.
	await cy.page.getByRole('button', { name: 'Leave call' }).click();
	await expect(cy.page.getByRole('button', { name: 'Join call' })).toBeVisible();
	// Left: Ana (mic, camera) and Bo (mic, camera, screen, screen audio); each consumes the other's.
	await expect.poll(() => workerObjects(ana.page), { timeout: 10_000 }).toEqual({ router: 1, transport: 4, producer: 6, consumer: 6 });

	// Bo closes his page: the socket closes and the server frees everything of his.
	await bo.context.close();
	await expect.poll(() => workerObjects(ana.page), { timeout: 15_000 }).toEqual({ router: 1, transport: 2, producer: 2, consumer: 0 });
	await expect(ana.page.getByRole('list', { name: 'In the call' }).getByRole('listitem')).toHaveCount(1);
	await expect(ana.page.locator('.stage [data-source="screen"]')).toHaveCount(0);

	await ana.page.getByRole('button', { name: 'Leave call' }).click();
	await expect.poll(() => workerObjects(ana.page), { timeout: 10_000 }).toEqual({ router: 0, transport: 0, producer: 0, consumer: 0 });
	const metrics = await (await ana.page.request.get('/metrics', { headers: { authorization: `Bearer ${E2E_METRICS_TOKEN}` } })).text();
	for (const line of ['hearth_calls_active 0', 'hearth_call_participants 0', 'hearth_call_producers 0', 'hearth_call_consumers 0']) expect(metrics).toContain(`\n${line}\n`);
	await ana.context.close();
	await cy.context.close();
});

test('after its /ws connection drops, a participant rejoins by itself with the camera on, and the server keeps nothing of the old peer', async ({ browser, baseURL }) => {
	const ana = await person(browser, baseURL!, 'Ana');
	const community = await ana.api.createCommunity('Flaky network');
	const { invite } = await ana.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	const bo = await person(browser, baseURL!, 'Bo', invite.code);
	const { channel } = await ana.api.send<{ channel: { id: string } }>('POST', `/api/communities/${community.id}/channels`, { name: 'hall', kind: 'voice' });
	// Bo's /ws goes through a route this test can cut, both ways, like a network drop.
	const cuts: (() => void)[] = [];
	await bo.page.routeWebSocket(/\/ws$/, (ws) => {
		const server = ws.connectToServer();
		cuts.push(() => {
			// (1006, "abnormal closure", cannot be sent; the browser sees what a missed heartbeat gives.)
			void server.close({ code: 1001, reason: 'network drop' });
			void ws.close({ code: 4011, reason: 'network drop' });
		});
	});

	for (const { page } of [ana, bo]) {
		await page.goto(`/c/${community.id}/${channel.id}`);
		await page.getByRole('button', { name: 'Join call' }).click();
		await expect(page.getByRole('region', { name: 'Voice call' })).toContainText('In the call', { timeout: 60_000 });
	}
	await bo.page.getByRole('button', { name: 'Camera', exact: true }).click();
	await expect.poll(async () => (await received(ana.page, bo.userId)).video, { timeout: 30_000 }).toBeGreaterThan(0);
	// The call's controls, tiles, volume sliders and device picker pass the same automated
	// accessibility checks as the rest of the app (accessibility.spec.ts). Only the call panel: the
	// message list it pushes down is checked there.
	await ana.page.getByRole('button', { name: 'Devices' }).click();
	await expect(ana.page.getByRole('group', { name: 'Devices' })).toBeVisible();
	const axe = await new AxeBuilder({ page: ana.page }).include('section[aria-label="Voice call"]').withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
	expect(axe.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`)).toEqual([]);
	const before = await ana.page.getByRole('list', { name: 'In the call' }).locator(`li[data-user-id="${bo.userId}"]`).count();
	expect(before).toBe(1);

	expect(cuts).toHaveLength(1);
	cuts[0]!();
	// The server drops the old peer; the client reconnects and joins again, camera included.
	await expect.poll(() => cuts.length, { message: 'Bo reconnected', timeout: 30_000 }).toBe(2);
	await expect(bo.page.getByRole('region', { name: 'Voice call' })).toContainText('In the call', { timeout: 60_000 });
	await expect(bo.page.getByRole('button', { name: 'Stop camera' })).toBeVisible({ timeout: 30_000 });
	await expect(ana.page.getByRole('list', { name: 'In the call' }).getByRole('listitem')).toHaveCount(2);
	const again = await received(ana.page, bo.userId);
	await expect.poll(async () => (await received(ana.page, bo.userId)).video, { message: 'Bo’s video after the rejoin', timeout: 30_000 }).toBeGreaterThan(again.video);
	await expect.poll(async () => (await received(ana.page, bo.userId)).audio, { message: 'Bo’s audio after the rejoin', timeout: 30_000 }).toBeGreaterThan(again.audio);
	// Exactly one Bo in the worker: Ana (mic) and Bo (mic, camera), each consuming the other's.
	await expect.poll(() => workerObjects(ana.page), { timeout: 15_000 }).toEqual({ router: 1, transport: 4, producer: 3, consumer: 3 });

	await bo.context.close();
	await ana.page.getByRole('button', { name: 'Leave call' }).click();
	await expect.poll(() => workerObjects(ana.page), { timeout: 15_000 }).toEqual({ router: 0, transport: 0, producer: 0, consumer: 0 });
	await ana.context.close();
});
