// The reverse-proxy pages show the same files the end-to-end test runs, and the test changes nothing
// in them but the placeholders a real deployment replaces too.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CADDY_SITE, NGINX_SITE, renderCaddySite, renderNginxSite } from '../helpers/reverse-proxy.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const nginxSite = readFileSync(NGINX_SITE, 'utf8');
const caddySite = readFileSync(CADDY_SITE, 'utf8');

/** The fenced code blocks of a Markdown page with the given info string. */
function fencedBlocks(page: string, language: string): string[] {
	return [...page.matchAll(new RegExp('^```' + language + '\\n([\\s\\S]*?)^```$', 'gm'))].map((match) => match[1]!);
}

/** The lines the rendering changed, as [documented, tested] pairs. */
function changedLines(documented: string, tested: string): [string, string][] {
	const before = documented.split('\n');
	const after = tested.split('\n');
	expect(after).toHaveLength(before.length);
	return before.flatMap((line, i) => (line === after[i] ? [] : [[line.trim(), after[i]!.trim()] as [string, string]]));
}

const placement = { httpsPort: 40443, httpPort: 40080, upstreamPort: 43000 };

describe('the nginx page', () => {
	it('shows docs/self-hosting/nginx/hearth.conf and the cluster upstream block verbatim', () => {
		const page = readFileSync(`${ROOT}docs/self-hosting/nginx.md`, 'utf8');
		const clusterUpstream = readFileSync(`${ROOT}docs/self-hosting/nginx/hearth-cluster-upstream.conf`, 'utf8');
		expect(fencedBlocks(page, 'nginx')).toEqual([nginxSite, clusterUpstream]);
	});

	it('is tested with only the domain, listening addresses, certificate paths and upstream port replaced', () => {
		const tested = renderNginxSite(nginxSite, { ...placement, certificate: '/tmp/t/cert.pem', key: '/tmp/t/key.pem' });
		expect(changedLines(nginxSite, tested)).toEqual([
			['server 127.0.0.1:3000;', 'server 127.0.0.1:43000;'],
			['listen 80;', 'listen 127.0.0.1:40080;'],
			['listen [::]:80;', 'listen [::1]:40080;'],
			['server_name chat.example.com;', 'server_name [::1];'],
			['listen 443 ssl http2;', 'listen 127.0.0.1:40443 ssl http2;'],
			['listen [::]:443 ssl http2;', 'listen [::1]:40443 ssl http2;'],
			['server_name chat.example.com;', 'server_name [::1];'],
			['ssl_certificate     /etc/letsencrypt/live/chat.example.com/fullchain.pem;', 'ssl_certificate     /tmp/t/cert.pem;'],
			['ssl_certificate_key /etc/letsencrypt/live/chat.example.com/privkey.pem;', 'ssl_certificate_key /tmp/t/key.pem;']
		]);
	});

	it('refuses to run a configuration whose placeholder it cannot find', () => {
		const withoutIpv6 = nginxSite.replace(/^\s*listen \[::\]:443 ssl http2;\n/m, '');
		expect(() => renderNginxSite(withoutIpv6, { ...placement, certificate: 'c', key: 'k' })).toThrow(/no longer contains listen \[::\]:443/);
	});
});

describe('the Caddy page', () => {
	it('shows docs/self-hosting/caddy/Caddyfile verbatim', () => {
		const page = readFileSync(`${ROOT}docs/self-hosting/caddy.md`, 'utf8');
		expect(fencedBlocks(page, 'caddy')).toContain(caddySite);
	});

	it('is tested with only the site address and upstream port replaced', () => {
		expect(changedLines(caddySite, renderCaddySite(caddySite, placement))).toEqual([
			['chat.example.com {', '[::1] {'],
			['reverse_proxy 127.0.0.1:3000', 'reverse_proxy 127.0.0.1:43000']
		]);
	});
});
