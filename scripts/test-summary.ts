// Reads the JSON reports of Vitest and Playwright and prints what CI reads: failures and skips by
// name (with the reason for skips where the environment tells it), then one closing line
// "N passed, N failed[, N skipped]". Exits non-zero when a report is missing or anything failed.
//
// Usage: test-summary.ts VITEST_JSON PLAYWRIGHT_JSON [MORE_VITEST_JSON...]: the extra Vitest reports
// are of suites run on their own (the cross-browser suite runs in a network namespace).
import { existsSync, readFileSync } from 'node:fs';

type VitestReport = {
	testResults: { name: string; status?: string; message?: string; assertionResults: { fullName: string; status: string; ancestorTitles?: string[] }[] }[];
};
type PlaywrightTest = { status: string; projectName: string; annotations?: { type: string; description?: string }[] };
type PlaywrightSuite = { title: string; specs: { title: string; tests: PlaywrightTest[] }[]; suites?: PlaywrightSuite[] };
type PlaywrightReport = { suites: PlaywrightSuite[]; errors?: { message?: string }[] };

const [vitestPath = 'reports/vitest.json', playwrightPath = 'reports/playwright.json', ...moreVitestPaths] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const failures: string[] = [];
const skips: string[] = [];
/**
 * Integration tests run once per database engine (the PGlite and PostgreSQL projects); some are for
 * one engine only (cluster mode and production mode need PostgreSQL, the folder lock is PGlite's)
 * and skip in the other project. Those are grouped by suite with the proof that they ran: they
 * passed in the other project.
 */
const engineOnly = new Map<string, number>();

for (const path of [vitestPath, ...moreVitestPaths]) readVitest(path);

function readVitest(vitestPath: string): void {
	if (!existsSync(vitestPath)) {
		failed += 1;
		failures.push(`no Vitest report at ${vitestPath} (that run did not complete)`);
		return;
	}
	const report = JSON.parse(readFileSync(vitestPath, 'utf8')) as VitestReport;
	const passedKeys = new Set(report.testResults.flatMap((file) => file.assertionResults.filter((t) => t.status === 'passed').map((t) => `${file.name} › ${t.fullName}`)));
	for (const file of report.testResults) {
		// A file can fail with no failed test: it did not load, or a beforeAll/afterAll hook threw
		// (its tests are then reported as skipped). That is a failure of its own.
		const testFailed = file.assertionResults.some((test) => test.status === 'failed');
		if (!testFailed && (file.status === 'failed' || (file.assertionResults.length === 0 && file.message))) {
			failed += 1;
			failures.push(`${file.name.replace(process.cwd() + '/', '')}: ${(file.message ?? 'failed outside its tests').split('\n')[0]}`);
		}
		for (const test of file.assertionResults) {
			if (test.status === 'passed') passed += 1;
			else if (test.status === 'failed') {
				failed += 1;
				failures.push(`${file.name.replace(process.cwd() + '/', '')} › ${test.fullName}`);
			} else {
				skipped += 1;
				if (passedKeys.has(`${file.name} › ${test.fullName}`)) {
					const suite = `${file.name.replace(process.cwd() + '/', '')} › ${test.ancestorTitles?.[0] ?? test.fullName}`;
					engineOnly.set(suite, (engineOnly.get(suite) ?? 0) + 1);
				} else skips.push(`${file.name.replace(process.cwd() + '/', '')} › ${test.fullName}`);
			}
		}
	}
}

if (existsSync(playwrightPath)) {
	const report = JSON.parse(readFileSync(playwrightPath, 'utf8')) as PlaywrightReport;
	const walk = (suite: PlaywrightSuite, path: string[]) => {
		for (const spec of suite.specs) {
			for (const test of spec.tests) {
				const name = `e2e › ${[...path, spec.title].join(' › ')}`;
				if (test.status === 'expected' || test.status === 'flaky') passed += 1;
				else if (test.status === 'skipped') {
					skipped += 1;
					// test.skip(condition, reason) records the reason as an annotation.
					const reason = test.annotations?.find((annotation) => annotation.type === 'skip')?.description;
					skips.push(reason ? `${name} (${reason})` : name);
				} else {
					failed += 1;
					failures.push(name);
				}
			}
		}
		for (const child of suite.suites ?? []) walk(child, [...path, child.title]);
	};
	for (const suite of report.suites) walk(suite, [suite.title]);
	for (const error of report.errors ?? []) {
		failed += 1;
		failures.push(`e2e: ${(error.message ?? 'error').split('\n')[0]}`);
	}
} else {
	failed += 1;
	failures.push(`no Playwright report at ${playwrightPath} (the end-to-end run did not complete)`);
}

if (failures.length) {
	console.log(`\nFailed (${failures.length}):`);
	for (const line of failures) console.log(`  ✗ ${line}`);
}
if (engineOnly.size) {
	const count = [...engineOnly.values()].reduce((a, b) => a + b, 0);
	console.log(`\nSkipped in one database project, passed in the other (${count}): for one engine only (cluster mode and production mode need PostgreSQL; the folder lock is PGlite's):`);
	for (const [suite, n] of engineOnly) console.log(`  - ${n} × ${suite}`);
}
if (skips.length) {
	console.log(`\nSkipped (${skips.length}):`);
	const reasons = [process.env.HEARTH_POSTGRES_SKIP_REASON && `PostgreSQL tests: ${process.env.HEARTH_POSTGRES_SKIP_REASON}`].filter(Boolean);
	for (const reason of reasons) console.log(`  reason: ${reason}`);
	for (const line of skips.slice(0, 50)) console.log(`  - ${line}`);
	if (skips.length > 50) console.log(`  ... and ${skips.length - 50} more`);
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
