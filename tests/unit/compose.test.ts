// docker-compose.yml and docker-compose.override.example.yml, parsed with a YAML parser and held to
// what docs/self-hosting promises: an isolated, health-checked PostgreSQL with a volume, a hardened
// app container, optional coturn, secrets only by reference, and Traefik labels in the override.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseDockerfile } from '../helpers/dockerfile.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

type Service = {
	image?: string;
	build?: unknown;
	env_file?: string | string[];
	environment?: Record<string, string>;
	depends_on?: Record<string, { condition: string }>;
	networks?: string[];
	network_mode?: string;
	ports?: string[];
	volumes?: string[];
	read_only?: boolean;
	tmpfs?: string[];
	cap_drop?: string[];
	cap_add?: string[];
	security_opt?: string[];
	healthcheck?: { test: string[] };
	profiles?: string[];
	user?: string;
	labels?: Record<string, string>;
	entrypoint?: string[];
	command?: string[];
	working_dir?: string;
};
type Compose = { services: Record<string, Service>; networks: Record<string, { internal?: boolean; external?: boolean } | null>; volumes: Record<string, unknown> };

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Compose;
const { hearth, postgres, coturn, backup } = compose.services as Record<string, Service>;

// Names of settings that hold secrets: in compose they may only refer to a variable from .env.
const SECRET_NAME = /SECRET|PASSWORD|TOKEN/;

describe('docker-compose.yml', () => {
	it('runs the app built from this repository with the settings from .env, in production mode', () => {
		expect(hearth!.build).toBe('.');
		expect(hearth!.env_file).toBe('.env');
		expect(hearth!.environment).toMatchObject({ APP_ENV: 'production', HOST: '0.0.0.0', PORT: '3000' });
		expect(hearth!.environment!.DATABASE_URL).toBe('postgres://hearth:${POSTGRES_PASSWORD:?run scripts/generate-secrets.sh first}@postgres:5432/hearth');
		expect(hearth!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
		expect(hearth!.healthcheck!.test.join(' ')).toContain('http://127.0.0.1:3000/ready');
		// Published on the host's loopback by default: the proxy, not the internet, talks to it.
		expect(hearth!.ports![0]).toBe('${HEARTH_BIND:-127.0.0.1}:${HEARTH_PORT:-3000}:3000');
	});

	it('publishes the call media port (UDP and TCP) the one worker listens on, announcing the address from .env', () => {
		// Media bypasses the proxy: browsers reach CALL_PORT on the host directly, on the same port inside.
		expect(hearth!.ports!.slice(1)).toEqual(['${CALL_PORT:-40000}:${CALL_PORT:-40000}/udp', '${CALL_PORT:-40000}:${CALL_PORT:-40000}/tcp']);
		expect(hearth!.environment).toMatchObject({
			CALL_PORT: '${CALL_PORT:-40000}',
			// Every interface of the container, so Docker's port forwarding reaches it…
			CALL_LISTEN_IP: '0.0.0.0',
			// …and the host's public address announced, never the container's own (172.x).
			CALL_ANNOUNCED_ADDRESS: '${CALL_ANNOUNCED_ADDRESS:-}',
			// Worker N listens on CALL_PORT+N: exactly as many workers as ports published.
			CALL_WORKERS: String(hearth!.ports!.filter((port) => port.endsWith('/udp')).length)
		});
		expect(hearth!.network_mode).toBeUndefined();
	});

	it('runs the app with a read-only root filesystem, no capabilities and no privilege escalation', () => {
		expect(hearth!.read_only).toBe(true);
		expect(hearth!.cap_drop).toEqual(['ALL']);
		expect(hearth!.cap_add).toBeUndefined();
		expect(hearth!.security_opt).toContain('no-new-privileges:true');
		expect(hearth!.tmpfs?.some((mount) => mount.startsWith('/tmp:'))).toBe(true);
		// As the image's unprivileged user (compose does not override it).
		expect(hearth!.user).toBeUndefined();
		expect(parseDockerfile(join(ROOT, 'Dockerfile')).stages.at(-1)!.user).toBe('node');
	});

	it('keeps PostgreSQL on an internal network, with a health check and its data in a volume', () => {
		expect(postgres!.image).toMatch(/^postgres:\d+\.\d+-bookworm$/);
		expect(postgres!.networks).toEqual(['internal']);
		expect(postgres!.ports).toBeUndefined();
		expect(compose.networks.internal).toEqual({ internal: true });
		expect(hearth!.networks).toContain('internal');
		expect(postgres!.healthcheck!.test).toEqual(['CMD-SHELL', 'pg_isready --username=hearth --dbname=hearth']);
		expect(postgres!.volumes).toEqual(['postgres-data:/var/lib/postgresql/data']);
		expect(Object.keys(compose.volumes)).toContain('postgres-data');
		expect(postgres!.environment).toMatchObject({ POSTGRES_USER: 'hearth', POSTGRES_DB: 'hearth' });
	});

	it('offers coturn only on request, sharing TURN_SECRET with Hearth without putting it on a command line', () => {
		expect(coturn!.profiles).toEqual(['turn']);
		expect(coturn!.image).toMatch(/^coturn\/coturn:\d+\.\d+\.\d+/);
		const script = coturn!.command!.join(' ');
		expect(script).toContain('--use-auth-secret');
		expect(script).toContain(`printf 'static-auth-secret=%s\\n' "$$TURN_SECRET" > /tmp/turnserver.conf`);
		expect(script).not.toMatch(/--static-auth-secret/);
		// No relaying into the host's own or private networks (a TURN server is an open door otherwise).
		for (const range of ['0.0.0.0-0.255.255.255', '10.0.0.0-10.255.255.255', '127.0.0.0-127.255.255.255', '169.254.0.0-169.254.255.255', '172.16.0.0-172.31.255.255', '192.168.0.0-192.168.255.255']) {
			expect(script).toContain(`--denied-peer-ip=${range}`);
		}
		expect(coturn!.network_mode).toBe('host');
		expect(coturn!.environment!.TURN_SECRET).toBe('${TURN_SECRET:?run scripts/generate-secrets.sh first}');
	});

	it('backs up with the PostgreSQL version of the server, through scripts/backup.sh', () => {
		expect(backup!.profiles).toEqual(['tools']);
		expect(backup!.image).toBe(postgres!.image);
		expect(backup!.entrypoint).toEqual(['bash', '/opt/hearth/scripts/backup.sh']);
		expect(backup!.volumes).toEqual(['./scripts:/opt/hearth/scripts:ro', './backups:/opt/hearth/backups']);
		expect(backup!.networks).toEqual(['internal']);
	});

	it('writes no secret: every secret-looking setting refers to a variable of .env', () => {
		for (const [name, service] of Object.entries(compose.services)) {
			for (const [key, value] of Object.entries(service.environment ?? {})) {
				if (SECRET_NAME.test(key)) expect({ service: name, key, value }).toEqual({ service: name, key, value: expect.stringMatching(/^\$\{[A-Z_]+(:\?[^}]*)?\}$/) });
				// No password inside a URL either, except by reference.
				expect(String(value)).not.toMatch(/:\/\/[^:@/]+:(?!\$\{)[^@]+@/);
			}
		}
	});

	it('pins every third-party image to a version', () => {
		for (const [name, service] of Object.entries(compose.services)) {
			if (service.build) continue;
			expect({ name, image: service.image }).toEqual({ name, image: expect.stringMatching(/^[\w./-]+:\d+(\.\d+)+[\w.-]*$/) });
		}
	});
});

describe('docker-compose.override.example.yml', () => {
	const override = parse(readFileSync(join(ROOT, 'docker-compose.override.example.yml'), 'utf8')) as Compose;

	it('publishes the app through Traefik over HTTPS on the websecure entrypoint', () => {
		expect(override.services.hearth!.labels).toEqual({
			'traefik.enable': 'true',
			'traefik.http.routers.hearth.rule': 'Host(`chat.example.com`)',
			'traefik.http.routers.hearth.entrypoints': 'websecure',
			'traefik.http.routers.hearth.tls': 'true',
			'traefik.http.routers.hearth.tls.certresolver': 'letsencrypt',
			'traefik.http.services.hearth.loadbalancer.server.port': '3000',
			'traefik.docker.network': 'traefik'
		});
		// The port Traefik forwards to is the one the app listens on.
		expect(compose.services.hearth!.environment!.PORT).toBe('3000');
	});

	it('joins the app to Traefik’s external network', () => {
		expect(override.services.hearth!.networks).toEqual(['traefik']);
		expect(override.networks).toEqual({ traefik: { external: true } });
	});
});

// Cluster mode (docs/self-hosting/scaling.md): merged on top of docker-compose.yml. The `!reset`
// and `!override` tags are Compose's own merge instructions; the YAML parser keeps their values.
describe('docker-compose.cluster.yml', () => {
	type ClusterService = Service & { deploy?: { replicas?: string | number }; extends?: { file: string; service: string } };
	const cluster = parse(readFileSync(join(ROOT, 'docker-compose.cluster.yml'), 'utf8'), { logLevel: 'error' }) as { services: Record<string, ClusterService> };
	const { hearth: nodes, 'hearth-calls': calls, valkey } = cluster.services;

	it('runs HEARTH_REPLICAS chat nodes (two by default) on the shared Valkey, without calls and without a host port', () => {
		expect(nodes!.deploy).toEqual({ replicas: '${HEARTH_REPLICAS:-2}' });
		expect(nodes!.environment).toEqual({ REDIS_URL: 'redis://valkey:6379', CALL_WORKERS: '0' });
		expect(nodes!.ports).toEqual([]);
		expect(nodes!.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, valkey: { condition: 'service_healthy' } });
	});

	it('runs the calls on one node built like the single-node app, publishing only the call media port', () => {
		expect(calls!.extends).toEqual({ file: 'docker-compose.yml', service: 'hearth' });
		expect(calls!.environment).toEqual({ REDIS_URL: 'redis://valkey:6379', NODE_ID: 'calls' });
		expect(calls!.ports).toEqual(hearth!.ports!.filter((port) => port.startsWith('${CALL_PORT')));
		expect(hearth!.environment!.CALL_WORKERS).toBe('1');
		expect(calls!.depends_on).toMatchObject({ valkey: { condition: 'service_healthy' } });
	});

	it('keeps Valkey pinned, on the internal network only, unprivileged, without persistence and health-checked', () => {
		expect(valkey!.image).toMatch(/^valkey\/valkey:8\.\d+\.\d+[\w.-]*$/);
		expect(valkey!.networks).toEqual(['internal']);
		expect(compose.networks.internal).toEqual({ internal: true });
		expect(valkey!.ports).toBeUndefined();
		expect(valkey!.command).toEqual(['valkey-server', '--save', '', '--appendonly', 'no']);
		expect(valkey!).toMatchObject({ user: '999:999', read_only: true, cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'] });
		expect(valkey!.healthcheck!.test).toEqual(['CMD', 'valkey-cli', 'ping']);
	});
});
