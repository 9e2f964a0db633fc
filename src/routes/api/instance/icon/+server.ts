import { endpoint } from '#lib/server/http.ts';
import type { RequestHandler } from './$types';

// A versioned URL (?v=<etag>, what the app links to) never changes content: browsers keep it a
// year. Any other request revalidates with the ETag each time.
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'public, no-cache';

/** The instance icon, public (the sign-in page shows it). 404 when none is set. */
export const GET: RequestHandler = endpoint(async (event) => {
	const icon = await event.locals.app.services.instance.icon();
	const etag = `"${icon.etag}"`;
	const headers: Record<string, string> = {
		etag,
		'cache-control': event.url.searchParams.get('v') === icon.etag ? IMMUTABLE : REVALIDATE,
		'x-content-type-options': 'nosniff',
		// Opened on its own, the image runs nothing and loads nothing.
		'content-security-policy': "default-src 'none'; sandbox"
	};
	if (event.request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
	return new Response(Buffer.from(icon.bytes), { headers: { ...headers, 'content-type': icon.contentType, 'content-length': String(icon.bytes.length) } });
});
