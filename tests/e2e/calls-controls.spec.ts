// The call controls in real Chromium with fake devices and the real mediasoup worker: per-person
// volume, deafen, switching camera and microphone during a call, what people are told when the
// browser refuses the microphone and camera, or has no camera, and recovery through ICE restarts
// after the media path is cut. Media is end-to-end encrypted
// throughout (frames decrypted per person are part of the checks). Skipped, with the reason,
// without a mediasoup worker.
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { createTestDatabase, startServer, type TestDatabase, type TestServer } from '../helpers/test-server.ts';
import { ContextApi, uniqueUsername } from './support.ts';

const noCalls = process.env.HEARTH_E2E_NO_CALLS;
test.skip(!!noCalls, `calls unavailable: ${noCalls}`);
test.setTimeout(180_000);

// Each test needs its own devices and permissions, which are browser flags: it launches its own
// Chromium (test.use cannot change launch options inside a file).
const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'];
const executablePath = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium';
const launched: Browser[] = [];
async function launch(extra: string[]): Promise<Browser> {
	const browser = await chromium.launch({ executablePath, args: [...BASE_ARGS, ...extra] });
	launched.push(browser);
	return browser;
}
// Also when a test fails half-way.
test.afterEach(async () => {
	for (const browser of launched.splice(0)) await browser.close().catch(() => {});
});

async function person(browser: Browser, baseURL: string, name: string, inviteCode?: string) {
	const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 900 } });
	const api = new ContextApi(context, new URL(baseURL).origin);
	const { user } = await api.signUp(uniqueUsername(name.toLowerCase()), name, inviteCode);
	const page = await context.newPage();
	return { context, api, page, userId: user.id, name };
}

async function callFor(browser: Browser, baseURL: string, names: string[]) {
	const [first, ...rest] = names;
	const owner = await person(browser, baseURL, first!);
	const community = await owner.api.createCommunity(`${first}'s call`);
	const { invite } = await owner.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	const others = [];
	for (const name of rest) others.push(await person(browser, baseURL, name, invite.code));
	const { channel } = await owner.api.send<{ channel: { id: string } }>('POST', `/api/communities/${community.id}/channels`, { name: 'room', kind: 'voice' });
	return { people: [owner, ...others], path: `/c/${community.id}/${channel.id}` };
}

async function join(page: Page, path: string): Promise<void> {
	await page.goto(path);
	await page.getByRole('button', { name: 'Join call' }).click();
	await expect(page.getByRole('region', { name: 'Voice call' })).toContainText('In the call', { timeout: 30_000 });
}

const participant = (page: Page, userId: string) => page.getByRole('list', { name: 'In the call' }).locator(`li[data-user-id="${userId}"]`);
const bytesFrom = async (page: Page, userId: string) => Number((await participant(page, userId).getAttribute('data-bytes-received')) ?? 0);
const decryptedFrom = async (page: Page, userId: string) => Number((await participant(page, userId).getAttribute('data-frames-decrypted')) ?? 0);
/** The volume of the <audio> element playing `userId`'s microphone on this page. */
const playedVolume = (page: Page, userId: string) =>
	page.locator(`#call-audio audio[data-user-id="${userId}"][data-source="mic"]`).evaluate((audio: HTMLAudioElement) => audio.volume);

/** Still receiving from `userId` (bytes and decrypted frames keep growing). */
async function keepsReceiving(page: Page, userId: string, what: string): Promise<void> {
	const bytes = await bytesFrom(page, userId);
	const frames = await decryptedFrom(page, userId);
	await expect.poll(() => bytesFrom(page, userId), { message: `${what}: bytes`, timeout: 20_000 }).toBeGreaterThan(bytes);
	await expect.poll(() => decryptedFrom(page, userId), { message: `${what}: decrypted frames`, timeout: 20_000 }).toBeGreaterThan(frames);
}

test.describe('with a camera and a microphone allowed', () => {
	test('per-person volume and deafen act on what is played; camera and microphone switch during the call without breaking it', async ({ baseURL }) => {
		// Two fake cameras (and Chromium's fake microphones), granted without a prompt.
		const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream=device-count=2']);
		const { people, path } = await callFor(browser, baseURL!, ['Ana', 'Bo']);
		const [ana, bo] = people as [Awaited<ReturnType<typeof person>>, Awaited<ReturnType<typeof person>>];
		await join(ana.page, path);
		await join(bo.page, path);
		await expect.poll(() => decryptedFrom(ana.page, bo.userId), { timeout: 20_000 }).toBeGreaterThan(0);
		await expect.poll(() => decryptedFrom(bo.page, ana.userId), { timeout: 20_000 }).toBeGreaterThan(0);

		// Volume: Ana turns Bo down; the element playing Bo follows, and only Bo's.
		expect(await playedVolume(ana.page, bo.userId)).toBe(1);
		await ana.page.getByRole('slider', { name: 'Volume of Bo' }).fill('30');
		await expect.poll(() => playedVolume(ana.page, bo.userId)).toBeCloseTo(0.3, 5);
		expect(await playedVolume(bo.page, ana.userId)).toBe(1);

		// Deafen: nothing from the call is played, and Ana's microphone goes off for Bo.
		await ana.page.getByRole('button', { name: 'Deafen', exact: true }).click();
		await expect(ana.page.getByRole('button', { name: 'Undeafen', exact: true })).toHaveAttribute('aria-pressed', 'true');
		await expect(ana.page.getByRole('button', { name: 'Unmute', exact: true })).toHaveAttribute('aria-pressed', 'true');
		expect(await playedVolume(ana.page, bo.userId)).toBe(0);
		await bo.page.waitForTimeout(1_500);
		const whenDeafened = await bytesFrom(bo.page, ana.userId);
		await bo.page.waitForTimeout(2_500);
		expect(await bytesFrom(bo.page, ana.userId), 'Bo receives nothing from deafened Ana').toBe(whenDeafened);
		// Ana still receives Bo (deafening plays nothing; it does not stop the stream).
		await keepsReceiving(ana.page, bo.userId, 'deafened Ana from Bo');

		// Undeafen: Bo at the volume Ana chose, and her microphone back on.
		await ana.page.getByRole('button', { name: 'Undeafen', exact: true }).click();
		await expect(ana.page.getByRole('button', { name: 'Mute', exact: true })).toHaveAttribute('aria-pressed', 'false');
		await expect.poll(() => playedVolume(ana.page, bo.userId)).toBeCloseTo(0.3, 5);
		await keepsReceiving(bo.page, ana.userId, 'Bo from undeafened Ana');

		// Switching the camera: the preview shows the other fake camera, and Bo keeps decoding Ana's video.
		await ana.page.getByRole('button', { name: 'Camera', exact: true }).click();
		const preview = ana.page.locator(`.stage [data-source="camera"][data-user-id="${ana.userId}"] video`);
		const cameraLabel = () => preview.evaluate((video: HTMLVideoElement) => (video.srcObject as MediaStream | null)?.getVideoTracks()[0]?.label ?? '');
		await expect.poll(cameraLabel, { timeout: 20_000 }).not.toBe('');
		const before = await cameraLabel();
		const shows = () => bo.page.locator(`.stage [data-source="camera"][data-user-id="${ana.userId}"] video`).evaluate((video: HTMLVideoElement) => video.videoWidth > 0).catch(() => false);
		await expect.poll(shows, { message: 'Bo sees Ana’s camera', timeout: 30_000 }).toBe(true);
		await ana.page.getByRole('button', { name: 'Devices' }).click();
		const devices = ana.page.getByRole('group', { name: 'Devices' });
		const cameras = devices.getByRole('combobox', { name: 'Camera' });
		const cameraOptions = await cameras.locator('option').evaluateAll((options: HTMLOptionElement[]) => options.map((o) => ({ value: o.value, label: o.textContent ?? '' })));
		console.log(`fake cameras: ${cameraOptions.map((o) => o.label).join(', ')}; the preview shows ${before}`);
		const other = cameraOptions.find((o) => o.value !== '' && o.label !== before);
		expect(other, 'a second camera to switch to').toBeDefined();
		await cameras.selectOption(other!.value);
		await expect.poll(cameraLabel, { message: 'the preview shows the chosen camera', timeout: 20_000 }).toBe(other!.label);
		await keepsReceiving(bo.page, ana.userId, 'Bo from Ana after the camera switch');
		await expect.poll(shows, { message: 'Bo still sees Ana’s camera', timeout: 30_000 }).toBe(true);

		// Switching the microphone: chosen (and remembered in the picker), and Bo keeps hearing Ana.
		const microphones = devices.getByRole('combobox', { name: 'Microphone' });
		const micOptions = await microphones.locator('option').evaluateAll((options: HTMLOptionElement[]) => options.map((o) => o.value).filter((v) => v !== ''));
		expect(micOptions.length, 'a microphone to choose').toBeGreaterThan(0);
		await microphones.selectOption(micOptions.at(-1)!);
		await expect(microphones).toHaveValue(micOptions.at(-1)!);
		await expect(ana.page.getByRole('region', { name: 'Voice call' }).getByRole('alert')).toHaveCount(0);
		await keepsReceiving(bo.page, ana.userId, 'Bo from Ana after the microphone switch');

	});
});

test.describe('when the browser refuses the microphone and the camera', () => {
	test('joins to listen, and says how to allow the microphone and the camera', async ({ baseURL }) => {
		// Fake devices exist, but without --use-fake-ui-for-media-stream nothing grants access to them:
		// headless Chromium answers getUserMedia with NotAllowedError, as after "Block".
		const browser = await launch(['--use-fake-device-for-media-stream']);
		const { people, path } = await callFor(browser, baseURL!, ['Ana', 'Bo']);
		const [ana, bo] = people as [Awaited<ReturnType<typeof person>>, Awaited<ReturnType<typeof person>>];
		// Ana allowed her microphone (granted for this origin); Bo did not.
		await ana.context.grantPermissions(['microphone'], { origin: new URL(baseURL!).origin });
		await join(ana.page, path);
		await join(bo.page, path);
		const alert = bo.page.getByRole('region', { name: 'Voice call' }).getByRole('alert');
		await expect(alert).toHaveText('Microphone access is blocked. Click the icon at the left of the address bar, set Microphone to Allow, then try again. You can still listen.');
		await expect(bo.page.getByRole('button', { name: 'Unmute', exact: true })).toBeDisabled();
		// Listening works: Bo decrypts Ana.
		await expect.poll(() => decryptedFrom(bo.page, ana.userId), { timeout: 20_000 }).toBeGreaterThan(10);
		await bo.page.getByRole('button', { name: 'Camera', exact: true }).click();
		await expect(alert).toHaveText('Camera access is blocked. Click the icon at the left of the address bar, set Camera to Allow, then try again.');
		await expect(bo.page.getByRole('button', { name: 'Camera', exact: true })).toHaveAttribute('aria-pressed', 'false');
	});
});

test.describe('without a camera', () => {
	test('says no camera was found, and the call goes on', async ({ baseURL }) => {
		const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream=device-count=0']);
		const { people, path } = await callFor(browser, baseURL!, ['Ana']);
		const [ana] = people as [Awaited<ReturnType<typeof person>>];
		await join(ana.page, path);
		await ana.page.getByRole('button', { name: 'Camera', exact: true }).click();
		await expect(ana.page.getByRole('region', { name: 'Voice call' }).getByRole('alert')).toHaveText('No camera found. Connect one (or choose another in Devices), then try again.');
		await expect(ana.page.getByRole('region', { name: 'Voice call' })).toContainText('In the call');
		await expect(ana.page.getByRole('button', { name: 'Mute', exact: true })).toBeEnabled();
	});
});

test.describe('when the media path is cut', () => {
	test('the call shows it is reconnecting, restarts ICE, and the media comes back both ways', async () => {
		// A server of its own, whose mediasoup worker the test freezes (SIGSTOP) for longer than a
		// browser waits for answers to its ICE connectivity checks: the media path is cut, /ws is not.
		let db: TestDatabase | undefined;
		let server: TestServer | undefined;
		try {
			db = await createTestDatabase();
			server = await startServer({ database: db });
			const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream']);
			const { people, path } = await callFor(browser, server.origin, ['Ana', 'Bo']);
			const [ana, bo] = people as [Awaited<ReturnType<typeof person>>, Awaited<ReturnType<typeof person>>];
			await join(ana.page, path);
			await join(bo.page, path);
			await keepsReceiving(ana.page, bo.userId, 'Ana from Bo before the cut');
			await keepsReceiving(bo.page, ana.userId, 'Bo from Ana before the cut');

			const started = server.logs.find((line) => line.includes('"call worker started"'));
			const workerPid = (JSON.parse(started!) as { pid: number }).pid;
			const cutAt = server.logs.length;
			const status = (page: Page) => page.getByRole('region', { name: 'Voice call' }).getByRole('status');
			process.kill(workerPid, 'SIGSTOP');
			try {
				for (const { page, name } of [ana, bo]) await expect(status(page), `${name} sees the call reconnecting`).toHaveAttribute('data-level', 'lost', { timeout: 30_000 });
				// Long enough for the browsers' ICE restart timers (3 s) to fire into the frozen path.
				await ana.page.waitForTimeout(5_000);
			} finally {
				process.kill(workerPid, 'SIGCONT');
			}
			for (const { page, name } of [ana, bo]) await expect(status(page), `${name}'s call reconnected`).not.toHaveAttribute('data-level', 'lost', { timeout: 60_000 });
			// Through ICE restarts of the transports (the server logs each), not a rejoin.
			const restarts = server.logs.slice(cutAt).filter((line) => line.includes('"ICE restart"'));
			console.log(`ICE restarts after the cut: ${restarts.length}`);
			expect(restarts.length).toBeGreaterThanOrEqual(2);
			// The same call, not a rejoin: still two participants, and the media flows again.
			await keepsReceiving(ana.page, bo.userId, 'Ana from Bo after the ICE restart');
			await keepsReceiving(bo.page, ana.userId, 'Bo from Ana after the ICE restart');
			await expect(ana.page.getByRole('list', { name: 'In the call' }).getByRole('listitem')).toHaveCount(2);
		} finally {
			for (const browser of launched.splice(0)) await browser.close().catch(() => {});
			await server?.stop();
			await db?.drop();
		}
	});
});
