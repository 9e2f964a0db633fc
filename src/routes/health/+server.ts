// Health report for operators and monitors: overall status, version, database reachability,
// realtime connection counts, whether calls are available, and in cluster mode this node's id, the
// peers it sees and whether Redis answers. No secrets, no user data.
import { json } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

// Before the call workers started (or when this process runs no realtime server), said plainly
// rather than omitted, so a monitor does not read "no SFU workers" as "SFU workers down".
const CALLS_NOT_STARTED = { available: false, reason: 'the call service has not started in this process' } as const;

export const GET: RequestHandler = async ({ locals }) => {
	const app = locals.app;
	const databaseOk = await app.database.ping();
	const cluster = app.cluster?.status() ?? null;
	const serving = databaseOk && !app.state.shuttingDown;
	const status = serving && (cluster?.reachable ?? true) ? 'ok' : 'degraded';
	return json(
		{
			status,
			version: app.version,
			uptimeSeconds: Math.round((Date.now() - app.startedAt.getTime()) / 1000),
			database: { ok: databaseOk, engine: app.database.kind },
			realtime: { connections: app.realtime?.connections() ?? 0, onlineUsers: app.realtime?.onlineUsers() ?? 0 },
			calls: app.calls?.status() ?? CALLS_NOT_STARTED,
			cluster: cluster
				? { mode: 'cluster', nodeId: cluster.nodeId, engine: cluster.engine, reachable: cluster.reachable, reason: cluster.reason, peers: cluster.peers, outbox: cluster.outbox }
				: { mode: 'single' }
		},
		// Redis away is degraded but still 200: this node keeps persisting and serving its own
		// sockets, and a load balancer taking every node out at once would turn a blip into an outage.
		serving ? 200 : 503
	);
};
