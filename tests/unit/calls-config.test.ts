// Call settings (src/env.ts, config.ts), TURN credentials in coturn's use-auth-secret scheme, and
// where the mediasoup worker comes from.
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '#lib/server/config/config.ts';
import { preflightReport } from '#lib/server/config/preflight.ts';
import { iceServersFor, turnCredential } from '../../server/calls/turn-credentials.ts';
import { packagedWorkerBin, resolveWorkerBin } from '../../server/calls/worker-bin.ts';

const TURN_SECRET = '5e8d2f7a1c4b9e3d6a0f2c8b5e1d7a4c9f3b6e0d2a8c5f1b7e4d0a3c6f9b2e5d';

function problems(env: Record<string, string>): string[] {
	try {
		loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://', ...env });
		return [];
	} catch (error) {
		if (error instanceof ConfigError) return error.problems;
		throw error;
	}
}

describe('call settings', () => {
	it('default to local-only media on port 40000, one worker per core, 25 participants, no ICE servers', () => {
		const { calls } = loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://' });
		expect(calls).toMatchObject({ workerBin: undefined, listenIp: '127.0.0.1', announcedAddress: undefined, port: 40000, maxParticipants: 25, stunUrls: [], turnUrls: [], turnTtlSeconds: 3600 });
		expect(calls.workers).toBeGreaterThanOrEqual(1);
	});

	it('run one worker per core when CALL_WORKERS is unset or empty, and none when it is 0 (a node without calls)', () => {
		const cores = loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://' }).calls.workers;
		expect(loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://', CALL_WORKERS: '' }).calls.workers).toBe(cores);
		expect(loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://', CALL_WORKERS: '0' }).calls.workers).toBe(0);
		expect(loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://', CALL_WORKERS: '3' }).calls.workers).toBe(3);
	});

	it('refuse TURN_URLS without TURN_SECRET, a weak TURN_SECRET, non-TURN URLs and a listen address that is not an IP', () => {
		expect(problems({ TURN_URLS: 'turn:turn.example.com:3478' })).toEqual(['TURN_URLS needs TURN_SECRET, the static-auth-secret shared with the TURN server']);
		expect(problems({ TURN_URLS: 'turn:turn.example.com:3478', TURN_SECRET: 'secret' })[0]).toMatch(/^TURN_SECRET is \d+ bytes; it needs at least 32 random bytes/);
		expect(problems({ TURN_URLS: 'https://turn.example.com', TURN_SECRET })).toEqual(['TURN_URLS: "https://turn.example.com" must start with turn: or turns:']);
		expect(problems({ STUN_URLS: 'turn:x' })).toEqual(['STUN_URLS: "turn:x" must start with stun: or stuns:']);
		expect(problems({ CALL_LISTEN_IP: 'example.com' })).toEqual(['CALL_LISTEN_IP must be an IP address, got "example.com"']);
		expect(problems({ CALL_PORT: '65535', CALL_WORKERS: '2' })).toEqual(['CALL_PORT + CALL_WORKERS - 1 must stay below 65536']);
	});

	it('allow the plain-RTP test tap (a copy of every call stream) only with APP_ENV=test', () => {
		expect(problems({ APP_ENV: 'development', DATA_DIR: './data', CALL_TEST_TAP_PORT: '40999' })).toEqual(['CALL_TEST_TAP_PORT is for tests only: it needs APP_ENV=test']);
		expect(loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://', CALL_TEST_TAP_PORT: '40999' }).calls.testTapPort).toBe(40999);
		expect(loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://' }).calls.testTapPort).toBe(0);
	});

	it('preflight names the TURN servers and credential lifetime, never the secret', () => {
		const config = loadConfig({ APP_ENV: 'test', DATA_DIR: 'memory://', TURN_URLS: 'turns:turn.example.com:5349', TURN_SECRET, TURN_TTL_SECONDS: '900' });
		const report = preflightReport(config, new Set(), { describe: () => 'unavailable: no mediasoup worker' });
		expect(report.turn).toBe('turns:turn.example.com:5349 with 900 s credentials (TURN_SECRET set, hidden)');
		expect(report.calls).toBe('unavailable: no mediasoup worker');
		expect(JSON.stringify(report)).not.toContain(TURN_SECRET);
	});
});

describe('TURN credentials (coturn use-auth-secret)', () => {
	it('are "<expiry>:<user id>" signed with base64(HMAC-SHA1(secret, username))', () => {
		const { username, credential } = turnCredential(TURN_SECRET, 'user-1', 1_800_000_000);
		expect(username).toBe('1800000000:user-1');
		expect(credential).toBe(createHmac('sha1', TURN_SECRET).update('1800000000:user-1').digest('base64'));
	});

	it('expire TURN_TTL_SECONDS after issue, and are only issued when TURN is configured', () => {
		const now = Date.UTC(2026, 0, 1);
		const config = { stunUrls: ['stun:s.example.com'], turnUrls: ['turn:t.example.com'], turnSecret: TURN_SECRET, turnTtlSeconds: 600 };
		const [stun, turn] = iceServersFor(config, 'u', now);
		expect(stun).toEqual({ urls: ['stun:s.example.com'] });
		expect(turn!.username).toBe(`${now / 1000 + 600}:u`);
		expect(iceServersFor({ ...config, turnUrls: [] }, 'u', now)).toEqual([stun]);
	});
});

describe('mediasoup worker location', () => {
	it('refuses a MEDIASOUP_WORKER_BIN that is not an executable file, saying which', () => {
		expect(resolveWorkerBin('/nonexistent/worker')).toEqual({ ok: false, reason: 'MEDIASOUP_WORKER_BIN=/nonexistent/worker is not an executable file' });
		const notAProgram = join(mkdtempSync(join(tmpdir(), 'hearth-worker-bin-')), 'mediasoup-worker');
		writeFileSync(notAProgram, 'not a program', { mode: 0o644 });
		expect(resolveWorkerBin(notAProgram)).toEqual({ ok: false, reason: `MEDIASOUP_WORKER_BIN=${notAProgram} is not an executable file` });
	});

	it('accepts an executable MEDIASOUP_WORKER_BIN', () => {
		expect(resolveWorkerBin('/bin/sh')).toEqual({ ok: true, path: '/bin/sh', source: 'MEDIASOUP_WORKER_BIN' });
	});

	it('looks for a fetched or built worker inside the installed mediasoup package (whose package.json it does not export)', () => {
		const root = new URL('../../', import.meta.url).pathname;
		expect(packagedWorkerBin()).toBe(join(root, 'node_modules/mediasoup/worker/out/Release/mediasoup-worker'));
	});

	it('without a worker, says the two ways to provide one', () => {
		if (existsSync(packagedWorkerBin()!)) return; // a machine with mediasoup's worker installed
		expect(resolveWorkerBin(undefined)).toEqual({
			ok: false,
			reason:
				'no mediasoup worker: set MEDIASOUP_WORKER_BIN to a mediasoup-worker binary of the installed mediasoup version, or build one with `npm run worker:build` (needs Python 3 with pip, make and a C++ compiler); `npm run worker:fetch` downloads mediasoup’s prebuilt worker where the network allows'
		});
	});
});
