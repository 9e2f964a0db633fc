// Runs the reverse-proxy configurations published in docs/self-hosting/ in front of a test server:
// nginx and Caddy as unprivileged-style child processes (pid, logs, temp files and certificates in a
// temporary folder, loopback ports only). The documented files are used as they are; only the
// placeholders a real deployment also replaces (domain, ports, certificate paths) are swapped, and
// each swap must find its placeholder, so a change to the docs cannot quietly bypass the test.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
export const NGINX_SITE = join(ROOT, 'docs/self-hosting/nginx/hearth.conf');
export const CADDY_SITE = join(ROOT, 'docs/self-hosting/caddy/Caddyfile');

/** The placeholders the documented configurations use. */
const DOCUMENTED = { domain: 'chat.example.com', upstream: '127.0.0.1:3000', httpsPort: 443, httpPort: 80 } as const;

/**
 * The address browsers reach the proxies on. IPv6 loopback, while the proxies reach Hearth over IPv4
 * loopback: the client address Hearth records (::1) then differs from the TCP peer it sees
 * (127.0.0.1), so a test can tell X-Forwarded-For was honoured.
 */
export const BROWSER_HOST = '::1';

export type ProxyKind = 'nginx' | 'caddy';

export type RunningProxy = {
	kind: ProxyKind;
	/** The public origin, e.g. https://[::1]:40123 (what Hearth's ORIGIN is set to). */
	origin: string;
	httpsPort: number;
	httpPort: number;
	/** The configuration the proxy runs, after substitution (for failure messages). */
	config: string;
	output(): string;
	stop(): Promise<void>;
};

/** The proxy's binary, or null with nothing found (then its tests are skipped with a reason). */
export function proxyBinary(kind: ProxyKind): string | null {
	const override = kind === 'nginx' ? process.env.HEARTH_NGINX : process.env.HEARTH_CADDY;
	if (override) return existsSync(override) ? override : null;
	// nginx lives in /usr/sbin, which an unprivileged user's PATH often lacks.
	const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin'];
	for (const dir of dirs) {
		if (dir && existsSync(join(dir, kind))) return join(dir, kind);
	}
	return null;
}

export function skipReason(kind: ProxyKind): string {
	return `${kind} is not installed: apt-get install ${kind} (scripts/test-all.sh installs it when it runs as root or with sudo), or set HEARTH_${kind.toUpperCase()} to its binary`;
}

/** A TCP port free on both loopback addresses. */
export async function freeLoopbackPort(): Promise<number> {
	for (let attempt = 0; attempt < 20; attempt += 1) {
		const port = await listenOnce('::1', 0);
		if (await listenOnce('127.0.0.1', port).then(() => true, () => false)) return port;
	}
	throw new Error('no port free on both 127.0.0.1 and ::1');
}

function listenOnce(host: string, port: number): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once('error', reject);
		server.listen({ host, port, exclusive: true }, () => {
			const address = server.address();
			server.close(() => resolve(typeof address === 'object' && address ? address.port : port));
		});
	});
}

/** Replaces every occurrence of `from`, insisting there is at least one. */
function swap(text: string, from: string | RegExp, to: string, what: string, file: string): string {
	const pattern = typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : from;
	if (!pattern.test(text)) throw new Error(`${file} no longer contains ${what} (${String(from)}): update the test's substitutions`);
	pattern.lastIndex = 0;
	return text.replace(pattern, to);
}

export type Placement = { httpsPort: number; httpPort: number; upstreamPort: number };

/** The documented nginx site with the deployment's placeholders swapped for the test's. */
export function renderNginxSite(source: string, placement: Placement & { certificate: string; key: string }): string {
	const file = 'docs/self-hosting/nginx/hearth.conf';
	let site = source;
	site = swap(site, `/etc/letsencrypt/live/${DOCUMENTED.domain}/fullchain.pem`, placement.certificate, 'the certificate path', file);
	site = swap(site, `/etc/letsencrypt/live/${DOCUMENTED.domain}/privkey.pem`, placement.key, 'the private key path', file);
	// The server line may carry parameters (the cluster upstream's max_fails...): only the address changes.
	site = swap(site, new RegExp(`\\bserver ${DOCUMENTED.upstream.replace(/\./g, '\\.')}(?=[ ;])`, 'g'), `server 127.0.0.1:${placement.upstreamPort}`, "Hearth's address", file);
	// "listen 443" means every IPv4 address, "listen [::]:443" every IPv6 one: here, the loopback ones.
	for (const [documented, port] of [
		[DOCUMENTED.httpsPort, placement.httpsPort],
		[DOCUMENTED.httpPort, placement.httpPort]
	] as const) {
		site = swap(site, new RegExp(`^(\\s*)listen ${documented}\\b`, 'gm'), `$1listen 127.0.0.1:${port}`, `listen ${documented}`, file);
		site = swap(site, new RegExp(`^(\\s*)listen \\[::\\]:${documented}\\b`, 'gm'), `$1listen [::1]:${port}`, `listen [::]:${documented}`, file);
	}
	site = swap(site, `server_name ${DOCUMENTED.domain};`, `server_name [${BROWSER_HOST}];`, 'server_name', file);
	const directives = site.replace(/#.*$/gm, '');
	if (directives.includes(DOCUMENTED.domain) || /\b3000\b|\b443\b/.test(directives)) {
		throw new Error(`${file} has a placeholder the test does not replace:\n${site}`);
	}
	return site;
}

export const NGINX_CLUSTER_UPSTREAM = join(ROOT, 'docs/self-hosting/nginx/hearth-cluster-upstream.conf');

/**
 * hearth.conf with its upstream block replaced by the documented cluster upstream block, listing
 * the test's nodes (`ports`, one to three) instead of the examples: what an operator does. The first
 * node takes the single-node placeholder, which startNginx swaps for `upstreamPort` (give it ports[0]).
 */
export function nginxClusterSite(ports: number[]): string {
	const site = readFileSync(NGINX_SITE, 'utf8');
	let nodes = readFileSync(NGINX_CLUSTER_UPSTREAM, 'utf8').replace(/^#.*\n/gm, '');
	const block = /^upstream hearth \{[\s\S]*?^\}\n/m;
	if (!block.test(site)) throw new Error('docs/self-hosting/nginx/hearth.conf has no upstream hearth block: update the test');
	const examples = ['10.0.0.11:3000', '10.0.0.12:3000', '10.0.0.13:3000'];
	if (ports.length < 1 || ports.length > examples.length) throw new Error(`one to ${examples.length} nodes`);
	examples.forEach((example, i) => {
		if (!nodes.includes(example)) throw new Error(`hearth-cluster-upstream.conf no longer lists ${example}: update the test`);
		if (i >= ports.length) nodes = nodes.replace(new RegExp(`^.*${example.replace(/\./g, '\\.')}.*\n`, 'm'), '');
		else nodes = nodes.replace(example, i === 0 ? DOCUMENTED.upstream : `127.0.0.1:${ports[i]}`);
	});
	return site.replace(block, nodes);
}

/** The documented Caddy site with the deployment's placeholders swapped for the test's. */
export function renderCaddySite(source: string, placement: Pick<Placement, 'upstreamPort'>): string {
	const file = 'docs/self-hosting/caddy/Caddyfile';
	let site = source;
	site = swap(site, `reverse_proxy ${DOCUMENTED.upstream}`, `reverse_proxy 127.0.0.1:${placement.upstreamPort}`, "Hearth's address", file);
	// An IP site address gets a certificate from Caddy's own local CA instead of Let's Encrypt.
	site = swap(site, new RegExp(`^${DOCUMENTED.domain.replace(/\./g, '\\.')} \\{`, 'm'), `[${BROWSER_HOST}] {`, 'the site address', file);
	const directives = site.replace(/#.*$/gm, '');
	if (directives.includes(DOCUMENTED.domain) || /\b3000\b/.test(directives)) {
		throw new Error(`${file} has a placeholder the test does not replace:\n${site}`);
	}
	return site;
}

/** A self-signed certificate for the loopback addresses (the browser is told to accept it). */
function selfSignedCertificate(dir: string): { certificate: string; key: string } {
	const certificate = join(dir, 'cert.pem');
	const key = join(dir, 'key.pem');
	execFileSync(
		'openssl',
		['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=hearth proxy test', '-addext', 'subjectAltName=IP:::1,IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', certificate],
		{ stdio: 'ignore' }
	);
	return { certificate, key };
}

export async function startNginx(options: { upstreamPort: number; source?: string }): Promise<RunningProxy> {
	const binary = proxyBinary('nginx');
	if (!binary) throw new Error(skipReason('nginx'));
	const dir = mkdtempSync(join(tmpdir(), 'hearth-nginx-'));
	// Run as root, nginx's workers drop to an unprivileged user that must reach the temp folders here.
	chmodSync(dir, 0o755);
	const [httpsPort, httpPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
	const site = renderNginxSite(options.source ?? readFileSync(NGINX_SITE, 'utf8'), { httpsPort, httpPort, upstreamPort: options.upstreamPort, ...selfSignedCertificate(dir) });
	writeFileSync(join(dir, 'hearth.conf'), site);
	// Stands in for Debian's /etc/nginx/nginx.conf: only paths, so nginx runs from this folder. It sets
	// no proxy directive: every proxy setting in force is the documented file's or nginx's default.
	writeFileSync(
		join(dir, 'nginx.conf'),
		[
			'worker_processes 1;',
			`pid ${dir}/nginx.pid;`,
			`error_log ${dir}/error.log warn;`,
			'events { worker_connections 256; }',
			'http {',
			`	access_log ${dir}/access.log;`,
			...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((name) => `	${name}_temp_path ${dir}/${name}_temp;`),
			`	include ${dir}/hearth.conf;`,
			'}',
			''
		].join('\n')
	);
	const child = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
	const output = capture(child, () => readIfExists(join(dir, 'error.log')));
	const proxy: RunningProxy = {
		kind: 'nginx',
		origin: `https://[${BROWSER_HOST}]:${httpsPort}`,
		httpsPort,
		httpPort,
		config: site,
		output,
		async stop() {
			await stopProcess(child, 'SIGQUIT');
			rmSync(dir, { recursive: true, force: true });
		}
	};
	await waitUntilServing(proxy, child);
	return proxy;
}

export async function startCaddy(options: { upstreamPort: number; source?: string }): Promise<RunningProxy> {
	const binary = proxyBinary('caddy');
	if (!binary) throw new Error(skipReason('caddy'));
	const dir = mkdtempSync(join(tmpdir(), 'hearth-caddy-'));
	const [httpsPort, httpPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
	const site = renderCaddySite(options.source ?? readFileSync(CADDY_SITE, 'utf8'), { upstreamPort: options.upstreamPort });
	// Global options stand in for the machine a real Caddy runs on: its own storage, loopback ports
	// instead of 80/443, no admin endpoint, and its local CA kept out of the system trust store.
	// None of them concerns proxying: every proxy setting in force is the documented site's or Caddy's default.
	const globals = [
		'{',
		'	admin off',
		'	skip_install_trust',
		`	storage file_system ${dir}/storage`,
		`	default_bind 127.0.0.1 [::1]`,
		`	http_port ${httpPort}`,
		`	https_port ${httpsPort}`,
		'}',
		''
	].join('\n');
	const config = globals + site;
	writeFileSync(join(dir, 'Caddyfile'), config);
	const child = spawn(binary, ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
		stdio: ['ignore', 'pipe', 'pipe'],
		env: { PATH: process.env.PATH ?? '', HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') }
	});
	const output = capture(child, () => '');
	const proxy: RunningProxy = {
		kind: 'caddy',
		origin: `https://[${BROWSER_HOST}]:${httpsPort}`,
		httpsPort,
		httpPort,
		config,
		output,
		async stop() {
			await stopProcess(child, 'SIGTERM');
			rmSync(dir, { recursive: true, force: true });
		}
	};
	await waitUntilServing(proxy, child);
	return proxy;
}

function readIfExists(path: string): string {
	return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

function capture(child: ChildProcess, extra: () => string): () => string {
	const chunks: string[] = [];
	child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
	child.stderr?.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
	return () => chunks.join('') + extra();
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	child.kill(signal);
	// A graceful stop waits for open connections; the test's are done with.
	const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
	await exited;
	clearTimeout(timer);
}

/**
 * Waits until the proxy answers https requests (Caddy issues its certificate after start). Any answer
 * will do: Hearth may not be running yet (it must be told the proxy's origin, so it starts after).
 */
async function waitUntilServing(proxy: RunningProxy, child: ChildProcess): Promise<void> {
	const deadline = Date.now() + 20_000;
	let last = '';
	while (Date.now() < deadline) {
		if (child.exitCode !== null) break;
		try {
			await get(proxy.httpsPort, '/live');
			return;
		} catch (error) {
			last = (error as Error).message;
		}
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	await proxy.stop();
	throw new Error(`${proxy.kind} did not serve Hearth on ${proxy.origin} (${last}):\n${proxy.output()}\n--- config ---\n${proxy.config}`);
}

/** One https request to the proxy, accepting its test certificate. */
export function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
	return new Promise((resolve, reject) => {
		const request = httpsRequest({ host: BROWSER_HOST, port, path, headers, rejectUnauthorized: false, timeout: 5_000 }, (response) => {
			const chunks: Buffer[] = [];
			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
		});
		request.on('timeout', () => request.destroy(new Error('timed out')));
		request.on('error', reject);
		request.end();
	});
}

/** One plain-http request to the proxy's http port (which only redirects). */
export function getPlain(port: number, path: string): Promise<{ status: number; location: string | undefined }> {
	return new Promise((resolve, reject) => {
		const request = httpRequest({ host: BROWSER_HOST, port, path, timeout: 5_000 }, (response) => {
			response.resume();
			resolve({ status: response.statusCode ?? 0, location: response.headers.location });
		});
		request.on('timeout', () => request.destroy(new Error('timed out')));
		request.on('error', reject);
		request.end();
	});
}
