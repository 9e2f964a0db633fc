// Readiness: send traffic here only when started, not shutting down, and the database answers.
import { json } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async ({ locals }) => {
	const app = locals.app;
	const ready = app.state.ready && !app.state.shuttingDown && (await app.database.ping());
	return json({ status: ready ? 'ready' : 'not_ready' }, ready ? 200 : 503);
};
