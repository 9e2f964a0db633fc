import { PutKeyBackupEntriesRequest } from '#lib/shared/e2ee.ts';
import { invalid } from '#lib/server/errors.ts';
import { endpoint, intQuery, json, readBody, requireUser } from '#lib/server/http.ts';
import { KEY_BACKUP_PAGE_DEFAULT, KEY_BACKUP_PAGE_MAX } from '#lib/server/services/key-backups.ts';
import type { RequestHandler } from './$types';

// KEY_BACKUP_BATCH_MAX entries of a few hundred bytes each, with room for larger ones.
const ENTRIES_REQUEST_MAX_BYTES = 4 * 1024 * 1024;

/** A page of entries with id > after (in byte order); `next` is the cursor of the next page. */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const after = event.url.searchParams.get('after') ?? '';
	if (after !== '' && !/^[A-Za-z0-9_:.-]{1,128}$/.test(after)) throw invalid('after must be an entry id.');
	const limit = intQuery(event, 'limit', 1, KEY_BACKUP_PAGE_MAX) ?? KEY_BACKUP_PAGE_DEFAULT;
	return json(await event.locals.app.services.keyBackups.entries(user.id, after, limit));
});

/** Adds or replaces entries of the current backup version (409 when the backup was reset). */
export const PUT: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const body = await readBody(event, PutKeyBackupEntriesRequest, ENTRIES_REQUEST_MAX_BYTES);
	return json(await event.locals.app.services.keyBackups.putEntries(user.id, body));
});
