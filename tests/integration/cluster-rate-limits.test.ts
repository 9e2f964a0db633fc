// Cluster mode: the rate limits are shared. HTTP limits per address, the sign-in throttle and the
// sign-up limit count in Redis, so a client spreading its requests over three nodes is refused at
// the same total a single node allows (the limits below; tests/integration/rate-limits.test.ts and
// auth.test.ts prove that total on one node). When Redis is away each node goes on enforcing the
// same limits on its own (rate-limiter-flexible's memory insurance) instead of letting all through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, TestClient, uniqueName } from '../helpers/clients.ts';
import { expectError } from '../helpers/fixtures.ts';
import { waitUntil } from '../helpers/sync-client.ts';
import { onNode, startTestCluster, type TestCluster } from '../helpers/test-cluster.ts';
import { clusterUnavailableReason } from '../helpers/test-redis.ts';
import type { TestServer } from '../helpers/test-server.ts';

const skip = clusterUnavailableReason();
const PER_MINUTE = 30;
const SIGN_UPS_PER_HOUR = 4;
const HTTP_MESSAGE = 'Too many requests from your address. Wait a moment and try again.';

describe.skipIf(skip)('rate limits across a cluster of three nodes', () => {
	let cluster: TestCluster;
	let nodes: TestServer[];
	beforeAll(async () => {
		cluster = await startTestCluster(3, {
			HTTP_RATE_PER_MINUTE: String(PER_MINUTE),
			// High enough that the sign-in throttle and sign-up limit, not the auth scope, refuse below.
			HTTP_AUTH_RATE_PER_MINUTE: '1000',
			SIGN_UPS_PER_IP_PER_HOUR: String(SIGN_UPS_PER_HOUR)
		});
		nodes = cluster.nodes;
	});
	afterAll(async () => {
		await cluster?.stop();
	});

	/** GET /api/instance from `ip` on `node`: the status. */
	async function hit(node: TestServer, ip: string): Promise<number> {
		const response = await fetch(`${node.url}/api/instance`, { headers: { 'x-forwarded-for': ip } });
		await response.arrayBuffer();
		return response.status;
	}

	it('refuses an address spreading its requests over the three nodes at HTTP_RATE_PER_MINUTE in total, on every node', async () => {
		const ip = '198.51.100.10';
		const statuses: number[] = [];
		for (let i = 0; i < PER_MINUTE; i += 1) statuses.push(await hit(nodes[i % 3]!, ip));
		expect(statuses).toEqual(Array(PER_MINUTE).fill(200));
		// Each node saw only a third of the limit: alone, each would let ten more through.
		const refused = await fetch(`${nodes[0]!.url}/api/instance`, { headers: { 'x-forwarded-for': ip } });
		await expectError(refused.clone(), 429, 'rate_limited', HTTP_MESSAGE);
		expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(2);
		expect([await hit(nodes[1]!, ip), await hit(nodes[2]!, ip)]).toEqual([429, 429]);
		// Another address is counted apart.
		expect(await hit(nodes[1]!, '198.51.100.11')).toBe(200);
	});

	it('makes a name wait after the free sign-in failures whichever nodes they were made on', async () => {
		const owner = await TestClient.signUp(nodes[0]!);
		const ip = '198.51.100.20';
		const statuses: number[] = [];
		// Five free failures, then the sixth starts a 2 s wait (DEFAULT_THROTTLE), each on the next node.
		for (let i = 0; i < 6; i += 1) {
			const client = new TestClient(nodes[i % 3]!, { ip });
			statuses.push((await client.send('POST', '/api/auth/sign-in', { username: owner.user.username, password: `${PASSWORD}!` })).status);
		}
		expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
		// Even the right password waits, on a node that saw only two of the failures.
		await expectError(
			new TestClient(nodes[2]!, { ip }).send('POST', '/api/auth/sign-in', { username: owner.user.username, password: PASSWORD }),
			429,
			'rate_limited',
			'Too many failed sign-in attempts. Wait a moment and try again.'
		);
		// The owner's own address is not affected.
		expect((await new TestClient(nodes[1]!).send('POST', '/api/auth/sign-in', { username: owner.user.username, password: PASSWORD })).status).toBe(200);
	});

	it('counts sign-ups from one address on all nodes against one SIGN_UPS_PER_IP_PER_HOUR', async () => {
		const ip = '198.51.100.30';
		for (let i = 0; i < SIGN_UPS_PER_HOUR; i += 1) await TestClient.signUp(nodes[i % 3]!, { ip });
		await expectError(
			new TestClient(nodes[SIGN_UPS_PER_HOUR % 3]!, { ip }).send('POST', '/api/auth/sign-up', { username: uniqueName(), password: PASSWORD }),
			429,
			'rate_limited',
			'Too many accounts created from this address. Try again later.'
		);
	});

	it('counts wrong passwords given to confirm an action on any node in the same throttle as sign-in', async () => {
		const member = await TestClient.signUp(nodes[0]!);
		const statuses: number[] = [];
		for (let i = 0; i < 7; i += 1) {
			const here = onNode(member, nodes[i % 3]!);
			statuses.push((await here.send('POST', '/api/me/password', { currentPassword: `${PASSWORD}!`, newPassword: `${PASSWORD}?` })).status);
		}
		// Five free failures, the sixth starts the wait, the seventh is refused before any check.
		expect(statuses).toEqual([400, 400, 400, 400, 400, 400, 429]);
	});

	it('goes on limiting on each node alone while Redis is away, and shares the counts again once it is back', async () => {
		await cluster.redis.kill();
		try {
			await waitUntil(async () => (await (await fetch(`${nodes[0]!.url}/health`)).json()).status === 'degraded', 10_000, 'node a sees Redis gone');
			// The insurance counter of node a alone: the full limit, then refusals (not everything through).
			const ip = '198.51.100.40';
			const statuses: number[] = [];
			for (let i = 0; i < PER_MINUTE + 1; i += 1) statuses.push(await hit(nodes[0]!, ip));
			expect(statuses).toEqual([...Array(PER_MINUTE).fill(200), 429]);
			// Node b counts on its own meanwhile.
			expect(await hit(nodes[1]!, ip)).toBe(200);
		} finally {
			await cluster.redis.start();
		}
		for (const node of nodes) {
			await waitUntil(async () => (await (await fetch(`${node.url}/health`)).json()).status === 'ok', 15_000, 'Redis reachable again');
		}
		const ip = '198.51.100.41';
		const statuses: number[] = [];
		for (let i = 0; i < PER_MINUTE + 3; i += 1) statuses.push(await hit(nodes[i % 3]!, ip));
		expect(statuses).toEqual([...Array(PER_MINUTE).fill(200), 429, 429, 429]);
	});
});
