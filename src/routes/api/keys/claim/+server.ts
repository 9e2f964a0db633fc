import { ClaimRequest } from '#lib/shared/e2ee.ts';
import { endpoint, json, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/**
 * Prekey bundles of devices the caller may see, each consuming one one-time prekey (exactly one
 * claimer gets each). Unknown, removed or invisible devices are left out of the answer.
 */
export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, ClaimRequest);
	return json({ bundles: await event.locals.app.services.devices.claim(user.id, body.devices) });
});
