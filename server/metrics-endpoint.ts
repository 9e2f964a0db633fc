// GET /metrics in Prometheus text format, answered here in the Node entry before SvelteKit: a
// scrape then costs no session lookup, CSRF or rate-limit bookkeeping, is not counted in the HTTP
// metrics it reports, keeps working while the app handler is still loading, and a future
// realtime-only process (no SvelteKit) serves it the same way.
//
// Access: the client IP (trusted-proxy aware, as everywhere) is in METRICS_ALLOWLIST, or the
// request carries `Authorization: Bearer <METRICS_TOKEN>`. With neither configured, metrics are
// off (404 with a message saying how to turn them on): never public by default.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { AppContext } from '#lib/server/context.ts';
import { tokensEqual } from '#lib/server/auth/tokens.ts';
import { addressInList, clientIp } from '#lib/server/client-ip.ts';

export const METRICS_PATH = '/metrics';

type Refusal = { status: number; code: string; message: string; headers?: Record<string, string> };

/** Answers the request when it is for /metrics (returns true), else leaves it alone. */
export function serveMetrics(app: AppContext, req: IncomingMessage, res: ServerResponse): boolean {
	const url = req.url ?? '';
	if (url !== METRICS_PATH && !url.startsWith(`${METRICS_PATH}?`)) return false;
	const refusal = checkAccess(app, req);
	if (refusal) {
		sendJson(res, refusal.status, { error: { code: refusal.code, message: refusal.message } }, refusal.headers);
		return true;
	}
	if (req.method !== 'GET' && req.method !== 'HEAD') {
		sendJson(res, 405, { error: { code: 'method_not_allowed', message: 'Use GET /metrics.' } }, { allow: 'GET, HEAD' });
		return true;
	}
	app.metrics.registry.metrics().then(
		(text) => {
			res.writeHead(200, { 'content-type': app.metrics.registry.contentType, 'cache-control': 'no-store' });
			res.end(req.method === 'HEAD' ? undefined : text);
		},
		() => sendJson(res, 500, { error: { code: 'internal', message: 'Collecting metrics failed.' } })
	);
	return true;
}

function checkAccess(app: AppContext, req: IncomingMessage): Refusal | null {
	const { token, allowlist, hasAllowlist } = app.config.metrics;
	if (!token && !hasAllowlist) {
		return {
			status: 404,
			code: 'not_found',
			message: 'Metrics are off on this server: set METRICS_TOKEN or METRICS_ALLOWLIST to serve /metrics.'
		};
	}
	if (hasAllowlist) {
		const ip = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], app.config.trustedProxies, app.config.hasTrustedProxies);
		if (addressInList(allowlist, ip)) return null;
	}
	if (token) {
		const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
		// Digests have the same length whatever was sent, so the comparison's time says nothing
		// about the token's length or content.
		if (presented && tokensEqual(digest(presented), digest(token))) return null;
		return {
			status: 401,
			code: 'unauthenticated',
			message: 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>".',
			headers: { 'www-authenticate': 'Bearer realm="metrics"' }
		};
	}
	return { status: 403, code: 'forbidden', message: 'Your address is not in METRICS_ALLOWLIST.' };
}

function digest(value: string): string {
	return createHash('sha256').update(value).digest('hex');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
	res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
	res.end(JSON.stringify(body));
}
