import { endpoint } from '#lib/server/http.ts';
import { imageResponse } from '#lib/server/image-response.ts';
import type { RequestHandler } from './$types';

/** The instance icon, public (the sign-in page shows it). 404 when none is set. */
export const GET: RequestHandler = endpoint(async (event) => imageResponse(event, await event.locals.app.services.instance.icon(), 'public'));
