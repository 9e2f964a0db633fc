// libsodium (WebAssembly) is loaded on first use, never at start-up, so the first paint of the app
// does not wait for the wasm module. Every crypto module takes the loaded instance as its first
// argument; callers get it once from loadSodium().
import type sodiumModule from 'libsodium-wrappers';

export type Sodium = typeof sodiumModule;

/**
 * A libsodium build loaded on the first call and ready to use; a failed load (network hiccup
 * fetching the chunk) may succeed on the next call. `load` must be a literal dynamic import, so the
 * bundler splits the wasm into its own chunk.
 */
export function lazySodiumBuild<T extends { ready: Promise<void> }>(load: () => Promise<{ default: T }>): () => Promise<T> {
	let loading: Promise<T> | undefined;
	return () => {
		loading ??= load().then(
			async (module) => {
				await module.default.ready;
				return module.default;
			},
			(error: unknown) => {
				loading = undefined;
				throw error;
			}
		);
		return loading;
	};
}

/** The ready libsodium instance (the standard build, not sumo). Loads it on the first call. */
export const loadSodium: () => Promise<Sodium> = lazySodiumBuild(() => import('libsodium-wrappers'));
