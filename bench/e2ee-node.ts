// The E2EE benchmark scenarios (bench/e2ee-scenarios.ts) in Node: `node bench/e2ee-node.ts`.
// `npm run bench:e2ee` (bench/e2ee-browser.ts) runs this same file as its Node column, next to
// Chromium, in the same run; run alone it prints the figures and, with --json FILE, writes them.
// libsodium runs as WebAssembly here as in the browser. The machine is shared: compare runs taken
// on an idle machine only.
//
// Options: --messages N (per message scenario, default 2000), --devices N (distribution fan-out,
// default 100), --attachment-mb N (default 10), --argon2-runs N (default 3), --json FILE.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_SCENARIO_OPTIONS, runE2eeScenarios, type ScenarioOptions, type ScenarioResults } from './e2ee-scenarios.ts';

export function scenarioOptionsFromArgs(args: string[]): { options: ScenarioOptions; json: string | undefined; rest: Record<string, string | boolean | undefined> } {
	const { values } = parseArgs({
		args,
		allowPositionals: false,
		options: {
			messages: { type: 'string' },
			devices: { type: 'string' },
			'attachment-mb': { type: 'string' },
			'argon2-runs': { type: 'string' },
			json: { type: 'string' },
			'keep-bundle': { type: 'boolean' }
		}
	});
	const number = (text: string | undefined, fallback: number) => {
		if (text === undefined) return fallback;
		const n = Number(text);
		if (!Number.isFinite(n) || n < 0) throw new Error(`not a number ≥ 0: ${text}`);
		return n;
	};
	const d = DEFAULT_SCENARIO_OPTIONS;
	return {
		options: {
			...d,
			messages: Math.max(1, Math.floor(number(values.messages, d.messages))),
			devices: Math.max(1, Math.floor(number(values.devices, d.devices))),
			attachmentBytes: Math.max(1, Math.round(number(values['attachment-mb'], d.attachmentBytes / 1e6) * 1e6)),
			argon2Runs: Math.floor(number(values['argon2-runs'], d.argon2Runs))
		},
		json: values.json,
		rest: values
	};
}

/** A plain-text listing of one run's figures. */
export function formatResults(results: ScenarioResults): string {
	const ms = (value: number) => (value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(value < 100 ? 2 : 0)} ms`).padStart(10);
	const lines = [
		`libsodium ${results.libsodium}; first load: standard ${results.loadMs.sodium.toFixed(0)} ms, sumo (Argon2id) ${results.loadMs.sumo.toFixed(0)} ms`
	];
	for (const r of results.timings) {
		lines.push(`${r.label.padEnd(96)} n=${String(r.count).padStart(5)} p50 ${ms(r.p50)} p95 ${ms(r.p95)} p99 ${ms(r.p99)}`);
	}
	for (const t of results.throughputs) {
		lines.push(`${t.label.padEnd(96)} ${t.mbPerSecond.toFixed(1).padStart(8)} MB/s (median of ${t.runsMs.length}: ${t.medianMs.toFixed(0)} ms)`);
	}
	return lines.join('\n');
}

if (import.meta.main) {
	const { options, json } = scenarioOptionsFromArgs(process.argv.slice(2));
	console.log(`Hearth E2EE benchmark in Node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} ×${cpus().length}`);
	const results = await runE2eeScenarios(options, (line) => console.error(`  … ${line}`));
	console.log(formatResults(results));
	if (json) writeFileSync(json, JSON.stringify({ runtime: `Node ${process.version}`, ...results }, null, '\t'));
}
