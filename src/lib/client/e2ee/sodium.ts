// libsodium (WebAssembly) is loaded on first use, never at start-up, so the first paint of the app
// does not wait for the wasm module. Every crypto module takes the loaded instance as its first
// argument; callers get it once from loadSodium().
import type sodiumModule from 'libsodium-wrappers';

export type Sodium = typeof sodiumModule;

let loading: Promise<Sodium> | undefined;

/** The ready libsodium instance (the standard build, not sumo). Loads it on the first call. */
export function loadSodium(): Promise<Sodium> {
	loading ??= import('libsodium-wrappers').then(
		async (module) => {
			const sodium = module.default;
			await sodium.ready;
			return sodium;
		},
		(error: unknown) => {
			// A failed load (network hiccup fetching the chunk) may succeed on the next call.
			loading = undefined;
			throw error;
		}
	);
	return loading;
}
