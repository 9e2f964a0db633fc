import * as v from 'valibot';
import { NOTIFICATION_LEVELS } from '#lib/shared/push.ts';
import { endpoint, idParam, readBody, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Body = v.strictObject({ level: v.nullable(v.picklist(NOTIFICATION_LEVELS, `level must be one of ${NOTIFICATION_LEVELS.join(', ')}, or null.`)) });

/** What a community or channel notifies about for this account (null: back to the default). */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const targetId = idParam(event, 'targetId', 'Community or channel');
	const { level } = await readBody(event, Body);
	await event.locals.app.services.push.setLevel(user.id, targetId, level);
	return new Response(null, { status: 204 });
});
