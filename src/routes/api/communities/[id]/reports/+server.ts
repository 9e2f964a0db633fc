import { invalid } from '#lib/server/errors.ts';
import { endpoint, idParam, json, requireUser } from '#lib/server/http.ts';
import type { ReportStatus } from '#lib/server/services/reports.ts';
import type { RequestHandler } from './$types';

const STATUSES: ReportStatus[] = ['open', 'resolved', 'dismissed'];

/** The report queue (?status=open|resolved|dismissed); needs "delete others' messages". */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Community');
	const raw = event.url.searchParams.get('status') || undefined;
	if (raw !== undefined && !STATUSES.includes(raw as ReportStatus)) throw invalid('status is open, resolved or dismissed.');
	return json({ reports: await event.locals.app.services.reports.list(user.id, id, raw as ReportStatus | undefined) });
});
