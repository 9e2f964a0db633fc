import * as v from 'valibot';
import { invalid } from '#lib/server/errors.ts';
import { endpoint, json, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

const Query = v.pipe(v.string(), v.maxLength(64));

/** Accounts, searched by username or display name (?q=), with last seen and session count. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const parsed = v.safeParse(Query, event.url.searchParams.get('q') ?? '');
	if (!parsed.success) throw invalid('Search for at most 64 characters.');
	return json({ users: await event.locals.app.services.userAdmin.list({ ...user, ip: event.locals.ip }, parsed.output.trim()) });
});
