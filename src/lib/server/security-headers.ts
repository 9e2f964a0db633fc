// Response headers that harden every response. The page Content-Security-Policy comes from
// SvelteKit's CSP support (vite.config.ts), which adds a nonce per page; responses without one
// (JSON, health) get a policy that allows nothing, since nothing in them should ever run.
import type { Config } from './config/config.ts';

// Calls need the camera, microphone and screen capture on our own origin; nothing else is used.
export const PERMISSIONS_POLICY = [
	'camera=(self)',
	'microphone=(self)',
	'display-capture=(self)',
	'fullscreen=(self)',
	'autoplay=(self)',
	'geolocation=()',
	'payment=()',
	'usb=()',
	'serial=()',
	'midi=()',
	'magnetometer=()',
	'gyroscope=()',
	'accelerometer=()'
].join(', ');

// Two years, the preload list's minimum. Only sent in production, where ORIGIN must be https.
const HSTS = 'max-age=63072000; includeSubDomains';

export function applySecurityHeaders(headers: Headers, config: Pick<Config, 'env'>): void {
	headers.set('x-content-type-options', 'nosniff');
	headers.set('referrer-policy', 'same-origin');
	headers.set('x-frame-options', 'DENY');
	headers.set('permissions-policy', PERMISSIONS_POLICY);
	headers.set('cross-origin-opener-policy', 'same-origin');
	headers.set('cross-origin-resource-policy', 'same-origin');
	if (!headers.has('content-security-policy')) {
		headers.set('content-security-policy', "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
	}
	if (config.env === 'production') headers.set('strict-transport-security', HSTS);
}
