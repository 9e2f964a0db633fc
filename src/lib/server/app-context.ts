// How SvelteKit code reaches the running application. The companion server (server/main.ts) builds
// the context once and registers it here; SvelteKit's bundle imports only this file and types, so
// there is exactly one database handle, one event writer and one realtime hub per process.
import type { AppContext } from './context.ts';

export type { AppContext };

const KEY = Symbol.for('hearth.app-context');

export function registerAppContext(context: AppContext | undefined): void {
	(globalThis as Record<symbol, unknown>)[KEY] = context;
}

export function getAppContext(): AppContext {
	const context = (globalThis as Record<symbol, unknown>)[KEY] as AppContext | undefined;
	if (!context) {
		throw new Error('Hearth is not initialised: start it with `npm start` or `npm run dev` (server/main.ts), not `vite` alone.');
	}
	return context;
}
