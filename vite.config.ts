import { sveltekit } from '@sveltejs/kit/vite';
import adapter from '@sveltejs/adapter-node';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	plugins: [
		sveltekit({
			adapter: adapter({ out: 'build' }),
			// hooks.server.ts checks the Origin of every state-changing request against the configured
			// allowed origins (all content types, plus a CSRF token on /api). SvelteKit's own check
			// covers only form content types and compares with the Host-derived origin, which is wrong
			// behind a proxy, so it is switched off in favour of ours.
			csrf: { trustedOrigins: ['*'] }
		})
	],
	test: {
		projects: [
			{
				extends: true,
				test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], environment: 'node' }
			},
			{
				extends: true,
				test: {
					name: 'integration-pglite',
					include: ['tests/integration/**/*.test.ts'],
					env: { TEST_DB: 'pglite' },
					testTimeout: 60_000,
					hookTimeout: 120_000
				}
			},
			{
				extends: true,
				test: {
					name: 'integration-postgres',
					include: ['tests/integration/**/*.test.ts'],
					env: { TEST_DB: 'postgres' },
					testTimeout: 60_000,
					hookTimeout: 120_000
				}
			}
		]
	}
});
