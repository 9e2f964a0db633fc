import { endpoint, idParam, requireUser } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

/**
 * The ciphertext of an attachment, for readers of its channel (others 404). Served as an opaque
 * download: never sniffed or rendered by the browser, cached only privately.
 */
export const GET: RequestHandler = endpoint(async (event) => {
	const user = requireUser(event);
	const id = idParam(event, 'id', 'Attachment');
	const { data, size } = await event.locals.app.services.attachments.download(user.id, id);
	return new Response(data as Uint8Array<ArrayBuffer>, {
		headers: {
			'content-type': 'application/octet-stream',
			'content-length': String(size),
			'x-content-type-options': 'nosniff',
			'content-disposition': `attachment; filename="${id}.bin"`,
			// Immutable ciphertext, but readable only by the channel's readers: never in shared caches.
			'cache-control': 'private, max-age=3600'
		}
	});
});
