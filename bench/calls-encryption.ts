// `npm run bench:calls:encryption` (also the last part of `npm run bench:calls`): what end-to-end
// encryption of call media costs in the browser, measured in the same run with and without it.
//
// Hearth has no unencrypted call mode, on purpose. For the comparison this bench serves the
// browsers, in place of the call's media worker (src/lib/client/calls/media-crypto.worker.ts), a
// pass-through worker speaking the same protocol: the same encoded-transform plumbing and the same
// key exchange between devices, but frames leave and arrive as they are. The difference between
// the two runs is the frame encryption itself (WebCrypto AES-GCM per frame, the trailer) plus
// waiting for the others' keys before their first frame can be played.
//
// Each run: the built Hearth server (APP_ENV=test, in-memory database, one mediasoup worker), N
// people in headless Chromium with fake camera and microphone joining one voice call one after
// another. Join time: "Join call" clicked → the first frame from every person already in the call
// played (decrypted, or passed through). Then everyone turns the camera on and, after a warm-up,
// the browser's CPU (every Chromium process, from the DevTools protocol's SystemInfo.getProcessInfo)
// is read over a window. Results: bench/results/calls-encryption-<time>.json and a table.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { resolveWorkerBin } from '../server/calls/worker-bin.ts';
import { ROOT } from './servers.ts';

const USAGE = `Usage: node bench/calls-encryption.ts [options]
  --participants N   people in the call                      (default 3)
  --warmup S         seconds with every camera on before measuring (default 5)
  --window S         seconds of the CPU window                (default 10)
  --out DIR          where the JSON goes                      (default bench/results)
Needs the built app (npm run build), Chromium (/usr/bin/chromium or HEARTH_CHROMIUM) and a mediasoup worker.`;

const log = (text: string) => console.error(text);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const PASSWORD = 'bench-password-7f3a9c1e';
const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--use-fake-ui-for-media-stream',
	'--use-fake-device-for-media-stream',
	'--autoplay-policy=no-user-gesture-required'
];

/**
 * The pass-through media worker: the requests of media-crypto.worker.ts answered without keys
 * mattering (grants are zero keys), frames piped unchanged and counted per sender, so the call's
 * "frames decrypted" figures work the same.
 */
const PASSTHROUGH_WORKER = `
const counts = { encrypted: 0, decrypted: 0, decryptedFrom: {}, droppedNoKey: 0, droppedInvalid: 0 };
let kid = 0;
const grant = () => ({ kid: kid++, key: new Uint8Array(16) });
function pipe(target, readable, writable) {
	const transform = new TransformStream({
		transform(frame, controller) {
			if (target.direction === 'send') counts.encrypted += 1;
			else {
				counts.decrypted += 1;
				counts.decryptedFrom[target.senderDeviceId] = (counts.decryptedFrom[target.senderDeviceId] || 0) + 1;
			}
			controller.enqueue(frame);
		}
	});
	readable.pipeThrough(transform).pipeTo(writable).catch(() => {});
}
console.info('hearth-bench: pass-through media worker');
self.onmessage = (event) => {
	const { id, request } = event.data;
	let result = null;
	switch (request.op) {
		case 'startCall': case 'sendingKeys': result = [grant()]; break;
		case 'ratchetForJoin': case 'rotateForLeave': result = grant(); break;
		case 'counts': result = JSON.parse(JSON.stringify(counts)); break;
		case 'pipe': pipe(request.target, request.readable, request.writable); break;
	}
	self.postMessage({ id, result });
};
self.onrtctransform = (event) => pipe(event.transformer.options, event.transformer.readable, event.transformer.writable);
`;

type Mode = 'encrypted' | 'not encrypted (pass-through worker)';
type RunResult = { mode: Mode; joinMs: number[]; browserCpuPercent: number; framesDecrypted: number };

async function startServer(workerBin: string): Promise<{ child: ChildProcess; origin: string }> {
	const child = spawn(process.execPath, ['server/main.ts'], {
		cwd: ROOT,
		env: {
			PATH: process.env.PATH ?? '',
			APP_ENV: 'test',
			DATA_DIR: 'memory://',
			HOST: '127.0.0.1',
			PORT: '0',
			LOG_LEVEL: 'info',
			MEDIASOUP_WORKER_BIN: workerBin,
			CALL_WORKERS: '1',
			CALL_PORT: '0',
			HTTP_RATE_PER_MINUTE: '1000000',
			HTTP_AUTH_RATE_PER_MINUTE: '1000000',
			SIGN_UPS_PER_IP_PER_HOUR: '1000'
		},
		stdio: ['ignore', 'pipe', 'pipe']
	});
	const port = await new Promise<number>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('the server did not start in 60 s')), 60_000);
		let buffered = '';
		const onData = (chunk: Buffer) => {
			buffered += chunk.toString('utf8');
			for (const line of buffered.split('\n')) {
				if (line.includes('Hearth is running')) {
					clearTimeout(timer);
					resolve((JSON.parse(line) as { port: number }).port);
				}
			}
			buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
		};
		child.stdout!.on('data', onData);
		child.stderr!.on('data', onData);
		child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
	});
	return { child, origin: `http://localhost:${port}` };
}

/** A signed-up person in a browser context of their own, with the API behind the page's cookies. */
async function person(browser: Browser, origin: string, name: string, inviteCode?: string) {
	const context = await browser.newContext({ baseURL: origin });
	const csrf = async () => ((await (await context.request.get('/api/csrf')).json()) as { token: string }).token;
	const send = async <T>(path: string, body: unknown): Promise<T> => {
		const response = await context.request.post(path, { headers: { origin, 'x-csrf-token': await csrf(), 'content-type': 'application/json' }, data: JSON.stringify(body) });
		if (!response.ok()) throw new Error(`POST ${path}: ${response.status()} ${await response.text()}`);
		return (await response.json()) as T;
	};
	const username = `${name.toLowerCase()}${Math.random().toString(36).slice(2, 8)}`;
	const { user } = await send<{ user: { id: string } }>('/api/auth/sign-up', { username, password: PASSWORD, displayName: name, ...(inviteCode ? { inviteCode } : {}) });
	return { context, send, page: await context.newPage(), userId: user.id, name };
}
type Person = Awaited<ReturnType<typeof person>>;

const decryptedFrom = async (page: Page, userId: string) =>
	Number((await page.getByRole('list', { name: 'In the call' }).locator(`li[data-user-id="${userId}"]`).getAttribute('data-frames-decrypted').catch(() => '0')) ?? 0);

async function busySeconds(browser: Browser): Promise<number> {
	const session = await browser.newBrowserCDPSession();
	const { processInfo } = (await session.send('SystemInfo.getProcessInfo')) as { processInfo: { cpuTime: number }[] };
	await session.detach();
	return processInfo.reduce((sum, process) => sum + process.cpuTime, 0);
}

async function run(mode: Mode, origin: string, options: { participants: number; warmupSeconds: number; windowSeconds: number }): Promise<RunResult> {
	const browser = await chromium.launch({ executablePath: process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
	const contexts: BrowserContext[] = [];
	try {
		const names = ['Ana', 'Bo', 'Cy', 'Dee', 'Eli', 'Fay', 'Gus', 'Hal'];
		const owner = await person(browser, origin, names[0]!);
		const community = await owner.send<{ community: { id: string } }>('/api/communities', { name: `Bench ${mode}` });
		const { invite } = await owner.send<{ invite: { code: string } }>(`/api/communities/${community.community.id}/invites`, {});
		const { channel } = await owner.send<{ channel: { id: string } }>(`/api/communities/${community.community.id}/channels`, { name: 'bench', kind: 'voice' });
		const people: Person[] = [owner];
		for (let i = 1; i < options.participants; i++) people.push(await person(browser, origin, names[i % names.length]!, invite.code));
		let passthroughSeen = 0;
		for (const p of people) {
			contexts.push(p.context);
			if (mode !== 'encrypted') {
				await p.context.route(/media-crypto\.worker-[^/]*\.js$/, (route) => route.fulfill({ contentType: 'text/javascript', body: PASSTHROUGH_WORKER }));
				p.page.on('console', (message) => {
					if (message.text() === 'hearth-bench: pass-through media worker') passthroughSeen += 1;
				});
			}
		}
		const joinMs: number[] = [];
		for (const [index, p] of people.entries()) {
			await p.page.goto(`/c/${community.community.id}/${channel.id}`);
			const started = performance.now();
			await p.page.getByRole('button', { name: 'Join call' }).click();
			await p.page.getByRole('region', { name: 'Voice call' }).getByText('In the call').first().waitFor({ timeout: 60_000 });
			const earlier = people.slice(0, index);
			for (;;) {
				const heard = await Promise.all(earlier.map((other) => decryptedFrom(p.page, other.userId)));
				if (heard.every((frames) => frames > 0)) break;
				if (performance.now() - started > 60_000) throw new Error(`${p.name} received nothing from everyone within 60 s (${mode})`);
				await sleep(20);
			}
			if (index > 0) joinMs.push(Math.round(performance.now() - started));
		}
		if (mode !== 'encrypted' && passthroughSeen < people.length) throw new Error(`the pass-through worker ran in ${passthroughSeen} of ${people.length} pages`);
		for (const p of people) await p.page.getByRole('button', { name: 'Camera', exact: true }).click();
		await sleep(options.warmupSeconds * 1000);
		const before = await busySeconds(browser);
		const windowStart = performance.now();
		await sleep(options.windowSeconds * 1000);
		const busy = (await busySeconds(browser)) - before;
		const seconds = (performance.now() - windowStart) / 1000;
		let framesDecrypted = 0;
		for (const p of people) for (const other of people) if (other !== p) framesDecrypted += await decryptedFrom(p.page, other.userId);
		return { mode, joinMs, browserCpuPercent: Math.round((busy / seconds) * 1000) / 10, framesDecrypted };
	} finally {
		for (const context of contexts) await context.close().catch(() => {});
		await browser.close().catch(() => {});
	}
}

async function main(): Promise<void> {
	const { values } = parseArgs({ options: { participants: { type: 'string' }, warmup: { type: 'string' }, window: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } } });
	if (values.help) return void console.log(USAGE);
	const options = { participants: Number(values.participants ?? 3), warmupSeconds: Number(values.warmup ?? 5), windowSeconds: Number(values.window ?? 10) };
	const cached = join(homedir(), '.cache/hearth/mediasoup-worker');
	const worker = resolveWorkerBin(process.env.MEDIASOUP_WORKER_BIN || (existsSync(cached) ? cached : undefined));
	if (!worker.ok) throw new Error(`no mediasoup worker: ${worker.reason}`);
	if (!existsSync(join(ROOT, 'build/handler.js'))) throw new Error('the app is not built: run npm run build first');
	const server = await startServer(worker.path);
	const results: RunResult[] = [];
	try {
		for (const mode of ['encrypted', 'not encrypted (pass-through worker)'] as const) {
			log(`calls encryption bench: ${options.participants} people, ${mode}...`);
			results.push(await run(mode, server.origin, options));
		}
	} finally {
		server.child.kill('SIGTERM');
	}
	const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
	console.log(`\nCall media encryption in Chromium: ${options.participants} people, camera and microphone each, one browser process tree, ${options.windowSeconds} s window\n`);
	const rows = [
		['', ...results.map((r) => r.mode)],
		['join → first frame of everyone already in (ms, each joiner)', ...results.map((r) => r.joinMs.join(', '))],
		['join, median (ms)', ...results.map((r) => String(median(r.joinMs)))],
		['browser CPU, everyone sending and receiving (% of one core)', ...results.map((r) => String(r.browserCpuPercent))],
		['frames played, all receivers', ...results.map((r) => String(r.framesDecrypted))]
	];
	const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
	for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
	const outDir = values.out ?? join(ROOT, 'bench/results');
	mkdirSync(outDir, { recursive: true });
	const file = join(outDir, `calls-encryption-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
	writeFileSync(file, JSON.stringify({ options, results }, null, 2));
	console.log(`\nResults: ${file}`);
}

main().then(
	() => process.exit(0),
	(error: Error) => {
		log(`calls encryption bench failed: ${error.stack ?? error.message}`);
		process.exit(1);
	}
);
