// What the Dockerfile promises, read from the file itself (no Docker engine is needed). That its
// runtime stage is enough to run Hearth is proven by tests/integration/docker-image.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dockerIgnored, parseDockerfile, readDockerignore } from '../helpers/dockerfile.ts';
import { SERVER_ENV, SERVER_ENV_ASSIGNMENTS, SERVER_NODE_FLAGS } from '../../server/node-flags.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const { args, stages } = parseDockerfile(join(ROOT, 'Dockerfile'));
const runtime = stages.at(-1)!;
const ignore = readDockerignore(join(ROOT, '.dockerignore'));

// Names of settings that hold secrets: none may get a value inside the image.
const SECRET_NAME = /SECRET|PASSWORD|TOKEN|PRIVATE|_KEY$|^DATABASE_URL$/i;

describe('Dockerfile', () => {
	it('is multi-stage: the image that runs is not the one that builds', () => {
		expect(stages.length).toBeGreaterThanOrEqual(2);
		expect(runtime.name).toBe('runtime');
		expect(runtime.copies.some((copy) => copy.from === null && copy.sources.includes('.'))).toBe(false);
		// The runtime stage installs and compiles nothing: it only copies what other stages made.
		expect(runtime.runs.filter((run) => /\b(npm|npx|yarn|pnpm|apt-get|vite)\b/.test(run))).toEqual([]);
		const fromStages = new Set(runtime.copies.map((copy) => copy.from).filter(Boolean));
		for (const name of fromStages) expect(stages.some((stage) => stage.name === name && stage !== runtime)).toBe(true);
	});

	it('runs as an unprivileged user', () => {
		expect(runtime.user).toBeTruthy();
		expect(runtime.user).not.toMatch(/^(root|0)(:|$)/);
		// USER comes after the last RUN, so nothing at run time executes as root.
		const keywords = runtime.instructions.map((i) => i.keyword);
		expect(keywords.lastIndexOf('USER')).toBeGreaterThan(keywords.lastIndexOf('RUN'));
	});

	it('pins its base images to an exact version', () => {
		for (const stage of stages) {
			expect(stage.image).toMatch(/^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$/);
			expect(stage.image).not.toMatch(/:latest$/);
		}
	});

	it('bakes no secret into the image', () => {
		for (const name of Object.keys(args)) expect(name).not.toMatch(SECRET_NAME);
		for (const stage of stages) {
			for (const name of Object.keys(stage.env)) expect(name).not.toMatch(SECRET_NAME);
			for (const instruction of stage.instructions.filter((i) => i.keyword === 'ARG')) expect(instruction.text).not.toMatch(SECRET_NAME);
			for (const copy of stage.copies) for (const source of copy.sources) expect(source).not.toMatch(/(^|\/)\.env($|\.)/);
		}
		// Even `COPY . .` in the build stage cannot pick up secrets, data or backups.
		for (const path of ['.env', '.env.production', 'data/PG_VERSION', 'backups/hearth.pgdump', 'docker-compose.override.yml', 'node_modules/x', '.git/config']) {
			expect({ path, ignored: dockerIgnored(ignore, path) }).toEqual({ path, ignored: true });
		}
		expect(dockerIgnored(ignore, '.env.example')).toBe(false);
	});

	it('copies into the runtime image only files that exist and are in the build context', () => {
		for (const copy of runtime.copies.filter((c) => c.from === null)) {
			for (const source of copy.sources) {
				expect({ source, exists: existsSync(join(ROOT, source)), ignored: dockerIgnored(ignore, source) }).toEqual({ source, exists: true, ignored: false });
			}
		}
	});

	it('fetches mediasoup\'s prebuilt worker by default, in a step of its own that never fails the build', () => {
		const prodDeps = stages.find((stage) => stage.name === 'prod-deps')!;
		const argument = prodDeps.instructions.find((i) => i.keyword === 'ARG' && i.text.includes('MEDIASOUP_WORKER'));
		expect(argument?.text).toBe('MEDIASOUP_WORKER=prebuilt');
		const step = prodDeps.runs.find((run) => run.includes('MEDIASOUP_WORKER'))!;
		// The default: the download-only script (it exits 0 whatever happens: no worker means calls unavailable, not a failed build).
		expect(step).toMatch(/^set -e; if \[ "\$MEDIASOUP_WORKER" = prebuilt \]; then node scripts\/fetch-mediasoup-worker\.ts; /);
		expect(prodDeps.copies.map((copy) => copy.sources).flat()).toEqual(expect.arrayContaining(['scripts/fetch-mediasoup-worker.ts', 'server/calls/worker-bin.ts']));
		// On request, mediasoup's own postinstall (prebuilt download, else a source build), checked to have produced the binary.
		expect(step).toContain('elif [ "$MEDIASOUP_WORKER" = postinstall ]; then');
		expect(step).toContain('cd node_modules/mediasoup; node npm-scripts.mjs postinstall; test -x worker/out/Release/mediasoup-worker;');
		// Any other value is a mistake, not a silent "no worker".
		expect(step).toContain('elif [ "$MEDIASOUP_WORKER" != none ]; then echo "MEDIASOUP_WORKER must be prebuilt, postinstall or none" >&2; exit 2; fi');
		// It runs after npm ci, whose install scripts stay off (package.json allowScripts): npm ci works without a worker.
		expect(prodDeps.runs.findIndex((run) => run.startsWith('npm ci'))).toBeLessThan(prodDeps.runs.indexOf(step));
		const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean>; dependencies: Record<string, string> };
		expect(pkg.allowScripts?.mediasoup).toBe(false);
		// The script unpacks with tar, a production dependency (prod-deps installs only those).
		expect(pkg.dependencies.tar).toBeDefined();
		// The worker lands in node_modules/mediasoup (where Hearth looks without MEDIASOUP_WORKER_BIN), which the runtime copies.
		expect(runtime.copies.some((copy) => copy.from === 'prod-deps' && copy.sources.includes('/app/node_modules'))).toBe(true);
		expect(Object.keys(runtime.env)).not.toContain('MEDIASOUP_WORKER_BIN');
	});

	it('starts the server with the same flags and C library settings in the tests, the bench and the e2e server', () => {
		const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
		// Each spawns `node server/main.ts` itself: the flags and SERVER_ENV must be passed there too,
		// or what the bench measures and the tests run is not what users run.
		for (const path of ['tests/helpers/test-server.ts', 'bench/servers.ts']) {
			expect({ path, flags: read(path).includes('[...SERVER_NODE_FLAGS,'), env: read(path).includes('...SERVER_ENV') }).toEqual({ path, flags: true, env: true });
		}
		expect(read('playwright.config.ts')).toContain("command: [SERVER_ENV_ASSIGNMENTS, 'node', ...SERVER_NODE_FLAGS, 'server/main.ts'].join(' ')");
	});

	it('starts the server the way npm start does, listening on every interface of the container', () => {
		const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
		// The C library settings (MALLOC_ARENA_MAX) are read when the process starts: they are in its
		// environment from the start, never left to .env.
		expect(start).toBe(`${SERVER_ENV_ASSIGNMENTS} node ${SERVER_NODE_FLAGS.join(' ')} --env-file-if-exists=.env server/main.ts`);
		expect(runtime.cmd).toEqual(['node', ...SERVER_NODE_FLAGS, 'server/main.ts']);
		expect(runtime.env).toMatchObject(SERVER_ENV);
		expect(readFileSync(join(ROOT, 'scripts/quickstart.sh'), 'utf8')).toContain(`${SERVER_ENV_ASSIGNMENTS} exec node ${SERVER_NODE_FLAGS.join(' ')} --env-file-if-exists=.env server/main.ts`);
		expect(runtime.env).toMatchObject({ HOST: '0.0.0.0', APP_ENV: 'production', NODE_ENV: 'production' });
		expect(runtime.healthcheck).toContain('/ready');
		expect(runtime.volumes).toContain(runtime.env.DATA_DIR);
	});
});
