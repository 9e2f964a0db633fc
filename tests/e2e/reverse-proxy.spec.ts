// The reverse-proxy configurations of docs/self-hosting/ (nginx and Caddy), run as documented in
// front of a Hearth server on loopback, with two people chatting through them in Chromium over TLS.
// Each proxy gets its own server (ORIGIN is the proxy's https address, TRUSTED_PROXIES as the docs
// say), so nothing here depends on the shared test server. The heaviest check: a /ws connection
// left silent for longer than nginx's default 60 s proxy timeout must still be the same, open
// connection afterwards. A proxy that is not installed is skipped with the reason, never passed.
import { expect, test, type Browser, type BrowserContext, type Page, type WebSocket } from '@playwright/test';
import { startServer, type TestServer } from '../helpers/test-server.ts';
import { freeLoopbackPort, get, getPlain, proxyBinary, skipReason, startCaddy, startNginx, type ProxyKind, type RunningProxy } from '../helpers/reverse-proxy.ts';
import { ContextApi, fillSignUp, messageWith, send, uniqueUsername } from './support.ts';

test.describe.configure({ mode: 'serial' });

/** Longer than nginx's default proxy_read_timeout / proxy_send_timeout (60 s). */
const IDLE_MS = 70_000;

const PROXIES: { kind: ProxyKind; start: typeof startNginx }[] = [
	{ kind: 'nginx', start: startNginx },
	{ kind: 'caddy', start: startCaddy }
];

type Person = { context: BrowserContext; page: Page; sockets: WebSocket[]; displayName: string };
type Deployment = { proxy: RunningProxy; server: TestServer; ana: Person; bo: Person };

const deployments = new Map<ProxyKind, Deployment>();
const cleanups: (() => Promise<unknown>)[] = [];

/** A Hearth server as the docs configure it behind a proxy on this machine. */
async function startHearth(port: number, origin: string, trustedProxies: string): Promise<TestServer> {
	const server = await startServer({
		database: { engine: 'pglite', env: { DATA_DIR: 'memory://' }, drop: async () => {} },
		port,
		env: {
			ORIGIN: origin,
			HOST: '127.0.0.1',
			TRUSTED_PROXIES: trustedProxies,
			// The server's own pings would keep the socket busy; the longest interval keeps them out of
			// the idle window, so only the proxy configuration can keep the connection alive.
			WS_HEARTBEAT_SECONDS: '600'
		}
	});
	cleanups.push(() => server.stop());
	return server;
}

/** The proxy and its Hearth server. The server must know the proxy's origin, so the port comes first. */
async function deploy(kind: ProxyKind, trustedProxies: string): Promise<{ proxy: RunningProxy; server: TestServer }> {
	const start = PROXIES.find((p) => p.kind === kind)!.start;
	const upstreamPort = await freeLoopbackPort();
	const proxy = await start({ upstreamPort });
	cleanups.push(() => proxy.stop());
	const server = await startHearth(upstreamPort, proxy.origin, trustedProxies);
	expect((await get(proxy.httpsPort, '/live')).status, `Hearth through ${kind}`).toBe(200);
	return { proxy, server };
}

async function person(browser: Browser, origin: string, displayName: string): Promise<Person> {
	const context = await browser.newContext({ baseURL: origin, ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
	cleanups.push(() => context.close());
	// Page timers under the test's control: during the idle window they are paused, as a background
	// tab's are throttled, so the app's own heartbeat pings cannot keep the connection busy.
	await context.clock.install();
	const page = await context.newPage();
	const sockets: WebSocket[] = [];
	page.on('websocket', (socket) => {
		if (new URL(socket.url()).pathname === '/ws') sockets.push(socket);
	});
	return { context, page, sockets, displayName };
}

test.afterAll(async () => {
	for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

for (const { kind } of PROXIES) {
	test.describe(`Behind ${kind}`, () => {
		test.beforeEach(() => {
			test.skip(!proxyBinary(kind), skipReason(kind));
		});

		test('two people sign up, one invites the other, and they chat both ways over wss', async ({ browser }) => {
			test.setTimeout(90_000);
			const { proxy, server } = await deploy(kind, '127.0.0.1,::1');
			const ana = await person(browser, proxy.origin, 'Ana Lima');
			const bo = await person(browser, proxy.origin, 'Bo Chen');
			deployments.set(kind, { proxy, server, ana, bo });

			// The first account on the new server becomes its owner.
			await ana.page.goto('/');
			await expect(ana.page).toHaveURL(`${proxy.origin}/sign-up`);
			await fillSignUp(ana.page, uniqueUsername('ana'), ana.displayName);
			await ana.page.getByRole('button', { name: 'Create account' }).click();
			await ana.page.getByRole('button', { name: 'Create a community' }).first().click();
			await ana.page.getByLabel('Community name').fill('Proxy Club');
			await ana.page.getByRole('button', { name: 'Create community' }).click();
			await expect(ana.page.getByRole('heading', { name: 'general', level: 1 })).toBeVisible();
			const generalUrl = ana.page.url();

			await ana.page.getByRole('button', { name: 'Invite people' }).first().click();
			const link = ana.page.getByRole('textbox', { name: 'Invite link' });
			// Links are built from ORIGIN: the public https address, not Hearth's own.
			await expect(link).toHaveValue(new RegExp(`^${proxy.origin.replace(/[.[\]]/g, '\\$&')}/invite/[A-Za-z0-9]+$`));
			const inviteUrl = await link.inputValue();
			await ana.page.getByRole('button', { name: 'Close' }).click();

			await bo.page.goto(inviteUrl);
			await bo.page.getByRole('button', { name: 'Create an account and join' }).click();
			await fillSignUp(bo.page, uniqueUsername('bo'), bo.displayName);
			await bo.page.getByRole('button', { name: 'Create account and join' }).click();
			await expect(bo.page).toHaveURL(generalUrl);

			for (const { page } of [ana, bo]) await expect(page.locator('[data-connection="open"]')).toBeVisible();
			await send(ana.page, `Hello through ${kind}`);
			await expect(messageWith(bo.page, `Hello through ${kind}`)).toContainText('Ana Lima');
			await send(bo.page, `Hello back through ${kind}`);
			await expect(messageWith(ana.page, `Hello back through ${kind}`)).toContainText('Bo Chen');

			// The live updates came over the proxy's wss:// endpoint, one connection per page.
			for (const { sockets } of [ana, bo]) {
				expect(sockets.map((socket) => socket.url())).toEqual([`${proxy.origin.replace('https:', 'wss:')}/ws`]);
			}
		});

		test('Hearth records the browser’s address, passed on in X-Forwarded-For by the trusted proxy', async () => {
			const deployment = deployments.get(kind);
			test.skip(!deployment, 'the chat test did not set this deployment up');
			// The browser reached the proxy over IPv6 (::1); the proxy reached Hearth over IPv4
			// (127.0.0.1). Hearth can only know ::1 from the X-Forwarded-For header.
			for (const { context } of [deployment!.ana, deployment!.bo]) {
				const { sessions } = await new ContextApi(context, deployment!.proxy.origin).get<{ sessions: { current: boolean; ipAddress: string }[] }>('/api/me/sessions');
				expect(sessions.find((session) => session.current)?.ipAddress).toBe('::1');
			}
		});

		test('without TRUSTED_PROXIES the same header is ignored and Hearth records the proxy’s address', async ({ browser }) => {
			const { proxy } = await deploy(kind, '');
			const context = await browser.newContext({ baseURL: proxy.origin, ignoreHTTPSErrors: true });
			cleanups.push(() => context.close());
			const api = new ContextApi(context, proxy.origin);
			await api.signUp(uniqueUsername('cy'), 'Cy Untrusted');
			const { sessions } = await api.get<{ sessions: { current: boolean; ipAddress: string }[] }>('/api/me/sessions');
			expect(sessions.find((session) => session.current)?.ipAddress).toBe('127.0.0.1');
		});

		test('a request body larger than the proxy’s default limit reaches Hearth', async () => {
			const deployment = deployments.get(kind);
			test.skip(!deployment, 'the chat test did not set this deployment up');
			const context = deployment!.ana.context;
			// 2 MB: above nginx's default client_max_body_size (1 MB). Hearth's own answer (its CSRF
			// refusal, with its request id) shows the proxy let the body through; nginx would say 413.
			const response = await context.request.post('/api/auth/sign-in', {
				headers: { origin: deployment!.proxy.origin, 'content-type': 'application/json' },
				data: 'x'.repeat(2_000_000)
			});
			expect(response.status()).toBe(403);
			expect(response.headers()['x-request-id']).toBeTruthy();
			expect(await response.json()).toMatchObject({ error: { code: 'csrf' } });
		});

		test('plain http is redirected to https', async () => {
			const deployment = deployments.get(kind);
			test.skip(!deployment, 'the chat test did not set this deployment up');
			const { status, location } = await getPlain(deployment!.proxy.httpPort, '/settings?tab=1');
			expect([301, 308]).toContain(status);
			// Only the scheme and the path are checked: the host part differs in a way real deployments
			// never see (nginx sends the default port 443, and Caddy 2.6 writes the IPv6 site address
			// the test uses without its brackets).
			expect(location).toMatch(/^https:\/\/[^/]+\/settings\?tab=1$/);
		});
	});
}

// One idle window for every proxy at once (the wait is the slow part); each proxy's verdict is its
// own test, so a missing proxy shows as skipped rather than hidden inside another's pass.
let idleWindow: Promise<void> | null = null;
const idleStartedWith = new Map<ProxyKind, { ana: WebSocket; bo: WebSocket; opened: number }>();

async function beginIdleWindow(): Promise<void> {
	if (idleWindow) return idleWindow;
	for (const [kind, { ana, bo }] of deployments) {
		idleStartedWith.set(kind, { ana: ana.sockets.at(-1)!, bo: bo.sockets.at(-1)!, opened: ana.sockets.length + bo.sockets.length });
		// Freeze the pages' timers: no pings, no presence or typing updates; nothing crosses the socket.
		for (const { page } of [ana, bo]) await page.clock.pauseAt(Date.now() + 1_000);
	}
	idleWindow = new Promise((resolve) => setTimeout(resolve, IDLE_MS));
	return idleWindow;
}

for (const { kind } of PROXIES) {
	test(`behind ${kind}, a /ws connection silent for ${IDLE_MS / 1000} s stays open and still delivers live`, async () => {
		test.skip(!proxyBinary(kind), skipReason(kind));
		const deployment = deployments.get(kind);
		test.skip(!deployment, 'the chat test did not set this deployment up');
		test.setTimeout(IDLE_MS + 60_000);
		await beginIdleWindow();
		const { ana, bo } = deployment!;
		const before = idleStartedWith.get(kind)!;
		for (const { page } of [ana, bo]) await page.clock.resume();

		// The same sockets, never closed, and no new one opened (a reconnect would hide a dropped
		// connection behind the app's resume logic).
		expect(before.ana.isClosed(), `${kind} closed the idle /ws connection (an idle timeout?)`).toBe(false);
		expect(before.bo.isClosed(), `${kind} closed the idle /ws connection (an idle timeout?)`).toBe(false);
		expect(ana.sockets.length + bo.sockets.length).toBe(before.opened);

		await send(ana.page, `Still here after ${IDLE_MS / 1000} s (${kind})`);
		await expect(messageWith(bo.page, `Still here after ${IDLE_MS / 1000} s (${kind})`)).toBeVisible();
		await send(bo.page, `Me too (${kind})`);
		await expect(messageWith(ana.page, `Me too (${kind})`)).toBeVisible();
		expect(before.ana.isClosed() || before.bo.isClosed()).toBe(false);
		expect(ana.sockets.length + bo.sockets.length).toBe(before.opened);
	});
}
