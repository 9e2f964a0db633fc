// The bench's latency histogram: its percentiles are what the bench report and its targets quote.
import { describe, expect, it } from 'vitest';
import { Histogram } from '../../bench/histogram.ts';

describe('bench latency histogram', () => {
	it('reports percentiles within 1 % of the exact values', () => {
		const histogram = new Histogram();
		for (let i = 1; i <= 10_000; i += 1) histogram.record(i / 100); // 0.01 ms … 100 ms
		const summary = histogram.summary();
		expect(summary.count).toBe(10_000);
		expect(summary.p50).toBeGreaterThanOrEqual(50 * 0.99);
		expect(summary.p50).toBeLessThanOrEqual(50 * 1.01);
		expect(summary.p99).toBeGreaterThanOrEqual(99 * 0.99);
		expect(summary.p99).toBeLessThanOrEqual(99 * 1.01);
		expect(summary.max).toBe(100);
	});

	it('never reports a percentile above the largest sample', () => {
		const histogram = new Histogram();
		histogram.record(3.3);
		expect(histogram.percentile(99)).toBe(3.3);
	});

	it('merges histograms sent as JSON exactly as if one had recorded everything', () => {
		const all = new Histogram();
		const left = new Histogram();
		const right = new Histogram();
		for (let i = 0; i < 1000; i += 1) {
			const value = (i * 7919) % 500;
			all.record(value);
			(i % 2 ? left : right).record(value);
		}
		const merged = Histogram.fromJSON(JSON.parse(JSON.stringify(left.toJSON())));
		merged.merge(Histogram.fromJSON(JSON.parse(JSON.stringify(right.toJSON()))));
		expect(merged.summary()).toEqual(all.summary());
	});

	it('summarises an empty histogram as no data rather than zero', () => {
		const empty = Histogram.fromJSON(JSON.parse(JSON.stringify(new Histogram().toJSON())));
		expect(empty.summary().count).toBe(0);
		expect(empty.summary().p99).toBeNaN();
	});
});
