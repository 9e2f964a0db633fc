// Cross-origin access to the REST API, for clients served from another configured origin
// (ALLOWED_ORIGINS). Only configured origins get CORS headers, always echoed exactly, never "*";
// any other origin gets none, so the browser keeps its responses from the calling page.
const ALLOWED_METHODS = 'GET, POST, PUT, PATCH, DELETE';
const ALLOWED_HEADERS = 'content-type, x-csrf-token, x-request-id';

export function isPreflight(request: Request): boolean {
	return request.method === 'OPTIONS' && request.headers.has('access-control-request-method');
}

/** The answer to a CORS preflight for /api: 204 with permissions for a configured origin, 403 otherwise. */
export function preflightResponse(request: Request, origins: Set<string>): Response {
	const origin = request.headers.get('origin');
	if (!origin || !origins.has(origin)) {
		return new Response(null, { status: 403, headers: { vary: 'Origin' } });
	}
	return new Response(null, {
		status: 204,
		headers: {
			'access-control-allow-origin': origin,
			'access-control-allow-credentials': 'true',
			'access-control-allow-methods': ALLOWED_METHODS,
			'access-control-allow-headers': ALLOWED_HEADERS,
			'access-control-max-age': '600',
			vary: 'Origin'
		}
	});
}

export function applyCorsHeaders(request: Request, headers: Headers, origins: Set<string>): void {
	headers.append('vary', 'Origin');
	const origin = request.headers.get('origin');
	if (!origin || !origins.has(origin)) return;
	headers.set('access-control-allow-origin', origin);
	headers.set('access-control-allow-credentials', 'true');
	headers.set('access-control-expose-headers', 'x-request-id, retry-after');
}
