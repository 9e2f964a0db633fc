import { InviteCode } from '#lib/shared/validation.ts';
import * as v from 'valibot';
import { notFound } from '#lib/server/errors.ts';
import { endpoint, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

function code(raw: string): string {
	const result = v.safeParse(InviteCode, raw);
	if (!result.success) throw notFound('Invite');
	return result.output;
}

/** Public preview: what the invite leads to, so the landing page can say it before sign-in. */
export const GET: RequestHandler = endpoint(async (event) => json(await event.locals.app.services.invites.preview(code(event.params.code))));

export const DELETE: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	await event.locals.app.services.invites.revoke(user, code(event.params.code));
	return json({ ok: true });
});
