// scripts/deploy.sh, run for real in a temporary folder; its output is parsed as YAML.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const SCRIPT = new URL('../../scripts/deploy.sh', import.meta.url).pathname;

let dir: string;
beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), 'hearth-deploy-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function deploy(env: Record<string, string>, args: string[] = []) {
	const result = spawnSync('bash', [SCRIPT, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
	return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
const output = () => join(dir, 'docker-compose.override.yml');
type Override = { services: { hearth: { labels: Record<string, string>; networks: string[] } }; networks: Record<string, { external: boolean }> };
const parsed = () => parse(readFileSync(output(), 'utf8')) as Override;

describe('scripts/deploy.sh', () => {
	it('writes Traefik labels for the domain, network and certificate resolver it is given', () => {
		const run = deploy({ DEPLOY_DOMAIN: 'chat.example.org', DEPLOY_NETWORK: 'proxy', DEPLOY_CERTRESOLVER: 'le' });
		expect(run.status).toBe(0);
		expect(run.stdout).toContain('Traefik serves Hearth at https://chat.example.org');
		expect(parsed()).toEqual({
			services: {
				hearth: {
					labels: {
						'traefik.enable': 'true',
						'traefik.http.routers.hearth.rule': 'Host(`chat.example.org`)',
						'traefik.http.routers.hearth.entrypoints': 'websecure',
						'traefik.http.routers.hearth.tls': 'true',
						'traefik.http.routers.hearth.tls.certresolver': 'le',
						'traefik.http.routers.hearth.service': 'hearth',
						'traefik.http.services.hearth.loadbalancer.server.port': '3000',
						'traefik.docker.network': 'proxy'
					},
					networks: ['proxy']
				}
			},
			networks: { proxy: { external: true } }
		});
	});

	it('has defaults for everything but the domain, and reads the settings from .env', () => {
		// A complete .env (ORIGIN and the call address set): nothing to remind.
		writeFileSync(join(dir, '.env'), 'ORIGIN=https://talk.example.net\nCALL_ANNOUNCED_ADDRESS=203.0.113.7\nDEPLOY_DOMAIN="talk.example.net"\nDEPLOY_ROUTER=talk\nDEPLOY_ENTRYPOINT=https\n');
		const run = deploy({});
		expect(run.status).toBe(0);
		expect(run.stderr).toBe('');
		const { labels, networks } = parsed().services.hearth;
		expect(labels).toMatchObject({
			'traefik.http.routers.talk.rule': 'Host(`talk.example.net`)',
			'traefik.http.routers.talk.entrypoints': 'https',
			'traefik.http.routers.talk.tls.certresolver': 'letsencrypt',
			'traefik.http.services.talk.loadbalancer.server.port': '3000',
			'traefik.docker.network': 'traefik'
		});
		expect(networks).toEqual(['traefik']);
	});

	it('reminds to set ORIGIN when it does not match the domain', () => {
		const run = deploy({ DEPLOY_DOMAIN: 'chat.example.org' });
		expect(run.status).toBe(0);
		expect(run.stderr).toContain('Set ORIGIN=https://chat.example.org in .env (it is unset)');
	});

	it('reminds to announce the media address and open the call port, which Traefik does not carry', () => {
		const reminder = 'For calls, set CALL_ANNOUNCED_ADDRESS in .env to this server\'s public IP address';
		const unset = deploy({ DEPLOY_DOMAIN: 'chat.example.org' });
		expect(unset.stderr).toContain(reminder);
		expect(unset.stderr).toContain('open port 40000 for UDP and TCP in the firewall');
		rmSync(output());
		writeFileSync(join(dir, '.env'), 'CALL_PORT=41000\n');
		expect(deploy({ DEPLOY_DOMAIN: 'chat.example.org' }).stderr).toContain('open port 41000 for UDP and TCP');
		rmSync(output());
		writeFileSync(join(dir, '.env'), 'CALL_ANNOUNCED_ADDRESS=203.0.113.7\n');
		const set = deploy({ DEPLOY_DOMAIN: 'chat.example.org' });
		expect(set.status).toBe(0);
		expect(set.stderr).not.toContain('CALL_ANNOUNCED_ADDRESS');
	});

	it('changes nothing when run again with the same inputs', () => {
		deploy({ DEPLOY_DOMAIN: 'chat.example.org' });
		const first = readFileSync(output(), 'utf8');
		const mtime = statSync(output()).mtimeMs;
		const again = deploy({ DEPLOY_DOMAIN: 'chat.example.org' });
		expect(again.status).toBe(0);
		expect(again.stdout).toContain('is up to date');
		expect(readFileSync(output(), 'utf8')).toBe(first);
		expect(statSync(output()).mtimeMs).toBe(mtime);
	});

	it('rewrites its own unedited file when the inputs change', () => {
		deploy({ DEPLOY_DOMAIN: 'chat.example.org' });
		const run = deploy({ DEPLOY_DOMAIN: 'new.example.org' });
		expect(run.status).toBe(0);
		expect(parsed().services.hearth.labels['traefik.http.routers.hearth.rule']).toBe('Host(`new.example.org`)');
	});

	it('refuses to overwrite a hand-edited file without --force, and overwrites it with --force', () => {
		deploy({ DEPLOY_DOMAIN: 'chat.example.org' });
		appendFileSync(output(), '      traefik.http.routers.hearth.middlewares: "auth"\n');
		const edited = readFileSync(output(), 'utf8');
		const refused = deploy({ DEPLOY_DOMAIN: 'chat.example.org' });
		expect(refused.status).toBe(3);
		expect(refused.stderr).toContain('was edited by hand');
		expect(readFileSync(output(), 'utf8')).toBe(edited);

		const forced = deploy({ DEPLOY_DOMAIN: 'chat.example.org' }, ['--force']);
		expect(forced.status).toBe(0);
		expect(parsed().services.hearth.labels['traefik.http.routers.hearth.middlewares']).toBeUndefined();
	});

	it('treats a file it did not write as hand-made', () => {
		writeFileSync(output(), 'services: {}\n');
		expect(deploy({ DEPLOY_DOMAIN: 'chat.example.org' }).status).toBe(3);
		expect(readFileSync(output(), 'utf8')).toBe('services: {}\n');
	});

	it('refuses inputs that are not what they claim to be, and writes nothing', () => {
		const cases: [Record<string, string>, string][] = [
			[{}, 'DEPLOY_DOMAIN is required'],
			[{ DEPLOY_DOMAIN: 'https://chat.example.org' }, 'is not a domain name'],
			[{ DEPLOY_DOMAIN: 'chat.example.org:8443' }, 'is not a domain name'],
			[{ DEPLOY_DOMAIN: 'chat`) || Host(`evil.example' }, 'is not a domain name'],
			[{ DEPLOY_DOMAIN: 'localhost' }, 'is not a domain name'],
			[{ DEPLOY_DOMAIN: '-bad.example.org' }, 'is not a domain name'],
			[{ DEPLOY_DOMAIN: 'Chat.Example.org' }, 'is not a domain name'],
			[{ DEPLOY_DOMAIN: 'chat.example.org', DEPLOY_NETWORK: 'bad network' }, 'DEPLOY_NETWORK "bad network" is not a Docker network name'],
			[{ DEPLOY_DOMAIN: 'chat.example.org', DEPLOY_NETWORK: 'x\n  evil: true' }, 'is not a Docker network name'],
			[{ DEPLOY_DOMAIN: 'chat.example.org', DEPLOY_CERTRESOLVER: 'le"' }, 'is not a Traefik resolver name'],
			[{ DEPLOY_DOMAIN: 'chat.example.org', DEPLOY_ENTRYPOINT: 'web secure' }, 'is not a Traefik entrypoint name']
		];
		for (const [env, message] of cases) {
			const run = deploy(env);
			expect({ env, status: run.status, message: run.stderr.includes(message) }).toEqual({ env, status: 2, message: true });
		}
		expect(() => statSync(output())).toThrow();
	});
});
