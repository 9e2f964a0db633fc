import { sveltekit } from '@sveltejs/kit/vite';
import adapter from '@sveltejs/adapter-node';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	plugins: [
		sveltekit({
			adapter: adapter({ out: 'build' }),
			// Origin checks for every state-changing request (JSON included) live in hooks.server.ts,
			// because SvelteKit's built-in check only covers form content types.
			csrf: { trustedOrigins: [] }
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
