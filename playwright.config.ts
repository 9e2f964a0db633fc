// End-to-end tests: the built app (`node server/main.ts`, as `npm start` runs it) on a throwaway
// in-memory database, driven by the system Chromium (never a downloaded browser).
import { randomBytes } from 'node:crypto';
import { SERVER_ENV_ASSIGNMENTS, SERVER_NODE_FLAGS } from './server/node-flags.ts';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import { resolveWorkerBin } from './server/calls/worker-bin.ts';
import { E2E_METRICS_TOKEN } from './tests/e2e/metrics-token.ts';

// Call tests need a mediasoup worker: MEDIASOUP_WORKER_BIN, else one placed at
// ~/.cache/hearth/mediasoup-worker (scripts/test-all.sh), else the package's own. Without one the
// server reports calls unavailable and calls.spec.ts is skipped with this reason.
const cachedWorker = join(homedir(), '.cache/hearth/mediasoup-worker');
const workerBin = process.env.MEDIASOUP_WORKER_BIN || (existsSync(cachedWorker) ? cachedWorker : undefined);
const worker = resolveWorkerBin(workerBin);
process.env.HEARTH_E2E_NO_CALLS = worker.ok ? '' : worker.reason;

// A fixed port away from the usual dev ports, so a developer's running instance is never reused.
// E2E_PORT moves it, so two checkouts can run their browser tests at once.
const PORT = Number(process.env.E2E_PORT ?? 3917);
const BASE_URL = `http://127.0.0.1:${PORT}`;
// The push tests run a fake push service here (tests/e2e/push.spec.ts); the server may push to it.
export const PUSH_PORT = PORT + 2;

export default defineConfig({
	testDir: 'tests/e2e',
	// Tests share one server and some share accounts (sign-ups are rate-limited per IP): one at a time.
	workers: 1,
	fullyParallel: false,
	retries: 0,
	timeout: 60_000,
	expect: { timeout: 10_000 },
	forbidOnly: !!process.env.CI,
	reporter: [['list'], ['json', { outputFile: 'reports/playwright.json' }]],
	outputDir: 'test-results',
	use: {
		baseURL: BASE_URL,
		trace: 'retain-on-failure',
		screenshot: 'only-on-failure',
		launchOptions: {
			executablePath: process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium',
			args: [
				'--headless',
				'--no-sandbox',
				'--disable-gpu',
				'--disable-quic',
				'--no-first-run',
				'--disable-background-networking',
				'--disable-component-update',
				'--disable-sync'
			]
		}
	},
	projects: [
		// Runs first, on the empty server: the first account becomes its owner.
		{ name: 'first-run', testMatch: /first-run\.setup\.ts/ },
		{
			name: 'chromium',
			// The screenshot tour is a tool for design review, not a test: it runs only when asked for
			// (UI_SHOTS_DIR=/some/folder npx playwright test screenshots).
			testIgnore: [/\.setup\.ts$/, /reverse-proxy\.spec\.ts$/, ...(process.env.UI_SHOTS_DIR ? [] : [/screenshots\.spec\.ts$/])],
			dependencies: ['first-run']
		},
		// nginx and Caddy, configured as docs/self-hosting/ shows, in front of servers of their own
		// (ORIGIN must be the proxy's https address): independent of the shared server above.
		{
			name: 'reverse-proxy',
			testMatch: /reverse-proxy\.spec\.ts$/,
			use: { ignoreHTTPSErrors: true }
		}
	],
	webServer: {
		command: [SERVER_ENV_ASSIGNMENTS, 'node', ...SERVER_NODE_FLAGS, 'server/main.ts'].join(' '),
		url: `${BASE_URL}/ready`,
		reuseExistingServer: false,
		timeout: 60_000,
		stdout: 'ignore',
		stderr: 'pipe',
		env: {
			...(process.env as Record<string, string>),
			APP_ENV: 'test',
			DATA_DIR: 'memory://',
			HOST: '127.0.0.1',
			PORT: String(PORT),
			LOG_LEVEL: 'warn',
			// One browser from 127.0.0.1 plays every user, much faster than people do: the per-IP
			// HTTP limits (tested in tests/integration/rate-limits.test.ts) must not trip here, nor
			// the per-IP sign-up limit (tested in tests/integration/auth.test.ts): the suite creates
			// more than its default 20 accounts in an hour.
			HTTP_RATE_PER_MINUTE: '1000000',
			HTTP_AUTH_RATE_PER_MINUTE: '1000000',
			...(worker.ok ? { MEDIASOUP_WORKER_BIN: worker.path } : {}),
			CALL_WORKERS: '1',
			METRICS_TOKEN: E2E_METRICS_TOKEN,
			CALL_PORT: '0',
			SIGN_UPS_PER_IP_PER_HOUR: '1000',
			PUSH_SERVICE_HOSTS: `127.0.0.1:${PUSH_PORT}`,
			// Two-factor set-up needs a configured APP_SECRET (authenticator secrets are sealed with it).
			APP_SECRET: process.env.APP_SECRET ?? randomBytes(32).toString('hex')
		}
	}
});
