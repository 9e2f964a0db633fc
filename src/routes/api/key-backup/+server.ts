import { PutKeyBackupRequest } from '#lib/shared/e2ee.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** The user's key backup (wrapped key, Argon2id parameters, entry count); 404 when there is none. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	return json({ backup: await event.locals.app.services.keyBackups.get(user.id) });
});

/** Creates, re-wraps (same version) or resets (higher version: entries deleted) the key backup. */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, PutKeyBackupRequest);
	return json({ backup: await event.locals.app.services.keyBackups.put(user.id, body) });
});

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	await event.locals.app.services.keyBackups.delete(user.id);
	return json({ ok: true });
});
