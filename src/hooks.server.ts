// Every request: request id, client IP, the admin-surface walls, CORS, session (with sliding
// renewal), CSRF defences on state-changing requests, security headers, and one structured log line.
import type { Handle } from '@sveltejs/kit/hooks';
import { getAppContext } from '#lib/server/app-context.ts';
import { adminRefusal, isAdminSurface } from '#lib/server/admin-guard.ts';
import { csrfCookieName, sessionCookieName } from '#lib/server/auth/cookies.ts';
import { csrfBinding, csrfTokenValid } from '#lib/server/auth/csrf.ts';
import { clearSessionCookie, setSessionCookie } from '#lib/server/auth/session-cookie.ts';
import { tokensEqual } from '#lib/server/auth/tokens.ts';
import { reachableWhileBlocked, standingOf, TWO_FACTOR_REQUIRED_MESSAGE } from '#lib/server/auth/two-factor-policy.ts';
import { ErrorCode } from '#lib/shared/protocol/codes.ts';
import { clientIp } from '#lib/server/client-ip.ts';
import { applyCorsHeaders, isPreflight, preflightResponse } from '#lib/server/cors.ts';
import { errorResponse } from '#lib/server/http.ts';
import { safeError } from '#lib/server/logger.ts';
import { requestIdFrom } from '#lib/server/request-id.ts';
import { applySecurityHeaders } from '#lib/server/security-headers.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
// Probes hit these every few seconds; logging each would drown the log.
const QUIET_PATHS = new Set(['/health', '/live', '/ready']);

export const handle: Handle = async ({ event, resolve }) => {
	const started = performance.now();
	const app = getAppContext();
	event.locals.app = app;
	event.locals.requestId = requestIdFrom(event.request.headers.get('x-request-id'));
	const peerAddress = event.platform?.req.socket.remoteAddress ?? event.getClientAddress();
	event.locals.ip = clientIp(
		peerAddress,
		event.request.headers.get('x-forwarded-for') ?? undefined,
		app.config.trustedProxies,
		app.config.hasTrustedProxies
	);
	// Object.assign instead of two assignments: TypeScript would otherwise narrow `user` to null
	// for the rest of this function, though authentication below sets it.
	Object.assign(event.locals, { user: null, session: null });

	const isApi = event.url.pathname.startsWith('/api/');
	let response: Response;
	try {
		const adminWall = isAdminSurface(event.url.pathname)
			? adminRefusal(app.config, event.locals.ip, peerAddress, event.request.headers)
			: null;
		if (adminWall) response = errorResponse(403, 'admin_network', adminWall);
		else if (isApi && isPreflight(event.request)) response = preflightResponse(event.request, app.origins);
		else response = (await app.httpRateLimiter.refuse(event)) ?? (await guard(event)) ?? (await authenticateAndResolve(event, resolve));
	} catch (error) {
		app.log.error({ err: safeError(error), requestId: event.locals.requestId }, 'request failed');
		response = errorResponse(500, 'internal', 'Something went wrong on the server.');
	}

	response.headers.set('x-request-id', event.locals.requestId);
	applySecurityHeaders(response.headers, app.config);
	if (isApi) applyCorsHeaders(event.request, response.headers, app.origins);
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
		// Signed double-submit: the header must repeat the value of our SameSite=Strict, HttpOnly
		// cookie, which only a page that fetched /api/csrf from this origin can know, and the value
		// must carry our signature for this session (auth/csrf.ts).
		const cookie = event.cookies.get(csrfCookieName(app.config));
		const header = event.request.headers.get('x-csrf-token');
		const binding = csrfBinding(event.cookies.get(sessionCookieName(app.config)));
		if (!cookie || !header || !tokensEqual(cookie, header) || !csrfTokenValid(app.config.appSecret, binding, header)) {
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
			// The instance requires a second factor this account still lacks, past its grace period.
			if (
				event.url.pathname.startsWith('/api/') &&
				standingOf(result.user, app.services.instance.twoFactorPolicy()).blocked &&
				!reachableWhileBlocked(event.request.method, event.url.pathname)
			) {
				return errorResponse(403, ErrorCode.twoFactorRequired, TWO_FACTOR_REQUIRED_MESSAGE);
			}
		} else {
			clearSessionCookie(event.cookies, app.config);
		}
	}
	return resolve(event);
}
