// Cluster mode: changes made through one node take effect on the other at once. Instance settings
// are cached on each node (5 s); a change is announced on the bus and the other nodes read the row
// again as soon as they hear of it, so nobody waits for the cache time — except while Redis is
// away, when the cache time is the bound. Timeouts and role changes are read from PostgreSQL where
// they are enforced; the open sockets of the other node are told to refetch the community. Bans and
// disabled accounts reach the sockets on the other node too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '#lib/shared/protocol/codes.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import type { CustomRoleView } from '#lib/shared/api-types.ts';
import { PASSWORD, TestClient, type TestSocket } from '../helpers/clients.ts';
import { createCommunity, expectError, expectJson, joinCommunity, newClientId, sendMessage, type Community } from '../helpers/fixtures.ts';
import { waitUntil } from '../helpers/sync-client.ts';
import { onNode, startTestCluster, type TestCluster } from '../helpers/test-cluster.ts';
import { clusterUnavailableReason } from '../helpers/test-redis.ts';
import type { TestServer } from '../helpers/test-server.ts';

const skip = clusterUnavailableReason();
// Instance settings are cached for 5 s (services/instance.ts SETTINGS_CACHE_MS): a change seen
// within this bound on the other node came by its notice, not by the cache running out.
const AT_ONCE_MS = 1500;
const CACHE_MS = 5000;

describe.skipIf(skip)('changes made through one node of two', () => {
	let cluster: TestCluster;
	let a: TestServer;
	let b: TestServer;
	let owner: TestClient;
	let community: Community;
	let member: TestClient;
	let memberOnB: TestClient;
	let socketOnB: TestSocket;

	beforeAll(async () => {
		cluster = await startTestCluster(2);
		[a, b] = cluster.nodes as [TestServer, TestServer];
		// The first account is the instance owner.
		owner = await TestClient.signUp(a);
		community = await createCommunity(owner, 'Across nodes');
		member = await TestClient.signUp(b);
		await joinCommunity(owner, member, community.id);
		memberOnB = onNode(member, b);
		socketOnB = await memberOnB.socket();
	});
	afterAll(async () => {
		socketOnB?.close();
		await cluster?.stop();
	});

	const send = (text: string) => socketOnB.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload: encodeMessageBody(text) });
	const sendRaw = (payload: string) => socketOnB.request({ t: 'message.send', channelId: community.generalId, clientId: newClientId(), payload });
	const nameOn = async (node: TestServer) => (await new TestClient(node).api.get<{ name: string }>('/api/instance')).name;

	it('applies an instance setting changed through node A on node B at once, not after its cache time', async () => {
		// Node B has just read the row (its cache is fresh: left alone it would serve it for 5 s).
		expect(await sendRaw('x'.repeat(301))).toMatchObject({ t: 'ack' });
		const before = await nameOn(b);
		const changedAt = Date.now();
		await expectJson(owner.send('PATCH', '/api/admin/settings', { messageMaxBytes: 300, name: 'Hearth across nodes' }), 200);
		await waitUntil(async () => (await sendRaw('x'.repeat(301))).t === 'error', AT_ONCE_MS, 'node B refuses a message over the new limit');
		expect(Date.now() - changedAt).toBeLessThan(CACHE_MS);
		expect(await sendRaw('x'.repeat(301))).toEqual({ t: 'error', id: expect.any(String), code: 'payload_too_large', message: 'Messages can be at most 300 bytes.' });
		expect(before).not.toBe('Hearth across nodes');
		expect(await nameOn(b)).toBe('Hearth across nodes');

		await expectJson(owner.send('PATCH', '/api/admin/settings', { messageMaxBytes: null }), 200);
		await waitUntil(async () => (await sendRaw('x'.repeat(301))).t === 'ack', AT_ONCE_MS, 'node B accepts it again');
	});

	it('applies a setting changed while Redis is away on the other node within the cache time', async () => {
		await nameOn(b);
		await cluster.redis.kill();
		try {
			await waitUntil(async () => (await (await fetch(`${a.url}/health`)).json()).status === 'degraded', 10_000, 'node A sees Redis gone');
			const changedAt = Date.now();
			await expectJson(owner.send('PATCH', '/api/admin/settings', { name: 'Changed during the outage' }), 200);
			await waitUntil(async () => (await nameOn(b)) === 'Changed during the outage', CACHE_MS + 2000, 'node B serves the new name');
			// No notice could travel: the cache time, not the bus, brought it.
			expect(Date.now() - changedAt).toBeLessThanOrEqual(CACHE_MS + 2000);
		} finally {
			await cluster.redis.start();
		}
		for (const node of cluster.nodes) {
			await waitUntil(async () => (await (await fetch(`${node.url}/health`)).json()).status === 'ok', 15_000, 'Redis reachable again');
		}
		// And the notices flow again afterwards.
		await nameOn(b);
		await expectJson(owner.send('PATCH', '/api/admin/settings', { name: 'Back to normal' }), 200);
		await waitUntil(async () => (await nameOn(b)) === 'Back to normal', AT_ONCE_MS, 'node B serves the name changed after the outage at once');
	});

	it('refuses the messages of a member timed out through node A on node B at once, and lets them talk once lifted', async () => {
		const { timedOutUntil } = await owner.api.post<{ timedOutUntil: string }>(`/api/communities/${community.id}/members/${member.user.id}/timeout`, { minutes: 10, reason: 'cool down' });
		const message = `You are timed out in this community until ${timedOutUntil}.`;
		expect(await send('let me talk')).toEqual({ t: 'error', id: expect.any(String), code: 'forbidden', message });
		await expectError(
			memberOnB.send('POST', `/api/channels/${community.generalId}/messages`, { clientId: newClientId(), payload: encodeMessageBody('x') }),
			403,
			'forbidden',
			message
		);
		await owner.api.post(`/api/communities/${community.id}/members/${member.user.id}/timeout`, { minutes: 0 });
		expect(await send('thanks')).toMatchObject({ t: 'ack', result: { duplicate: false } });
	});

	it('drops the community from the open socket on node B of a member banned through node A', async () => {
		const banned = await TestClient.signUp(b);
		await joinCommunity(owner, banned, community.id);
		const socket = await banned.socket();
		await expectJson(owner.send('POST', `/api/communities/${community.id}/bans`, { userId: banned.user.id, reason: 'spam' }), 201);
		expect(await socket.waitFor((f) => f.t === 'directory.changed')).toEqual({ t: 'directory.changed', communityId: community.id, reason: 'community.left' });
		await sendMessage(owner, community.generalId, 'after the ban');
		expect(await socket.collectFor(300, (f) => f.t === 'event')).toEqual([]);
		socket.close();
	});

	it('closes the socket on node B of an account disabled through node A, and refuses its sign-in on node B', async () => {
		const user = await TestClient.signUp(b);
		const socket = await user.socket();
		await expectJson(owner.send('PATCH', `/api/admin/users/${user.user.id}`, { disabled: true, password: PASSWORD }), 200);
		expect((await socket.closed).code).toBe(CloseCode.sessionRevoked);
		await expectError(
			new TestClient(b).send('POST', '/api/auth/sign-in', { username: user.user.username, password: PASSWORD }),
			403,
			'forbidden',
			'This account is disabled. Contact the server administrator.'
		);
	});

	it('gives a permission granted through node A at once on node B, and tells the member’s socket there', async () => {
		const other = await TestClient.signUp(a);
		await joinCommunity(owner, other, community.id);
		const kick = () => memberOnB.send('POST', `/api/communities/${community.id}/members/${other.user.id}/kick`, { reason: 'test' });
		expect((await kick()).status).toBe(403);
		const seen = socketOnB.frames.length;
		const { role } = await owner.api.post<{ role: CustomRoleView }>(`/api/communities/${community.id}/roles`, { name: 'Helpers', permissions: ['kick'] });
		await owner.api.patch(`/api/communities/${community.id}/members/${member.user.id}`, { customRoleId: role.id });
		await socketOnB.waitFor((f) => socketOnB.frames.indexOf(f) >= seen && f.t === 'directory.changed' && f.communityId === community.id && f.reason === 'community.updated');
		await expectJson(kick(), 200);
		// Taken away through node A: refused on node B at once.
		const target = await TestClient.signUp(a);
		await joinCommunity(owner, target, community.id);
		await owner.api.patch(`/api/communities/${community.id}/roles/${role.id}`, { permissions: [] });
		expect((await memberOnB.send('POST', `/api/communities/${community.id}/members/${target.user.id}/kick`, { reason: 'test' })).status).toBe(403);
	});
});
