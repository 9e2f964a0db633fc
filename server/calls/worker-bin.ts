// Where the mediasoup-worker binary is, or why there is none. npm may have skipped mediasoup's
// install script (package.json allowScripts) or failed to download/build it: the server then
// runs without calls and says so, instead of failing to start.
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

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

/** The worker npm would have placed inside the mediasoup package (its postinstall download or build). */
export function packagedWorkerBin(): string | null {
	try {
		const packageJson = createRequire(import.meta.url).resolve('mediasoup/package.json');
		return join(dirname(packageJson), 'worker', 'out', 'Release', 'mediasoup-worker');
	} catch {
		return null;
	}
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
		reason: 'no mediasoup worker: set MEDIASOUP_WORKER_BIN to a mediasoup-worker binary (npm did not download or build one)'
	};
}
