// The connect path's batch schedule (server/realtime/batch-window.ts): a lone lookup runs in the
// next turn, lookups that keep coming are gathered into batches at most one window apart, so a
// burst of connections shares a few statements instead of running one each.
import DataLoader from 'dataloader';
import { describe, expect, it } from 'vitest';
import { batchWindow } from '../../server/realtime/batch-window.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function recordingLoader(windowMs: number) {
	const batches: string[][] = [];
	const loader = new DataLoader(
		async (keys: readonly string[]) => {
			batches.push([...keys]);
			return keys;
		},
		{ cache: false, batchScheduleFn: batchWindow(windowMs) }
	);
	return { loader, batches };
}

describe('batch window', () => {
	it('runs a lone lookup in the next turn, without waiting for the window', async () => {
		const { loader, batches } = recordingLoader(10_000);
		const started = performance.now();
		expect(await loader.load('a')).toBe('a');
		expect(performance.now() - started).toBeLessThan(1_000);
		expect(batches).toEqual([['a']]);
	});

	it('gathers lookups arriving one per turn after a batch into one batch a window later', async () => {
		const { loader, batches } = recordingLoader(50);
		const answers = [loader.load('first')];
		await new Promise((resolve) => setImmediate(resolve));
		// Each of these arrives in its own turn: batched per turn, they would be three batches.
		for (const key of ['b', 'c', 'd']) {
			answers.push(loader.load(key));
			await new Promise((resolve) => setImmediate(resolve));
		}
		expect(await Promise.all(answers)).toEqual(['first', 'b', 'c', 'd']);
		expect(batches).toEqual([['first'], ['b', 'c', 'd']]);
	});

	it('runs at once again once the window after the last batch has passed', async () => {
		const { loader, batches } = recordingLoader(200);
		await loader.load('a');
		await sleep(300);
		const started = performance.now();
		await loader.load('b');
		expect(performance.now() - started).toBeLessThan(100);
		expect(batches).toEqual([['a'], ['b']]);
	});
});
