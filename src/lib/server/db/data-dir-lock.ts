// One process at a time on an embedded (PGlite) data folder. PGlite takes no lock of its own (its
// postmaster.pid holds a constant, not a process id), and two processes writing one folder corrupt
// it; a backup copied while the server writes is not consistent either. So whoever opens the
// folder — the server, scripts/backup.sh, scripts/restore.sh — first holds this lock.
//
// The lock is a Unix socket listening in the folder, not a pid file: the kernel answers "is its
// holder alive?" (a connection to a socket whose process died is refused), so a crash never leaves
// a lock that blocks the next start, a reused pid never fakes a live holder, and it works across
// containers that share the folder as a volume (pid namespaces differ, the socket file does not).
// Creating the socket is atomic (listen fails with EADDRINUSE when the file exists).
import { createHash } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const LOCK_FILE_NAME = '.hearth.lock';

// sockaddr_un holds 108 bytes on Linux (104 on macOS), the terminating NUL included.
const MAX_SOCKET_PATH_BYTES = 100;

export class DataDirLockedError extends Error {
	constructor(dataDir: string) {
		super(
			`The embedded database in ${dataDir} is in use by another process (a running Hearth server, a backup or a restore). ` +
				'Stop it first: PGlite allows one process at a time.'
		);
		this.name = 'DataDirLockedError';
	}
}

export type DataDirLock = { release(): Promise<void> };

/**
 * Where the lock socket of a folder lives: inside it, or — when that path is too long for a Unix
 * socket — in the temporary folder under a name derived from the folder's absolute path (then it
 * only excludes processes that share that temporary folder, which docs/self-hosting/backups.md says).
 */
export function lockPathFor(dataDir: string): string {
	const inside = join(resolve(dataDir), LOCK_FILE_NAME);
	if (Buffer.byteLength(inside) <= MAX_SOCKET_PATH_BYTES) return inside;
	const digest = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 24);
	return join(tmpdir(), `hearth-${digest}.lock`);
}

/** True when a live process holds the folder's lock. */
export function isDataDirLocked(dataDir: string): Promise<boolean> {
	return holderAlive(lockPathFor(dataDir));
}

function holderAlive(path: string): Promise<boolean> {
	return new Promise((done) => {
		const socket = connect(path);
		socket.once('connect', () => {
			socket.destroy();
			done(true);
		});
		// ENOENT: no lock; ECONNREFUSED: its holder died (a stale socket file).
		socket.once('error', () => done(false));
	});
}

function listen(path: string): Promise<Server> {
	return new Promise((done, fail) => {
		// A holder only has to exist; connections (liveness probes) are closed at once.
		const server = createServer((socket) => socket.destroy());
		server.once('error', fail);
		server.listen(path, () => {
			server.off('error', fail);
			// The lock must not keep a process alive that has nothing else to do.
			server.unref();
			done(server);
		});
	});
}

/** Takes the folder's lock, or throws DataDirLockedError when a live process holds it. */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
	const path = lockPathFor(dataDir);
	let server: Server;
	try {
		server = await listen(path);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
		if (await holderAlive(path)) throw new DataDirLockedError(dataDir);
		// Left behind by a process that died: take it over.
		unlinkSync(path);
		try {
			server = await listen(path);
		} catch (retryError) {
			// Another process took it over in between.
			if ((retryError as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new DataDirLockedError(dataDir);
			throw retryError;
		}
	}
	let released: Promise<void> | undefined;
	return {
		release() {
			// Closing a listening Unix socket removes its file.
			released ??= new Promise<void>((done) => server.close(() => done()));
			return released;
		}
	};
}
