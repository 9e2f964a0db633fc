// Every request: request id, client IP, session (with sliding renewal), CSRF defences on
// state-changing requests, baseline security headers, and one structured log line.
import type { Handle } from '@sveltejs/kit/hooks';
import { getAppContext } from '#lib/server/app-context.ts';
import { csrfCookieName, sessionCookieName } from '#lib/server/auth/cookies.ts';
import { clearSessionCookie, setSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { tokensEqual } from '#lib/server/auth/tokens.ts';
import { clientIp } from '#lib/server/client-ip.ts';
import { errorResponse } from '#lib/server/http.ts';
import { safeError } from '#lib/server/logger.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
// Probes hit these every few seconds; logging each would drown the log.
const QUIET_PATHS = new Set(['/health', '/live', '/ready']);

export const handle: Handle = async ({ event, resolve }) => {
	const started = performance.now();
	const app = getAppContext();
	const incomingId = event.request.headers.get('x-request-id');
	event.locals.app = app;
	event.locals.requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : crypto.randomUUID();
	event.locals.ip = clientIp(
		event.platform?.req.socket.remoteAddress ?? event.getClientAddress(),
		event.request.headers.get('x-forwarded-for') ?? undefined,
		app.config.trustedProxies,
		app.config.hasTrustedProxies
	);
	// Object.assign instead of two assignments: TypeScript would otherwise narrow `user` to null
	// for the rest of this function, though authentication below sets it.
	Object.assign(event.locals, { user: null, session: null });

	let response: Response;
	try {
		response = app.httpRateLimiter.refuse(event) ?? (await guard(event)) ?? (await authenticateAndResolve(event, resolve));
	} catch (error) {
		app.log.error({ err: safeError(error), requestId: event.locals.requestId }, 'request failed');
		response = errorResponse(500, 'internal', 'Something went wrong on the server.');
	}

	response.headers.set('x-request-id', event.locals.requestId);
	response.headers.set('x-content-type-options', 'nosniff');
	response.headers.set('referrer-policy', 'same-origin');
	response.headers.set('x-frame-options', 'DENY');
	app.metrics.httpRequest(event.request.method, event.route.id, response.status, performance.now() - started);

	if (!QUIET_PATHS.has(event.url.pathname)) {
		app.log.info(
			{
				requestId: event.locals.requestId,
				method: event.request.method,
				// The path only: query strings can carry invite codes.
				path: event.route.id ?? event.url.pathname.slice(0, 200),
				status: response.status,
				ms: Math.round(performance.now() - started),
				user: event.locals.user?.id ?? null
			},
			'request'
		);
	}
	return response;
};

/** Rejects cross-site state-changing requests before any work is done. */
async function guard(event: Parameters<Handle>[0]['event']): Promise<Response | null> {
	if (SAFE_METHODS.has(event.request.method)) return null;
	const app = event.locals.app;
	const origin = event.request.headers.get('origin');
	if (!origin || !app.origins.has(origin)) {
		return errorResponse(403, 'forbidden', 'Cross-site request refused: the Origin header is missing or not allowed.');
	}
	if (event.url.pathname.startsWith('/api/')) {
		// Double-submit: the header must repeat the value of our SameSite=Strict, HttpOnly cookie,
		// which only a page that fetched /api/csrf from this origin can know.
		const cookie = event.cookies.get(csrfCookieName(app.config));
		const header = event.request.headers.get('x-csrf-token');
		if (!cookie || !header || !tokensEqual(cookie, header)) {
			return errorResponse(403, 'csrf', 'Missing or invalid CSRF token: fetch /api/csrf and send it as X-CSRF-Token.');
		}
	}
	return null;
}

async function authenticateAndResolve(event: Parameters<Handle>[0]['event'], resolve: Parameters<Handle>[0]['resolve']) {
	const app = event.locals.app;
	const token = event.cookies.get(sessionCookieName(app.config));
	if (token) {
		const result = await app.services.accounts.validateSession(token);
		if (result) {
			event.locals.user = result.user;
			event.locals.session = result.session;
			if (result.renewed) setSessionCookie(event.cookies, app.config, token, result.session.expiresAt);
		} else {
			clearSessionCookie(event.cookies, app.config);
		}
	}
	return resolve(event);
}
