import { PushSubscriptionInput } from '#lib/shared/push.ts';
import { endpoint, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/** Registers this browser's push subscription (one per encryption device; a new one replaces it). */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, PushSubscriptionInput, 4096);
	await event.locals.app.services.push.subscribe(user.id, event.locals.session?.deviceId ?? null, body);
	return new Response(null, { status: 204 });
});

/** Stops pushes to this browser. */
export const DELETE: RequestHandler = endpoint(async (event) => {
	requireUser(event);
	await event.locals.app.services.push.unsubscribe(event.locals.session?.deviceId ?? null);
	return new Response(null, { status: 204 });
});
