// docs/self-hosting/configuration.md is generated (scripts/config-reference.ts) and must not drift
// from src/env.ts, docker-compose.yml or scripts/deploy.sh.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEPLOYMENT_VARIABLES, OUTPUT, renderConfigurationReference } from '../../scripts/config-reference.ts';
import { variables } from '../../src/env.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('docs/self-hosting/configuration.md', () => {
	it('is what scripts/config-reference.ts renders (run `node scripts/config-reference.ts` after changing src/env.ts)', () => {
		expect(readFileSync(OUTPUT, 'utf8')).toBe(renderConfigurationReference());
	});

	it('lists every variable of src/env.ts with its description and its parser’s default', () => {
		const page = renderConfigurationReference();
		for (const [name, definition] of Object.entries(variables)) expect(page).toContain(`| \`${name}\` |`);
		expect(page).toContain('| `PORT` | `3000` | TCP port for HTTP and /ws (0 picks a free port). |');
		expect(page).toContain('| `DATABASE_URL` | — |');
		expect(page).toContain('| `APP_ENV` | `development` |');
	});

	it('lists every variable docker-compose.yml, docker-compose.cluster.yml and scripts/deploy.sh read', () => {
		const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8') + readFileSync(join(ROOT, 'docker-compose.cluster.yml'), 'utf8');
		const deploy = readFileSync(join(ROOT, 'scripts/deploy.sh'), 'utf8');
		const used = new Set([...compose.matchAll(/\$\{([A-Z_]+)/g), ...deploy.matchAll(/\b(DEPLOY_[A-Z]+)\b/g)].map((match) => match[1]!));
		const listed = new Set(DEPLOYMENT_VARIABLES.map((variable) => variable.name));
		expect([...used].filter((name) => !listed.has(name))).toEqual([]);
		expect([...listed].filter((name) => !used.has(name))).toEqual([]);
	});
});
