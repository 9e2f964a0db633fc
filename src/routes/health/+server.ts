// Health report for operators and monitors: overall status, version, database reachability,
// realtime connection counts and whether calls are available. No secrets, no user data.
import { json } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

// Before the call workers started (or when this process runs no realtime server), said plainly
// rather than omitted, so a monitor does not read "no SFU workers" as "SFU workers down".
const CALLS_NOT_STARTED = { available: false, reason: 'the call service has not started in this process' } as const;

export const GET: RequestHandler = async ({ locals }) => {
	const app = locals.app;
	const databaseOk = await app.database.ping();
	const status = databaseOk && !app.state.shuttingDown ? 'ok' : 'degraded';
	return json(
		{
			status,
			version: app.version,
			uptimeSeconds: Math.round((Date.now() - app.startedAt.getTime()) / 1000),
			database: { ok: databaseOk, engine: app.database.kind },
			realtime: { connections: app.realtime?.connections() ?? 0, onlineUsers: app.realtime?.onlineUsers() ?? 0 },
			calls: app.calls?.status() ?? CALLS_NOT_STARTED
		},
		status === 'ok' ? 200 : 503
	);
};
