// Where the mediasoup-worker binary is, or why there is none. npm skips mediasoup's install script
// (package.json allowScripts); scripts/fetch-mediasoup-worker.ts (quickstart, Docker image) fetches
// mediasoup's prebuilt worker where the network allows. Without one the server runs without calls
// and says so, with the ways to provide one, instead of failing to start.
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The two ways to give Hearth a worker when mediasoup's prebuilt one could not be fetched (start-up log, /health). */
export const HOW_TO_PROVIDE_A_WORKER =
	'set MEDIASOUP_WORKER_BIN to a mediasoup-worker binary of the installed mediasoup version, or build one with `npm run worker:build` (needs Python 3 with pip, make and a C++ compiler); `npm run worker:fetch` downloads mediasoup’s prebuilt worker where the network allows';

export type WorkerBinResolution = { ok: true; path: string; source: 'MEDIASOUP_WORKER_BIN' | 'node_modules' } | { ok: false; reason: string };

function executable(path: string): boolean {
	try {
		// access(X_OK) alone says yes to root for any file; the mode bits say whether it is a program.
		const stat = statSync(path);
		if (!stat.isFile() || (stat.mode & 0o111) === 0) return false;
		accessSync(path, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

/**
 * The installed mediasoup package's folder. Its package.json is not in its "exports", so it is
 * found from the package's entry point (node/lib/index.js) by walking up to that package.json.
 */
export function mediasoupPackageDir(): string | null {
	try {
		let dir = dirname(createRequire(import.meta.url).resolve('mediasoup'));
		for (;;) {
			const manifest = join(dir, 'package.json');
			if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'mediasoup') return dir;
			const parent = dirname(dir);
			if (parent === dir) return null;
			dir = parent;
		}
	} catch {
		return null;
	}
}

/** The worker mediasoup's install step (or scripts/fetch-mediasoup-worker.ts) places inside the package. */
export function packagedWorkerBin(): string | null {
	const dir = mediasoupPackageDir();
	return dir ? join(dir, 'worker', 'out', 'Release', 'mediasoup-worker') : null;
}

export function resolveWorkerBin(configured: string | undefined): WorkerBinResolution {
	if (configured) {
		if (executable(configured)) return { ok: true, path: configured, source: 'MEDIASOUP_WORKER_BIN' };
		return { ok: false, reason: `MEDIASOUP_WORKER_BIN=${configured} is not an executable file` };
	}
	const packaged = packagedWorkerBin();
	if (packaged && executable(packaged)) return { ok: true, path: packaged, source: 'node_modules' };
	return {
		ok: false,
		reason: `no mediasoup worker: ${HOW_TO_PROVIDE_A_WORKER}`
	};
}
