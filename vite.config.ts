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
			csrf: { trustedOrigins: ['*'] },
			// Content-Security-Policy for every page, with a fresh nonce per response for SvelteKit's
			// scripts and the one in app.html: no inline script runs without it, and none from another
			// origin. Styles allow inline because server-rendered markup carries style attributes
			// (a style cannot run code). 'self' in connect-src covers same-origin /ws in CSP Level 3.
			// 'wasm-unsafe-eval' lets the page compile WebAssembly (libsodium, for end-to-end
			// encryption; it has no plain-JS fallback) without allowing eval() of JavaScript.
			csp: {
				mode: 'auto',
				directives: {
					'default-src': ['self'],
					'script-src': ['self', 'wasm-unsafe-eval'],
					'style-src': ['self', 'unsafe-inline'],
					'img-src': ['self', 'data:', 'blob:'],
					'media-src': ['self', 'blob:'],
					'font-src': ['self'],
					'connect-src': ['self'],
					'worker-src': ['self', 'blob:'],
					'object-src': ['none'],
					'base-uri': ['self'],
					'form-action': ['self'],
					'frame-ancestors': ['none']
				}
			}
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
			},
			{
				// Firefox and Chromium together (puppeteer-core), inside the media network namespace:
				// `npm run test:cross-browser` (scripts/cross-browser-tests.sh). On PGlite, since the
				// namespace cannot reach a PostgreSQL server outside it.
				extends: true,
				test: {
					name: 'cross-browser',
					include: ['tests/cross-browser/**/*.test.ts'],
					env: { TEST_DB: 'pglite' },
					testTimeout: 300_000,
					hookTimeout: 180_000
				}
			}
		]
	}
});
