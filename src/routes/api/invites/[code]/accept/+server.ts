import { InviteCode } from '#lib/shared/validation.ts';
import * as v from 'valibot';
import { notFound } from '#lib/server/errors.ts';
import { endpoint, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const result = v.safeParse(InviteCode, event.params.code);
	if (!result.success) throw notFound('Invite');
	return json(await event.locals.app.services.invites.accept(user.id, result.output));
});
