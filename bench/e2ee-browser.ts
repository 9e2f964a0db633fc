// E2EE benchmark in Chromium, with Node and a no-crypto baseline side by side in the same run:
// `npm run bench:e2ee` (that is, `node bench/e2ee-browser.ts`). See bench/README.md.
//
// 1. Bundle bench/e2ee-scenarios.ts and the product's e2ee modules it imports (src/lib/client/e2ee/,
//    libsodium-wrappers and its sumo build for Argon2id) with the project's own Vite, as a production
//    build (minified, libsodium in lazily imported chunks as in the app), into a temporary folder.
// 2. Serve that folder on 127.0.0.1 with the app's Content-Security-Policy for scripts
//    (script-src 'self' 'wasm-unsafe-eval'), so the bench proves libsodium loads under it, plus
//    COOP/COEP: a cross-origin-isolated page gets 5 µs timers instead of 100 µs ones.
// 3. Run the scenarios in the system Chromium (/usr/bin/chromium, or HEARTH_CHROMIUM) via Playwright.
// 4. Run the same scenarios in Node (bench/e2ee-node.ts, a child process) with the same options.
// 5. Print both side by side and write bench/results/e2ee-<timestamp>.json (not in git).
//
// Options (same as bench/e2ee-node.ts): --messages N, --devices N, --attachment-mb N, --argon2-runs N;
// --json FILE writes the combined results there instead of bench/results/; --keep-bundle keeps the
// temporary folder and says where it is.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { build } from 'vite';
import type { ScenarioOptions, ScenarioResults, ThroughputRow, TimingRow } from './e2ee-scenarios.ts';
import { formatResults, scenarioOptionsFromArgs } from './e2ee-node.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { options, json, rest } = scenarioOptionsFromArgs(process.argv.slice(2));

// The script-related directives of the app's CSP (vite.config.ts), enough to prove the bundle and
// libsodium's wasm run under them; the page loads nothing but same-origin module scripts.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'";

async function bundle(): Promise<string> {
	// tsconfig.json extends "$app/tsconfig", which `svelte-kit sync` generates (into node_modules/$app)
	// and Vite reads while transforming TypeScript: right after `npm ci` it is not there yet.
	if (!existsSync(join(ROOT, 'node_modules/$app/tsconfig.json'))) execFileSync(join(ROOT, 'node_modules/.bin/svelte-kit'), ['sync'], { cwd: ROOT, stdio: 'inherit' });
	const outDir = mkdtempSync(join(tmpdir(), 'hearth-e2ee-bench-'));
	try {
		await build({
			configFile: false,
			root: ROOT,
			logLevel: 'error',
			build: {
				outDir,
				emptyOutDir: false,
				minify: true,
				target: 'es2022',
				lib: { entry: join(ROOT, 'bench/e2ee-scenarios.ts'), formats: ['es'], fileName: () => 'e2ee-scenarios.js' }
			}
		});
		writeFileSync(
			join(outDir, 'page.js'),
			[
				"import { runE2eeScenarios } from './e2ee-scenarios.js';",
				"window.hearthBench = (options) => runE2eeScenarios(options, (line) => console.log('progress: ' + line));",
				"document.title = 'ready';"
			].join('\n')
		);
		writeFileSync(join(outDir, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>loading</title><script type="module" src="./page.js"></script>\n');
	} catch (error) {
		rmSync(outDir, { recursive: true, force: true });
		throw error;
	}
	return outDir;
}

function serve(dir: string): Promise<{ server: Server; url: string }> {
	const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm' };
	const server = createServer((request, response) => {
		const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
		const file = join(dir, path === '/' ? 'index.html' : path);
		if (!file.startsWith(dir)) return void response.writeHead(403).end();
		let body: Buffer;
		try {
			body = readFileSync(file);
		} catch {
			return void response.writeHead(404).end();
		}
		response.writeHead(200, {
			'content-type': types[extname(file)] ?? 'application/octet-stream',
			'content-security-policy': CSP,
			'cross-origin-opener-policy': 'same-origin',
			'cross-origin-embedder-policy': 'require-corp',
			'cache-control': 'no-store'
		});
		response.end(body);
	});
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` })));
}

type BrowserRun = ScenarioResults & { runtime: string; crossOriginIsolated: boolean; timerResolutionMs: number };

async function runInChromium(url: string, scenarioOptions: ScenarioOptions): Promise<BrowserRun> {
	const browser = await chromium.launch({
		executablePath: process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
	});
	try {
		const page = await browser.newPage();
		const problems: string[] = [];
		page.on('console', (message) => {
			const text = message.text();
			if (text.startsWith('progress: ')) console.error(`  … chromium: ${text.slice(10)}`);
			else if (message.type() === 'error') problems.push(text);
		});
		page.on('pageerror', (error) => problems.push(error.message));
		await page.goto(url);
		await page.waitForFunction(() => document.title === 'ready', null, { timeout: 30_000 }).catch(() => {
			throw new Error(`the bench page did not load: ${problems.join('; ') || 'no error reported'}`);
		});
		const environment = await page.evaluate(() => {
			// The smallest step performance.now() shows: 5 µs when cross-origin isolated, 100 µs otherwise.
			let step = Infinity;
			for (let i = 0; i < 200; i++) {
				const a = performance.now();
				let b = performance.now();
				while (b === a) b = performance.now();
				step = Math.min(step, b - a);
			}
			return { crossOriginIsolated, timerResolutionMs: step, userAgent: navigator.userAgent };
		});
		const results = await page.evaluate(
			(o) => (window as unknown as { hearthBench: (o: unknown) => Promise<ScenarioResults> }).hearthBench(o),
			scenarioOptions
		);
		if (problems.length) throw new Error(`errors in the bench page: ${problems.join('; ')}`);
		const version = browser.version();
		return { runtime: `Chromium ${version}`, crossOriginIsolated: environment.crossOriginIsolated, timerResolutionMs: environment.timerResolutionMs, ...results };
	} finally {
		await browser.close();
	}
}

function runInNode(scenarioOptions: ScenarioOptions, dir: string): Promise<ScenarioResults & { runtime: string }> {
	const out = join(dir, 'node.json');
	const args = [
		join(ROOT, 'bench/e2ee-node.ts'),
		`--messages=${scenarioOptions.messages}`,
		`--devices=${scenarioOptions.devices}`,
		`--attachment-mb=${scenarioOptions.attachmentBytes / 1e6}`,
		`--argon2-runs=${scenarioOptions.argon2Runs}`,
		`--json=${out}`
	];
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
		child.stderr.on('data', (data: Buffer) => process.stderr.write(data.toString().replaceAll('  … ', '  … node: ')));
		child.on('error', reject);
		child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(readFileSync(out, 'utf8'))) : reject(new Error(`bench/e2ee-node.ts exited with ${code}`))));
	});
}

/** Reads /proc/stat: busy and total jiffies of the whole machine, to say how busy it was during the run. */
function cpuTimes(): { busy: number; total: number } {
	try {
		const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
		const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
		const total = fields.reduce((a, b) => a + b, 0);
		return { busy: total - idle, total };
	} catch {
		return { busy: 0, total: 0 };
	}
}

function markdownTable(browser: BrowserRun, node: ScenarioResults & { runtime: string }): string {
	const us = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 100 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`);
	const trio = (r: TimingRow | undefined) => (r ? `${us(r.p50)} / ${us(r.p95)} / ${us(r.p99)}` : '–');
	const nodeTiming = new Map(node.timings.map((r) => [r.id, r]));
	const nodeThroughput = new Map(node.throughputs.map((r) => [r.id, r]));
	const lines = [
		'| operation | Chromium p50 / p95 / p99 | Node p50 / p95 / p99 |',
		'|---|---|---|',
		...browser.timings.map((r) => `| ${r.label} | ${trio(r)} | ${trio(nodeTiming.get(r.id))} |`),
		'',
		'| throughput (median run) | Chromium | Node |',
		'|---|---|---|',
		...browser.throughputs.map((r: ThroughputRow) => `| ${r.label} | ${r.mbPerSecond.toFixed(0)} MB/s | ${nodeThroughput.get(r.id)?.mbPerSecond.toFixed(0) ?? '–'} MB/s |`),
		'',
		`| first load | Chromium | Node |`,
		'|---|---|---|',
		`| libsodium standard build (loadSodium) | ${us(browser.loadMs.sodium)} | ${us(node.loadMs.sodium)} |`,
		`| libsodium sumo build (Argon2id) | ${us(browser.loadMs.sumo)} | ${us(node.loadMs.sumo)} |`
	];
	return lines.join('\n');
}

const startedAt = new Date();
const loadBefore = loadavg();
const cpuBefore = cpuTimes();
console.log(`Hearth E2EE benchmark: Chromium and Node, ${cpus()[0]?.model ?? 'cpu'} ×${cpus().length}, load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')}`);
console.error('  … bundling the e2ee modules with vite');
const dir = await bundle();
const { server, url } = await serve(dir);
let browserRun: BrowserRun;
let nodeRun: ScenarioResults & { runtime: string };
try {
	browserRun = await runInChromium(url, options);
	nodeRun = await runInNode(options, dir);
} finally {
	server.close();
	if (rest['keep-bundle']) console.error(`  … bundle kept in ${dir}`);
	else rmSync(dir, { recursive: true, force: true });
}
const cpuAfter = cpuTimes();
const machineBusyPercent = cpuAfter.total > cpuBefore.total ? (100 * cpus().length * (cpuAfter.busy - cpuBefore.busy)) / (cpuAfter.total - cpuBefore.total) : null;

console.log(`\n${browserRun.runtime} (cross-origin isolated: ${browserRun.crossOriginIsolated}, timer step ${(browserRun.timerResolutionMs * 1000).toFixed(0)} µs)`);
console.log(formatResults(browserRun));
console.log(`\n${nodeRun.runtime}`);
console.log(formatResults(nodeRun));
console.log(`\n${markdownTable(browserRun, nodeRun)}`);
console.log(
	`\nMachine CPU busy during the run: ${machineBusyPercent === null ? '?' : machineBusyPercent.toFixed(0)} % of ${cpus().length * 100} % ` +
		`(load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}); the bench itself uses one core at a time.`
);

const report = {
	startedAt: startedAt.toISOString(),
	machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryBytes: totalmem(), loadAverageBefore: loadBefore, loadAverageAfter: loadavg(), machineBusyPercent },
	options,
	chromium: browserRun,
	node: nodeRun
};
const file = json ?? join(ROOT, 'bench/results', `e2ee-${startedAt.toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`);
mkdirSync(join(file, '..'), { recursive: true });
writeFileSync(file, JSON.stringify(report, null, '\t'));
console.log(`\nWritten: ${file}`);
