// Extra walls around the instance admin surface (/admin pages and /api/admin), for self-hosters who
// want them: an IP/CIDR allowlist, and a client certificate verified by the reverse proxy. Both sit
// in front of the role checks every admin endpoint makes anyway; neither replaces them.
import type { Config } from './config/config.ts';
import { addressInList } from './client-ip.ts';

export function isAdminSurface(pathname: string): boolean {
	return pathname === '/admin' || pathname.startsWith('/admin/') || pathname.startsWith('/api/admin/');
}

/**
 * Why this request may not reach the admin surface, or null when it may.
 * @param clientIp the client's address as resolved through TRUSTED_PROXIES
 * @param peerAddress the TCP peer: the proxy when there is one
 */
export function adminRefusal(config: Config, clientIp: string, peerAddress: string, headers: Headers): string | null {
	const { allowlist, clientCertHeader } = config.admin;
	if (allowlist && !addressInList(allowlist, clientIp)) {
		return 'The admin area is not reachable from your network address (ADMIN_ALLOWLIST).';
	}
	if (clientCertHeader) {
		// Only a trusted proxy's word counts: a client talking to us directly could send the header itself.
		const fromProxy = config.hasTrustedProxies && addressInList(config.trustedProxies, peerAddress);
		if (!fromProxy || headers.get(clientCertHeader)?.toUpperCase() !== 'SUCCESS') {
			return 'The admin area needs a verified client certificate (ADMIN_CLIENT_CERT_HEADER).';
		}
	}
	return null;
}
