// scripts/fetch-mediasoup-worker.ts against a release server on 127.0.0.1 (this machine reaches no
// other): the prebuilt worker is installed only when it is a tarball holding a worker that runs
// here; every other outcome leaves nothing behind, and the command never fails an install.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchPrebuiltWorker, installedMediasoup, prebuiltTarballName } from '../../scripts/fetch-mediasoup-worker.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const VERSION = '3.27.1';

/** A gzipped tarball holding a `mediasoup-worker` shell script that exits with `status`. */
async function tarballWithWorker(status: number): Promise<Buffer> {
	const dir = mkdtempSync(join(tmpdir(), 'hearth-fake-worker-'));
	writeFileSync(join(dir, 'mediasoup-worker'), `#!/bin/sh\nexit ${status}\n`, { mode: 0o644 });
	const chunks: Buffer[] = [];
	for await (const chunk of tar.c({ gzip: true, cwd: dir }, ['mediasoup-worker'])) chunks.push(Buffer.from(chunk as Uint8Array));
	rmSync(dir, { recursive: true, force: true });
	return Buffer.concat(chunks);
}

/** A loopback port nothing listens on (fetch refuses well-known ones such as 9 before connecting). */
async function closedPort(): Promise<number> {
	const probe = createServer();
	await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
	const { port } = probe.address() as AddressInfo;
	await new Promise<void>((resolve) => probe.close(() => resolve()));
	return port;
}

describe('fetching mediasoup’s prebuilt worker', () => {
	let server: Server;
	let base: string;
	const served = new Map<string, Buffer | number>();
	const requested: string[] = [];
	beforeAll(async () => {
		server = createServer((request, response) => {
			requested.push(request.url ?? '');
			const body = served.get(request.url ?? '');
			if (body === undefined) return void response.writeHead(404).end();
			if (typeof body === 'number') return void response.writeHead(body).end();
			response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/releases/download`;
	});
	afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

	const path = () => `/releases/download/${VERSION}/${prebuiltTarballName(VERSION)}`;
	const destination = () => mkdtempSync(join(tmpdir(), 'hearth-worker-dest-'));

	it('names the tarball exactly as mediasoup’s own installer does', () => {
		const output = execFileSync(process.execPath, ['npm-scripts.mjs', 'worker:prebuild-name'], { cwd: installedMediasoup().dir, encoding: 'utf8' });
		const theirs = /workerPrebuildTarName:(\S+?)\]/.exec(output)?.[1];
		expect(prebuiltTarballName(installedMediasoup().version)).toBe(theirs);
		expect(prebuiltTarballName('3.27.1', { platform: 'linux', arch: 'arm64', release: '6.8.0-45-generic' })).toBe('mediasoup-worker-3.27.1-linux-arm64-kernel6.tgz');
		expect(prebuiltTarballName('3.27.1', { platform: 'darwin', arch: 'arm64', release: '24.1.0' })).toBe('mediasoup-worker-3.27.1-darwin-arm64.tgz');
		expect(installedMediasoup().releases).toBe('https://github.com/versatica/mediasoup/releases/download');
	});

	it('installs a worker that runs on this host, executable, where Hearth looks for it', async () => {
		served.set(path(), await tarballWithWorker(41));
		const dest = destination();
		const outcome = await fetchPrebuiltWorker({ version: VERSION, baseUrl: base, destination: dest });
		expect(outcome).toEqual({ ok: true, path: join(dest, 'mediasoup-worker'), detail: `mediasoup ${VERSION}'s prebuilt worker (${prebuiltTarballName(VERSION)})` });
		expect(statSync(join(dest, 'mediasoup-worker')).mode & 0o111).not.toBe(0);
		expect(spawnSync(join(dest, 'mediasoup-worker'), [], { env: {} }).status).toBe(41);
	});

	it('refuses a worker that does not run here, and leaves nothing behind', async () => {
		served.set(path(), await tarballWithWorker(127));
		const dest = destination();
		const outcome = await fetchPrebuiltWorker({ version: VERSION, baseUrl: base, destination: dest });
		expect(outcome).toEqual({ ok: false, reason: 'the prebuilt worker does not run on this host (exit 127; another C library?)' });
		expect(readdirSync(dest)).toEqual([]);
	});

	it('reports a platform without a prebuilt worker, a failing server, a broken archive and no network, installing nothing', async () => {
		const dest = destination();
		served.delete(path());
		expect(await fetchPrebuiltWorker({ version: VERSION, baseUrl: base, destination: dest })).toEqual({
			ok: false,
			reason: `mediasoup publishes no prebuilt worker for this platform (${prebuiltTarballName(VERSION)}: 404)`
		});
		served.set(path(), 503);
		expect(await fetchPrebuiltWorker({ version: VERSION, baseUrl: base, destination: dest })).toEqual({ ok: false, reason: `could not download ${base}/${VERSION}/${prebuiltTarballName(VERSION)} (HTTP 503)` });
		served.set(path(), Buffer.from('<html>a captive portal</html>'));
		const broken = await fetchPrebuiltWorker({ version: VERSION, baseUrl: base, destination: dest });
		expect(broken.ok).toBe(false);
		expect((broken as { reason: string }).reason).toMatch(/^the download of mediasoup-worker-.+\.tgz is not a usable archive/);
		const nobody = `http://127.0.0.1:${await closedPort()}/releases/download`;
		const closed = await fetchPrebuiltWorker({ version: VERSION, baseUrl: nobody, destination: dest });
		expect(closed).toEqual({ ok: false, reason: `could not download ${nobody}/${VERSION}/${prebuiltTarballName(VERSION)} (ECONNREFUSED)` });
		expect(readdirSync(dest)).toEqual([]);
	});

	const packaged = join(installedMediasoup().dir, 'worker/out/Release/mediasoup-worker');
	it.skipIf(existsSync(packaged))('as a command, never fails the install and says how else to get a worker', async () => {
		const nobody = `http://127.0.0.1:${await closedPort()}/releases/download`;
		const result = spawnSync(process.execPath, ['scripts/fetch-mediasoup-worker.ts'], {
			cwd: ROOT,
			encoding: 'utf8',
			env: { PATH: process.env.PATH ?? '', MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL: nobody }
		});
		expect(result.status).toBe(0);
		expect(result.stdout).toContain(`mediasoup worker: none installed: could not download ${nobody}/`);
		expect(result.stdout).toContain('(ECONNREFUSED)');
		expect(result.stdout).toContain('Hearth runs without calls until it has one: set MEDIASOUP_WORKER_BIN to a mediasoup-worker binary');
		expect(result.stdout).toContain('or build one with `npm run worker:build`');
		expect(existsSync(packaged)).toBe(false);
	});

	it('as a command, leaves a configured MEDIASOUP_WORKER_BIN alone without downloading', () => {
		const before = requested.length;
		const result = spawnSync(process.execPath, ['scripts/fetch-mediasoup-worker.ts'], {
			cwd: ROOT,
			encoding: 'utf8',
			env: { PATH: process.env.PATH ?? '', MEDIASOUP_WORKER_BIN: '/opt/mediasoup-worker', MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL: base }
		});
		expect(result.status).toBe(0);
		expect(result.stdout).toBe('mediasoup worker: MEDIASOUP_WORKER_BIN is set (/opt/mediasoup-worker); nothing to fetch.\n');
		expect(requested.length).toBe(before);
	});
});
