// The Docker image's contents suffice to run Hearth, proven without a Docker engine: the stages the
// runtime image copies from are reproduced from the Dockerfile itself (their build context copy,
// honouring .dockerignore, and their RUN commands), the runtime stage's COPY set is assembled in a
// folder exactly as the Dockerfile lists it, and the app is started from that folder with the
// image's environment. Nothing is written outside the data folder and the temporary folder, as
// under the read-only root filesystem of docker-compose.yml.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryPage } from '#lib/shared/api-types.ts';
import { decodeMessageBody } from '#lib/shared/message-body.ts';
import { TestClient } from '../helpers/clients.ts';
import { dockerIgnored, parseDockerfile, readDockerignore, type Stage } from '../helpers/dockerfile.ts';
import { createCommunity, sendMessage } from '../helpers/fixtures.ts';
import { ROOT, createTestDatabase, postgresUnavailableReason, testEngine, type TestDatabase, type TestServer } from '../helpers/test-server.ts';

const skip = postgresUnavailableReason();
const engine = testEngine();
const { stages } = parseDockerfile(join(ROOT, 'Dockerfile'));
const runtime = stages.at(-1)!;
const ignore = readDockerignore(join(ROOT, '.dockerignore'));

function run(command: string, cwd: string, env: Record<string, string> = {}): string {
	const result = spawnSync('sh', ['-c', command], { cwd, encoding: 'utf8', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', ...env }, timeout: 300_000 });
	if (result.status !== 0) throw new Error(`\`${command}\` failed in ${cwd}:\n${result.stdout}\n${result.stderr}`);
	return result.stdout;
}

/** What the image build's worker step printed (it must not fail without network access). */
let workerStepOutput = '';
/** A loopback address where nothing answers: stands for a build machine without internet access. */
const NO_NETWORK = 'http://127.0.0.1:2/releases/download';

/**
 * The RUN steps of a stage, one `&&` part at a time, as they are reproduced here. A command this
 * table does not know fails the test: teach it what the new step does rather than skip it.
 */
function reproduce(part: string, cwd: string): void {
	if (/^npm ci\b/.test(part)) return void run(`${part} --prefer-offline`, cwd);
	if (/^npx vite build\b/.test(part)) return void run(part, cwd);
	// Only makes the image smaller; here it would empty the machine's own npm cache.
	if (/^npm cache clean\b/.test(part)) return;
	// The mediasoup worker step runs as the image is built by default (MEDIASOUP_WORKER=prebuilt:
	// mediasoup's prebuilt download), on a machine without internet access: this test never goes
	// off loopback, so the download is pointed at a port where nothing answers, and the step must
	// still succeed, leaving an image without a worker that says why.
	if (part.includes('if [ "$MEDIASOUP_WORKER" = prebuilt ]')) {
		const fallback = /^ARG MEDIASOUP_WORKER=(\S+)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
		if (fallback !== 'prebuilt') throw new Error(`the Dockerfile's MEDIASOUP_WORKER default is ${fallback}, not prebuilt`);
		workerStepOutput = run(part, cwd, { MEDIASOUP_WORKER: fallback, MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL: NO_NETWORK, MEDIASOUP_WORKER_BIN: '' });
		return;
	}
	throw new Error(`docker-image.test.ts does not know how to reproduce the RUN step \`${part}\``);
}

function copyInto(source: string, dest: string, destWritten: string, filter?: (path: string) => boolean): void {
	// Docker: a folder's contents go to the destination; a file goes into it when it ends with "/".
	const target = statSync(source).isFile() && destWritten.endsWith('/') ? join(dest, posix.basename(source)) : dest;
	mkdirSync(dirname(target), { recursive: true });
	cpSync(source, target, { recursive: true, verbatimSymlinks: true, filter: filter ? (path) => filter(path) : undefined });
}

/** Builds a stage in a folder standing for its WORKDIR, and returns that folder. */
function materialize(stage: Stage, into: string): string {
	for (const copy of stage.copies) {
		if (copy.from !== null) throw new Error(`stage ${stage.name} copies from ${copy.from}: not reproduced by this test`);
		const dest = join(into, posix.relative(stage.workdir, copy.dest));
		for (const source of copy.sources) {
			copyInto(join(ROOT, source), dest, copy.destWritten, (path) => {
				const inContext = relative(ROOT, path);
				return inContext === '' || !dockerIgnored(ignore, inContext.split('\\').join('/'));
			});
		}
	}
	for (const command of stage.runs) for (const part of command.split('&&').map((p) => p.trim())) reproduce(part, into);
	return into;
}

type Snapshot = Map<string, string>;
function snapshot(dir: string): Snapshot {
	const files = new Map<string, string>();
	for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
		const path = join(entry.parentPath, entry.name);
		const stat = lstatSync(path);
		files.set(relative(dir, path), `${stat.size}:${stat.mtimeMs}`);
	}
	return files;
}

describe.skipIf(skip)(`the Docker image's runtime stage (${engine})`, () => {
	const work = mkdtempSync(join(tmpdir(), 'hearth-image-'));
	const app = join(work, 'app');
	const home = join(work, 'home');
	const tmp = join(work, 'tmp');
	let database: TestDatabase;
	let child: ChildProcess | undefined;
	let server: TestServer;
	let before: Snapshot;
	const logs: string[] = [];

	beforeAll(async () => {
		mkdirSync(app);
		const built = new Map<string, string>();
		for (const copy of runtime.copies) {
			let base = ROOT;
			let sources = copy.sources;
			if (copy.from !== null) {
				const stage = stages.find((s) => s.name === copy.from)!;
				if (!built.has(stage.name!)) built.set(stage.name!, materialize(stage, mkdtempSync(join(work, `${stage.name}-`))));
				base = built.get(stage.name!)!;
				// A path in another stage, relative to that stage's WORKDIR (the folder standing for it).
				sources = copy.sources.map((source) => posix.relative(stage.workdir, posix.resolve(stage.workdir, source)));
			}
			const dest = join(app, posix.relative(runtime.workdir, copy.dest));
			expect(dest.startsWith(app)).toBe(true);
			for (const source of sources) copyInto(join(base, source), dest, copy.destWritten);
		}
		for (const dir of built.values()) rmSync(dir, { recursive: true, force: true });
		mkdirSync(home);
		mkdirSync(tmp);

		database = await createTestDatabase();
		const productionEnv =
			engine === 'postgres'
				? // What docker-compose.yml runs: production mode, PostgreSQL, an https origin, secrets from .env.
					{ ORIGIN: 'https://chat.example.test', APP_SECRET: randomBytes(32).toString('hex'), METRICS_TOKEN: randomBytes(32).toString('hex') }
				: // Production refuses the embedded database, so the image's default DATA_DIR runs in development mode.
					{ APP_ENV: 'development' };
		before = snapshot(app);
		child = spawn(runtime.cmd![0]!, runtime.cmd!.slice(1), {
			cwd: app,
			env: {
				PATH: process.env.PATH ?? '',
				HOME: home,
				TMPDIR: tmp,
				...runtime.env,
				// Loopback only on this machine (the image listens on 0.0.0.0 inside its container).
				HOST: '127.0.0.1',
				PORT: '0',
				TRUSTED_PROXIES: '127.0.0.1',
				...productionEnv,
				...database.env
			},
			stdio: ['ignore', 'pipe', 'pipe']
		});
		const port = await new Promise<number>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`the app did not start:\n${logs.join('\n')}`)), 60_000);
			const onData = (chunk: Buffer) => {
				for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
					logs.push(line);
					if (line.includes('Hearth is running')) {
						clearTimeout(timer);
						resolve((JSON.parse(line) as { port: number }).port);
					}
				}
			};
			child!.stdout!.on('data', onData);
			child!.stderr!.on('data', onData);
			child!.once('exit', (code) => {
				clearTimeout(timer);
				reject(new Error(`the app exited with ${code}:\n${logs.join('\n')}`));
			});
		});
		const url = `http://127.0.0.1:${port}`;
		const origin = engine === 'postgres' ? 'https://chat.example.test' : `http://localhost:${port}`;
		server = { url, origin, port, wsUrl: `ws://127.0.0.1:${port}/ws`, logs, process: child, options: { database } } as unknown as TestServer;
	}, 600_000);

	afterAll(async () => {
		if (child && child.exitCode === null) {
			const exited = new Promise((resolve) => child!.once('exit', resolve));
			child.kill('SIGTERM');
			await exited;
		}
		await database?.drop();
		rmSync(work, { recursive: true, force: true });
	});

	it('holds only what the server needs: no dev dependencies, tests, client code or local settings', () => {
		expect(existsSync(join(app, 'node_modules/@electric-sql/pglite'))).toBe(true);
		// Dev dependencies stay out. (vite and typescript do come in: npm installs them as peer
		// dependencies of @sveltejs/kit, a production dependency.)
		const devOnly = ['vitest', '@playwright/test', 'svelte-check', 'drizzle-kit', 'dockerfile-ast'].map((name) => `node_modules/${name}`);
		for (const absent of [...devOnly, 'tests', 'src/routes', 'src/lib/client', '.env', 'data', 'scripts', 'bench']) {
			expect({ absent, exists: existsSync(join(app, absent)) }).toEqual({ absent, exists: false });
		}
	});

	it('answers /ready and /health and serves the built app', async () => {
		expect((await fetch(`${server.url}/ready`)).status).toBe(200);
		expect((await fetch(`${server.url}/live`)).status).toBe(200);
		const health = (await (await fetch(`${server.url}/health`)).json()) as { database: unknown; version: string };
		expect(health.database).toEqual({ ok: true, engine });
		// package.json is in the image: the version is read from it.
		expect(health.version).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
		const page = await fetch(`${server.url}/`);
		expect(page.status).toBe(200);
		expect(await page.text()).toContain('<html');
	});

	it('built without network access, has no mediasoup worker, and says so and how to provide one', async () => {
		expect(workerStepOutput).toContain(`mediasoup worker: fetching mediasoup 3.27.1's prebuilt worker from ${NO_NETWORK}...`);
		expect(workerStepOutput).toContain('mediasoup worker: none installed: could not download');
		expect(workerStepOutput).toContain('Hearth runs without calls until it has one: set MEDIASOUP_WORKER_BIN');
		expect(existsSync(join(app, 'node_modules/mediasoup/worker/out/Release/mediasoup-worker'))).toBe(false);
		const health = (await (await fetch(`${server.url}/health`)).json()) as { calls: { available: boolean; reason: string } };
		expect(health.calls.available).toBe(false);
		expect(health.calls.reason).toMatch(/^no mediasoup worker: set MEDIASOUP_WORKER_BIN to a mediasoup-worker binary .*, or build one with `npm run worker:build`/);
		expect(logs.some((line) => line.includes('"calls unavailable"') && line.includes('npm run worker:build'))).toBe(true);
	});

	it('works end to end: an account, a community and a message (argon2, migrations, database)', async () => {
		const alice = await TestClient.signUp(server);
		const { generalId } = await createCommunity(alice);
		await sendMessage(alice, generalId, 'from the image');
		const page = await alice.api.get<HistoryPage>(`/api/channels/${generalId}/messages`);
		expect(page.messages.map((m) => decodeMessageBody(m.payload)?.text)).toEqual(['from the image']);
	});

	it('writes nothing into its own files or its home folder (a read-only root filesystem suffices)', () => {
		expect(snapshot(app)).toEqual(before);
		expect(readdirSync(home)).toEqual([]);
	});
});
