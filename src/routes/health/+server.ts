// Health report for operators and monitors: overall status, version, database reachability and
// realtime connection counts. No secrets, no user data.
import { json } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

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
			realtime: { connections: app.realtime?.connections() ?? 0, onlineUsers: app.realtime?.onlineUsers() ?? 0 }
		},
		status === 'ok' ? 200 : 503
	);
};
