// Reads /metrics the way Prometheus would: the text is parsed by a real Prometheus parser (Python's
// prometheus_client, installed by scripts/lib/ensure-prometheus-parser.sh), never by a regex here,
// so output a scraper would reject fails the tests. When `promtool` is on PATH, its linter runs too.
import { spawnSync } from 'node:child_process';

export type Sample = { name: string; labels: Record<string, string>; value: number };
export type ParsedMetrics = { families: Map<string, string>; samples: Sample[] };

// Prints one JSON document: the families (name → type) and every sample, as the parser saw them.
const PARSE_SCRIPT = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = {}
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = family.type
    for s in family.samples:
        # As text: NaN and ±Inf are valid sample values but not JSON.
        samples.append({"name": s.name, "labels": s.labels, "value": repr(float(s.value))})
print(json.dumps({"families": families, "samples": samples}))
`;

function works(python: string): boolean {
	return spawnSync(python, ['-c', 'import prometheus_client.parser'], { stdio: 'ignore' }).status === 0;
}

/** The Python interpreter that has prometheus_client, or null. */
export const prometheusPython: string | null = [process.env.HEARTH_PROMETHEUS_PYTHON, 'python3', '/usr/bin/python3'].find((p): p is string => !!p && works(p)) ?? null;

export const parserMissingReason = prometheusPython
	? null
	: 'no Prometheus parser: install python3-prometheus-client (scripts/test-all.sh does when it may)';

export function parseMetrics(text: string): ParsedMetrics {
	if (!prometheusPython) throw new Error(parserMissingReason!);
	const result = spawnSync(prometheusPython, ['-c', PARSE_SCRIPT], { input: text, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
	if (result.status !== 0) throw new Error(`the Prometheus parser rejected /metrics:\n${result.stderr}`);
	const parsed = JSON.parse(result.stdout) as { families: Record<string, string>; samples: Array<Omit<Sample, 'value'> & { value: string }> };
	const numberOf = (text: string) => ({ nan: NaN, inf: Infinity, '-inf': -Infinity })[text] ?? Number(text);
	return { families: new Map(Object.entries(parsed.families)), samples: parsed.samples.map((s) => ({ ...s, value: numberOf(s.value) })) };
}

/** Problems `promtool check metrics` reports (lint), or null when promtool is not installed. */
export function promtoolProblems(text: string): string | null {
	const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
	if (result.error) return null;
	return result.status === 0 ? '' : `${result.stdout}${result.stderr}`;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there is none yet). */
export function sampleSum(metrics: ParsedMetrics, name: string, labels: Record<string, string> = {}): number {
	return metrics.samples
		.filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value))
		.reduce((sum, s) => sum + s.value, 0);
}
