// Shares of a `perf script` capture of the Hearth server by what the samples were doing, read from
// each stack's frame names (see bench/README.md, "Read with perf"):
//
//   perf script -i perf.data -F comm,tid,ip,sym > perf.txt && node bench/perf-breakdown.ts perf.txt
//
// A main-thread sample counts for the first category, in the order below, that any of its frames
// matches; samples of other threads count by thread name (V8Worker: V8's compilers and GC helpers).
import { readFileSync } from 'node:fs';

const CATEGORIES: Array<[name: string, frames: RegExp]> = [
	['PGlite executing statements (WebAssembly)', /execProtocolRawSync|wasm-function|WasmLiftoff|js-to-wasm|wasm-to-js/],
	['PGlite protocol (serialise, parse)', /@electric-sql\/pglite\/dist\/.*\.js|parseResults/],
	['drizzle', /drizzle-orm/],
	['socket writes (fan-out, acks)', /writevGeneric|writeGeneric|DoTryWrite|Writev|_writev|clearBuffer|sendRaw/],
	['reading client frames', /receiver\.js|socketOnData|onStreamRead/],
	['garbage collection', /Scavenger|MarkCompact|Sweeper|ConcurrentMarking/]
];

const file = process.argv[2];
if (!file) throw new Error('usage: node bench/perf-breakdown.ts perf.txt');
const samples = readFileSync(file, 'utf8').split('\n\n').filter((sample) => sample.trim());
const counts = new Map<string, number>();
for (const sample of samples) {
	const [head = '', ...frames] = sample.trim().split('\n');
	const thread = head.trim().split(/\s+/)[0] ?? '?';
	let category = `thread ${thread}`;
	if (thread === 'MainThread' || thread === 'node') {
		const stack = frames.join('\n');
		category = CATEGORIES.find(([, pattern]) => pattern.test(stack))?.[0] ?? 'other';
	}
	counts.set(category, (counts.get(category) ?? 0) + 1);
}
console.log(`${samples.length} samples`);
for (const [category, count] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${((100 * count) / samples.length).toFixed(1).padStart(6)} %  ${category}`);
