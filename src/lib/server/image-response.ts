// Serving a stored image (the instance icon, avatars, community emoji): an ETag, caching that
// suits a versioned URL, a 304 for a matching If-None-Match, and headers that keep the bytes an
// image (never sniffed as anything else; opened on its own, it runs nothing and loads nothing).
import type { RequestEvent } from '@sveltejs/kit';
import type { RasterImageType } from './image-type.ts';

export type StoredImage = { contentType: RasterImageType | 'image/gif'; bytes: Uint8Array; etag: string };

/**
 * `scope`: `public` for what anyone may fetch (the instance icon), `private` for images only some
 * signed-in people may see (a shared cache must not hand them to others).
 */
export function imageResponse(event: RequestEvent, image: StoredImage, scope: 'public' | 'private'): Response {
	const etag = `"${image.etag}"`;
	// A versioned URL (?v=<etag>, what the app links to) never changes content: browsers keep it a
	// year. Any other request revalidates with the ETag each time.
	const versioned = event.url.searchParams.get('v') === image.etag;
	const headers: Record<string, string> = {
		etag,
		'cache-control': versioned ? `${scope}, max-age=31536000, immutable` : `${scope}, no-cache`,
		'x-content-type-options': 'nosniff',
		'content-security-policy': "default-src 'none'; sandbox"
	};
	if (event.request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
	return new Response(Buffer.from(image.bytes), { headers: { ...headers, 'content-type': image.contentType, 'content-length': String(image.bytes.length) } });
}
