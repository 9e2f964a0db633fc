// scripts/generate-secrets.sh, run for real on files in a temporary folder.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'scripts/generate-secrets.sh');
const SECRETS = ['APP_SECRET', 'POSTGRES_PASSWORD', 'METRICS_TOKEN', 'TURN_SECRET'];

let dir: string;
beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), 'hearth-secrets-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function generate(args: string[] = []) {
	const result = spawnSync('bash', [SCRIPT, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
	return { status: result.status, output: result.stdout + result.stderr };
}

/** The file as a map, the way Node's --env-file and Docker Compose read it. */
function values(file: string): Record<string, string> {
	return Object.fromEntries(
		readFileSync(file, 'utf8')
			.split('\n')
			.filter((line) => /^[A-Z_]+=/.test(line))
			.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
	);
}

describe('scripts/generate-secrets.sh', () => {
	it('creates .env with every secret as 32 random bytes in hex, readable by its owner only', () => {
		const run = generate();
		expect(run.status).toBe(0);
		const file = join(dir, '.env');
		expect(statSync(file).mode & 0o777).toBe(0o600);
		const secrets = values(file);
		expect(Object.keys(secrets).sort()).toEqual([...SECRETS].sort());
		for (const name of SECRETS) expect({ name, value: secrets[name] }).toEqual({ name, value: expect.stringMatching(/^[0-9a-f]{64}$/) });
		expect(new Set(Object.values(secrets)).size).toBe(SECRETS.length);
		// Nothing it generated is printed.
		for (const value of Object.values(secrets)) expect(run.output).not.toContain(value);
		for (const name of SECRETS) expect(run.output).toContain(`${name}: generated`);
	});

	it('keeps existing values and changes nothing when run again', () => {
		generate();
		const file = join(dir, '.env');
		const first = readFileSync(file, 'utf8');
		const again = generate();
		expect(again.status).toBe(0);
		expect(readFileSync(file, 'utf8')).toBe(first);
		for (const name of SECRETS) expect(again.output).toContain(`${name}: kept (already set)`);
	});

	it('fills in empty secrets where they stand and keeps every other line', () => {
		const file = join(dir, 'production.env');
		const strong = 'a'.repeat(64);
		const before = `# Hearth\nORIGIN=https://chat.example.com\nAPP_SECRET=\nDATABASE_URL=\nMETRICS_TOKEN=${strong}\nTURN_SECRET=""\nLOG_LEVEL=info\n`;
		writeFileSync(file, before);
		const run = generate([file]);
		expect(run.status).toBe(0);
		const secrets = values(file);
		expect(secrets.METRICS_TOKEN).toBe(strong);
		for (const name of ['APP_SECRET', 'TURN_SECRET', 'POSTGRES_PASSWORD']) expect(secrets[name]).toMatch(/^[0-9a-f]{64}$/);
		expect(readFileSync(file, 'utf8')).toBe(
			before
				.replace('\nAPP_SECRET=\n', `\nAPP_SECRET=${secrets.APP_SECRET}\n`)
				.replace('\nTURN_SECRET=""\n', `\nTURN_SECRET=${secrets.TURN_SECRET}\n`) + `POSTGRES_PASSWORD=${secrets.POSTGRES_PASSWORD}\n`
		);
	});

	it('completes a copy of .env.example', () => {
		const file = join(dir, '.env');
		copyFileSync(join(ROOT, '.env.example'), file);
		expect(generate().status).toBe(0);
		const secrets = values(file);
		for (const name of SECRETS) expect({ name, value: secrets[name] }).toEqual({ name, value: expect.stringMatching(/^[0-9a-f]{64}$/) });
		expect(statSync(file).mode & 0o777).toBe(0o600);
	});

	it('makes an existing file private before writing secrets into it', () => {
		const file = join(dir, '.env');
		writeFileSync(file, 'ORIGIN=https://chat.example.com', { mode: 0o644 });
		expect(generate().status).toBe(0);
		expect(statSync(file).mode & 0o777).toBe(0o600);
		// The last line had no newline: it is kept whole.
		expect(values(file).ORIGIN).toBe('https://chat.example.com');
	});

	it('keeps a weak existing secret but says it is too short, without printing it', () => {
		const file = join(dir, '.env');
		writeFileSync(file, 'APP_SECRET=short-secret-value\n');
		const run = generate();
		expect(run.status).toBe(0);
		expect(values(file).APP_SECRET).toBe('short-secret-value');
		expect(run.output).toContain('APP_SECRET: kept, but it is shorter than 32 random bytes');
		expect(run.output).not.toContain('short-secret-value');
	});
});
