// Fetches mediasoup's prebuilt worker (the SFU's media process) the way mediasoup's own install
// step does: the release tarball for this mediasoup version, platform, CPU and (on Linux) kernel
// major version from mediasoup's GitHub releases (or MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL),
// unpacked into node_modules/mediasoup/worker/out/Release, then run once to check it works on this
// host (a worker started without its environment exits with status 41).
//
// Download only, and it never fails: `npm ci` keeps mediasoup's install script off (package.json
// allowScripts) so installing works offline, and the quickstart and the Docker image run this as a
// separate step. Where the network does not allow it, it says so and how else to get a worker
// (MEDIASOUP_WORKER_BIN, or building one); Hearth then starts with calls unavailable and says the
// same at start-up and in /health.
//
//   node scripts/fetch-mediasoup-worker.ts      (npm run worker:fetch)
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { arch, platform, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { HOW_TO_PROVIDE_A_WORKER, mediasoupPackageDir } from '../server/calls/worker-bin.ts';

/** How long the download may take, connecting included (the tarball is ~10 MB). */
const DOWNLOAD_TIMEOUT_MS = 120_000;
/** mediasoup-worker's exit status when started without MEDIASOUP_VERSION: it ran, so it fits this host. */
const WORKER_RUNS_STATUS = 41;

export type FetchOutcome = { ok: true; path: string; detail: string } | { ok: false; reason: string };

/** mediasoup's own name for the prebuilt tarball (getWorkerPrebuildTarName in its npm-scripts.mjs). */
export function prebuiltTarballName(version: string, host = { platform: platform(), arch: arch(), release: release() }): string {
	let name = `mediasoup-worker-${version}-${host.platform}-${host.arch}`;
	if (host.platform === 'linux') name += `-kernel${Number(host.release.split('.')[0])}`;
	return `${name}.tgz`;
}

/** The installed mediasoup package: its folder, version and releases URL. */
export function installedMediasoup(): { dir: string; version: string; releases: string } {
	const dir = mediasoupPackageDir();
	if (!dir) throw new Error('the mediasoup package is not installed (run npm ci)');
	const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string; repository: { url: string } };
	// As mediasoup computes it: "git+https://github.com/versatica/mediasoup.git" → …/releases/download.
	const releases = `${pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '')}/releases/download`;
	return { dir, version: pkg.version, releases };
}

function isExecutable(path: string): boolean {
	try {
		const stat = statSync(path);
		return stat.isFile() && (stat.mode & 0o111) !== 0;
	} catch {
		return false;
	}
}

/**
 * Downloads and checks the prebuilt worker into `destination` (a folder; the binary is
 * `destination/mediasoup-worker`). Nothing is left there unless the worker was checked to run.
 */
export async function fetchPrebuiltWorker(options: { version: string; baseUrl: string; destination: string; timeoutMs?: number }): Promise<FetchOutcome> {
	const tarball = prebuiltTarballName(options.version);
	const url = `${options.baseUrl.replace(/\/$/, '')}/${options.version}/${tarball}`;
	const staging = mkdtempSync(join(tmpdir(), 'hearth-mediasoup-worker-'));
	try {
		let response: Response;
		try {
			response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? DOWNLOAD_TIMEOUT_MS), redirect: 'follow' });
		} catch (error) {
			const cause = (error as { cause?: { code?: string; message?: string } }).cause;
			return { ok: false, reason: `could not download ${url} (${cause?.code ?? cause?.message ?? (error as Error).message})` };
		}
		if (response.status === 404) return { ok: false, reason: `mediasoup publishes no prebuilt worker for this platform (${tarball}: 404)` };
		if (!response.ok || !response.body) return { ok: false, reason: `could not download ${url} (HTTP ${response.status})` };
		try {
			await pipeline(Readable.fromWeb(response.body as never), tar.x({ cwd: staging, strict: true }));
		} catch (error) {
			return { ok: false, reason: `the download of ${tarball} is not a usable archive (${(error as Error).message})` };
		}
		const binary = join(staging, 'mediasoup-worker');
		if (!existsSync(binary)) return { ok: false, reason: `${tarball} holds no mediasoup-worker` };
		chmodSync(binary, 0o755);
		// As mediasoup's installer checks it: started without its environment, a working worker exits 41.
		const check = spawnSync(binary, [], { env: {}, stdio: 'ignore', timeout: 10_000 });
		if (check.status !== WORKER_RUNS_STATUS) {
			return { ok: false, reason: `the prebuilt worker does not run on this host (exit ${check.status ?? check.signal ?? check.error?.message}; another C library?)` };
		}
		mkdirSync(options.destination, { recursive: true });
		const path = join(options.destination, 'mediasoup-worker');
		rmSync(path, { force: true });
		try {
			renameSync(binary, path);
		} catch {
			// The temporary folder is on another file system: copy instead.
			copyFileSync(binary, path);
			chmodSync(path, 0o755);
		}
		return { ok: true, path, detail: `mediasoup ${options.version}'s prebuilt worker (${tarball})` };
	} finally {
		rmSync(staging, { recursive: true, force: true });
	}
}

async function main(): Promise<void> {
	if (process.env.MEDIASOUP_WORKER_BIN) {
		console.log(`mediasoup worker: MEDIASOUP_WORKER_BIN is set (${process.env.MEDIASOUP_WORKER_BIN}); nothing to fetch.`);
		return;
	}
	const mediasoup = installedMediasoup();
	const destination = join(mediasoup.dir, 'worker', 'out', 'Release');
	if (isExecutable(join(destination, 'mediasoup-worker'))) {
		console.log(`mediasoup worker: already in ${join(destination, 'mediasoup-worker')}.`);
		return;
	}
	const baseUrl = process.env.MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL || mediasoup.releases;
	console.log(`mediasoup worker: fetching mediasoup ${mediasoup.version}'s prebuilt worker from ${baseUrl}...`);
	const outcome = await fetchPrebuiltWorker({ version: mediasoup.version, baseUrl, destination });
	if (outcome.ok) {
		console.log(`mediasoup worker: installed ${outcome.detail} at ${outcome.path}. Calls are available.`);
		return;
	}
	console.log(`mediasoup worker: none installed: ${outcome.reason}.`);
	console.log(`Hearth runs without calls until it has one: ${HOW_TO_PROVIDE_A_WORKER} (docs/calls.md).`);
}

if (import.meta.main) {
	// Never fails the install it is part of: any surprise is reported like a failed download.
	await main().catch((error: unknown) => {
		console.log(`mediasoup worker: none installed: ${(error as Error).message}.`);
		console.log(`Hearth runs without calls until it has one: ${HOW_TO_PROVIDE_A_WORKER} (docs/calls.md).`);
	});
}
