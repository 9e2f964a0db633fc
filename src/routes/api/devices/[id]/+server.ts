import * as v from 'valibot';
import { DeviceName } from '#lib/shared/e2ee.ts';
import { clearSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { endpoint, idParam, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Patch = v.strictObject({ name: DeviceName });

/** Renames one of the user's own devices. */
export const PATCH: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Device');
	const body = await readBody(event, Patch);
	return json({ device: await event.locals.app.services.devices.rename(user.id, id, body.name, event.locals.session?.deviceId ?? null) });
});

/**
 * Removes one of the user's own devices: its keys and queued messages are deleted, its sessions
 * signed out (sockets closed), and contacts told (devices.changed). Removing this browser's own
 * device signs it out too.
 */
export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Device');
	await event.locals.app.services.devices.remove(user.id, id);
	if (id === event.locals.session?.deviceId) clearSessionCookie(event.cookies, event.locals.app.config);
	return json({ ok: true });
});
