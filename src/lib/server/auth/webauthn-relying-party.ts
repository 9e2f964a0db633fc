// Who the passkeys belong to (the WebAuthn "relying party"): the host of ORIGIN, and the allowed
// origins (ORIGIN, ALLOWED_ORIGINS) that browsers may use them from. A browser uses a passkey only
// on its relying party's host or a subdomain of it, so allowed origins on other hosts are left out,
// as are IP addresses (browsers refuse WebAuthn there: open the app as localhost in development).
import { isIP } from 'node:net';

export type RelyingParty = { id: string; origins: string[] };

/** `publicOrigin`: ORIGIN, or the app's own first origin when it is not set (development, tests). */
export function relyingParty(publicOrigin: string | undefined, allowed: Iterable<string>): RelyingParty | null {
	const all = [...allowed];
	const home = publicOrigin ?? all.find((origin) => isIP(new URL(origin).hostname.replace(/^\[|\]$/g, '')) === 0);
	if (!home) return null;
	const id = new URL(home).hostname;
	if (isIP(id.replace(/^\[|\]$/g, '')) !== 0) return null;
	const origins = all.filter((origin) => {
		const host = new URL(origin).hostname;
		return host === id || host.endsWith(`.${id}`);
	});
	return origins.length > 0 ? { id, origins } : null;
}
