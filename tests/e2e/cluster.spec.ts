// Cluster mode in the browser: two Hearth nodes on one PostgreSQL and one Redis, behind the
// documented nginx configuration with the cluster upstream block (docs/self-hosting/nginx.md), and
// two people whose /ws connections are on different nodes. They chat both ways, then meet in one
// voice call, which lives on one node: the other person's signalling is relayed to it, and each
// receives the other's audio. Needs PostgreSQL (TEST_DATABASE_URL), redis-server, nginx and a
// mediasoup worker; skipped with the reason otherwise.
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { freeLoopbackPort, get, nginxClusterSite, proxyBinary, skipReason as proxySkipReason, startNginx, type RunningProxy } from '../helpers/reverse-proxy.ts';
import { startTestCluster, type TestCluster } from '../helpers/test-cluster.ts';
import { redisServerBin } from '../helpers/test-redis.ts';
import type { TestServer } from '../helpers/test-server.ts';
import { ContextApi, messageWith, send, uniqueUsername } from './support.ts';

const skip = !process.env.TEST_DATABASE_URL
	? 'cluster mode needs PostgreSQL: set TEST_DATABASE_URL (scripts/lib/test-postgres.sh)'
	: !redisServerBin()
		? 'redis-server is not installed (apt-get install redis-server)'
		: !proxyBinary('nginx')
			? proxySkipReason('nginx')
			: process.env.HEARTH_E2E_NO_CALLS || null;
test.skip(!!skip, skip ?? '');
test.use({
	launchOptions: {
		executablePath: process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required']
	}
});

type Person = { context: BrowserContext; page: Page; api: ContextApi; userId: string };

let cluster: TestCluster | undefined;
let proxy: RunningProxy | undefined;
// The cluster's database is a PostgreSQL one (createTestDatabase reads TEST_DB); the other spec
// files share this worker process, so the setting is put back afterwards.
const testDbBefore = process.env.TEST_DB;
test.afterAll(async () => {
	await proxy?.stop();
	await cluster?.stop();
	if (testDbBefore === undefined) delete process.env.TEST_DB;
	else process.env.TEST_DB = testDbBefore;
});

async function person(browser: Browser, origin: string, name: string, inviteCode?: string): Promise<Person> {
	const context = await browser.newContext({ baseURL: origin, ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
	const api = new ContextApi(context, origin);
	const { user } = await api.signUp(uniqueUsername(name.toLowerCase()), name, inviteCode);
	return { context, page: await context.newPage(), api, userId: user.id };
}

/** The node the person's newest /ws connection is on, from the nodes' own logs. */
function nodeOf(userId: string): number {
	let newest = { node: -1, at: -1 };
	cluster!.nodes.forEach((node, index) => {
		node.logs.forEach((line) => {
			if (!line.includes('"ws connected"') || !line.includes(`"user":"${userId}"`)) return;
			const time = Date.parse((JSON.parse(line) as { time: string }).time);
			if (time > newest.at) newest = { node: index, at: time };
		});
	});
	return newest.node;
}

async function routers(node: TestServer): Promise<number> {
	const text = await (await fetch(`${node.url}/metrics`)).text();
	return Number(/^hearth_call_worker_objects\{kind="router"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

test('two people on different nodes behind nginx chat both ways and hear each other in one call', async ({ browser }) => {
	test.setTimeout(180_000);
	// The nodes must know the proxy's origin, and the proxy the nodes' ports: ports first.
	const ports = [await freeLoopbackPort(), await freeLoopbackPort()];
	process.env.TEST_DB = 'postgres';
	proxy = await startNginx({ upstreamPort: ports[0]!, source: nginxClusterSite(ports) });
	cluster = await startTestCluster(2, { ORIGIN: proxy.origin, HOST: '127.0.0.1', TRUSTED_PROXIES: '127.0.0.1,::1' }, ports.map((port) => ({ PORT: String(port) })));
	// nginx found no node while they were starting and leaves each out for fail_timeout (10 s).
	await expect.poll(async () => (await get(proxy!.httpsPort, '/live').catch(() => ({ status: 0 }))).status, { timeout: 20_000 }).toBe(200);

	const ana = await person(browser, proxy.origin, 'Ana');
	const community = await ana.api.createCommunity('Across nodes');
	const { invite } = await ana.api.send<{ invite: { code: string } }>('POST', `/api/communities/${community.id}/invites`, {});
	const bo = await person(browser, proxy.origin, 'Bo', invite.code);
	const { channel: voice } = await ana.api.send<{ channel: { id: string } }>('POST', `/api/communities/${community.id}/channels`, { name: 'lounge', kind: 'voice' });

	/**
	 * Opens `path` for both. Round robin: opening Bo's page again moves his connection to the next
	 * node, until the two people are on different ones.
	 */
	async function onDifferentNodes(path: string) {
		for (const { page } of [ana, bo]) {
			await page.goto(path);
			await expect(page.locator('[data-connection="open"]')).toBeVisible();
		}
		for (let attempt = 0; nodeOf(ana.userId) === nodeOf(bo.userId) && attempt < 6; attempt += 1) {
			await bo.page.reload();
			await expect(bo.page.locator('[data-connection="open"]')).toBeVisible();
		}
		expect(nodeOf(ana.userId)).toBeGreaterThanOrEqual(0);
		expect(nodeOf(bo.userId)).toBeGreaterThanOrEqual(0);
		expect(nodeOf(ana.userId)).not.toBe(nodeOf(bo.userId));
	}

	await onDifferentNodes(`/c/${community.id}`);

	await send(ana.page, 'Hello from one node');
	await expect(messageWith(bo.page, 'Hello from one node')).toContainText('Ana');
	await send(bo.page, 'Hello back from the other');
	await expect(messageWith(ana.page, 'Hello back from the other')).toContainText('Bo');

	await onDifferentNodes(`/c/${community.id}/${voice.id}`);
	const nodes = [nodeOf(ana.userId), nodeOf(bo.userId)];
	for (const { page } of [ana, bo]) {
		await page.getByRole('button', { name: 'Join call' }).click();
		await expect(page.getByRole('region', { name: 'Voice call' })).toContainText('In the call', { timeout: 15_000 });
	}
	// Joining kept the connections where they were.
	expect([nodeOf(ana.userId), nodeOf(bo.userId)]).toEqual(nodes);
	// One call, on one node: one router in all.
	expect((await routers(cluster.nodes[0]!)) + (await routers(cluster.nodes[1]!))).toBe(1);
	for (const [page, other] of [[ana.page, bo], [bo.page, ana]] as const) {
		await expect(page.getByRole('list', { name: 'In the call' }).getByRole('listitem')).toHaveCount(2);
		const bytes = async () => Number((await page.getByRole('list', { name: 'In the call' }).locator(`li[data-user-id="${other.userId}"]`).getAttribute('data-bytes-received')) ?? 0);
		await expect.poll(bytes, { timeout: 20_000 }).toBeGreaterThan(0);
		const first = await bytes();
		await expect.poll(bytes, { timeout: 10_000 }).toBeGreaterThan(first);
	}
	await bo.page.getByRole('button', { name: 'Leave call' }).click();
	await expect(ana.page.getByRole('list', { name: 'In the call' }).getByRole('listitem')).toHaveCount(1);
	for (const { context } of [ana, bo]) await context.close();
});
