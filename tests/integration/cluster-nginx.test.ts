// Cluster mode behind the documented nginx configuration: docs/self-hosting/nginx/hearth.conf with
// its upstream block replaced by docs/self-hosting/nginx/hearth-cluster-upstream.conf, in front of
// three nodes. No sticky sessions: successive requests and successive /ws connections of one
// client land on different nodes, and a message sent on one of those sockets reaches the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerFrame } from '#lib/shared/protocol/frames.ts';
import { encodeMessageBody } from '#lib/shared/message-body.ts';
import { TestClient } from '../helpers/clients.ts';
import { createCommunity, newClientId } from '../helpers/fixtures.ts';
import { BROWSER_HOST, get, nginxClusterSite, proxyBinary, skipReason, startNginx, type RunningProxy } from '../helpers/reverse-proxy.ts';
import { CLUSTER_ORIGIN, startTestCluster, type TestCluster } from '../helpers/test-cluster.ts';
import { clusterUnavailableReason } from '../helpers/test-redis.ts';

const skip = clusterUnavailableReason() ?? (proxyBinary('nginx') ? null : skipReason('nginx'));

type Socket = { ws: WebSocket; frames: ServerFrame[]; waitFor(match: (f: ServerFrame) => boolean): Promise<ServerFrame> };

/** A /ws connection through nginx, as a browser on the cluster's origin would open it. */
async function openSocket(proxy: RunningProxy, cookie: string): Promise<Socket> {
	const ws = new WebSocket(`wss://[${BROWSER_HOST}]:${proxy.httpsPort}/ws`, { headers: { cookie, origin: CLUSTER_ORIGIN }, rejectUnauthorized: false });
	const frames: ServerFrame[] = [];
	const waiters = new Set<() => void>();
	ws.on('message', (data) => {
		frames.push(JSON.parse(String(data)) as ServerFrame);
		for (const wake of [...waiters]) wake();
	});
	const waitFor = (match: (f: ServerFrame) => boolean) =>
		new Promise<ServerFrame>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no matching frame; got ${frames.map((f) => f.t).join(', ')}`)), 10_000);
			const check = () => {
				const found = frames.find(match);
				if (!found) return;
				clearTimeout(timer);
				waiters.delete(check);
				resolve(found);
			};
			waiters.add(check);
			check();
		});
	await waitFor((f) => f.t === 'ready');
	return { ws, frames, waitFor };
}

describe.skipIf(skip)('three nodes behind the documented nginx configuration', () => {
	let cluster: TestCluster;
	let proxy: RunningProxy;
	beforeAll(async () => {
		cluster = await startTestCluster(3);
		proxy = await startNginx({ upstreamPort: cluster.nodes[0]!.port, source: nginxClusterSite(cluster.nodes.map((node) => node.port)) });
	});
	afterAll(async () => {
		await proxy?.stop();
		await cluster?.stop();
	});

	/** The node whose log has the connection (each node logs its own connections' ids). */
	const nodeOfConnection = (connectionId: string) => cluster.nodes.findIndex((node) => node.logs.some((line) => line.includes('"ws connected"') && line.includes(`"conn":"${connectionId}"`)));

	it('sends successive requests of one client to different nodes', async () => {
		const seen: string[] = [];
		for (let i = 0; i < 6; i += 1) {
			const response = await get(proxy.httpsPort, '/health');
			expect(response.status).toBe(200);
			seen.push((JSON.parse(response.body) as { cluster: { nodeId: string } }).cluster.nodeId);
		}
		expect(new Set(seen)).toEqual(new Set(['node-a', 'node-b', 'node-c']));
		for (let i = 1; i < seen.length; i += 1) expect(seen[i]).not.toBe(seen[i - 1]);
	});

	it('lands successive /ws connections of one person on different nodes, and their events reach every one of them', async () => {
		const person = await TestClient.signUp(cluster.nodes[0]!);
		const community = await createCommunity(person, 'Behind nginx');
		const cookie = person.jar.header();
		const sockets: Socket[] = [];
		for (let i = 0; i < 3; i += 1) sockets.push(await openSocket(proxy, cookie));
		const nodes = sockets.map((socket) => {
			const ready = socket.frames.find((f) => f.t === 'ready') as Extract<ServerFrame, { t: 'ready' }>;
			return nodeOfConnection(ready.connectionId);
		});
		expect(nodes.every((node) => node >= 0)).toBe(true);
		expect(new Set(nodes).size).toBe(3);

		const clientId = newClientId();
		sockets[0]!.ws.send(JSON.stringify({ t: 'message.send', id: 'm1', channelId: community.generalId, clientId, payload: encodeMessageBody('through nginx') }));
		expect(await sockets[0]!.waitFor((f) => f.t === 'ack' && f.id === 'm1')).toMatchObject({ t: 'ack' });
		for (const socket of sockets.slice(1)) {
			const event = await socket.waitFor((f) => f.t === 'event' && f.channelId === community.generalId && f.event.type === 'message.created');
			expect(event).toMatchObject({ event: { type: 'message.created' } });
		}
		for (const socket of sockets) socket.ws.close();
	});
});
