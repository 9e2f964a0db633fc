// The client's IP address. X-Forwarded-For is believed only when the TCP peer is a configured
// trusted proxy; then the right-most address that is not itself a trusted proxy is the client
// (anything left of it could have been written by the client).
import type { BlockList } from 'node:net';
import { isIP } from 'node:net';

function normalise(address: string): string {
	// IPv4 clients on a dual-stack socket appear as ::ffff:1.2.3.4.
	return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** Whether an address (IPv4, IPv6 or IPv4-mapped IPv6) is in a list of IPs and CIDRs. */
export function addressInList(list: BlockList, address: string): boolean {
	address = normalise(address);
	const family = isIP(address);
	if (family === 0) return false;
	return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

export function clientIp(
	remoteAddress: string | undefined,
	forwardedFor: string | string[] | undefined,
	trustedProxies: BlockList,
	hasTrustedProxies: boolean
): string {
	const peer = normalise(remoteAddress ?? '');
	if (!hasTrustedProxies || !peer || !addressInList(trustedProxies, peer)) return peer || 'unknown';
	const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
	const hops = header
		.split(',')
		.map((hop) => normalise(hop.trim()))
		.filter((hop) => isIP(hop) !== 0);
	for (let i = hops.length - 1; i >= 0; i -= 1) {
		if (!addressInList(trustedProxies, hops[i]!)) return hops[i]!;
	}
	return hops[0] ?? peer;
}
