// The V8 flags and the C library settings the server runs with, wherever it is started (npm start,
// the Docker image, the quickstart, the tests and the bench; tests/unit/dockerfile.test.ts checks
// they all agree).
//
// --max-semi-space-size: V8 sizes the young generation by the machine's memory, up to 64 MB per
// semi-space on a 24 GB host, and keeps it once grown: the server idled at ~320 MB of RSS on
// PostgreSQL with 34 MB of live objects. At 16 MB it idles at ~185 MB. 8 MB saved ~25 MB more
// but cost latency: in back-to-back bench runs on PGlite (quiet machine, 10,000 deliveries/s) p99
// was 13.9 and 15.6 ms at 8 MB against 5.5, 5.5 and 6.5 ms at 16 MB, and CPU per delivery was ~10 %
// higher (scavenges twice as often, each one a pause for every message in flight).
//
// --expose-gc: server/main.ts collects start-up garbage once when ready (collectStartupGarbage).
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=16', '--expose-gc'] as const;

// MALLOC_ARENA_MAX=1: glibc gives each thread that allocates concurrently an arena of its own (up
// to 8 per core), and V8's compiler and GC threads, libuv's pool and PGlite's start-up all allocate
// in bursts on different threads. Freed memory stays in the arena that served it, scattered, and is
// rarely returned: on PGlite the server idled with ~60 MB in three thread arenas, and one start
// measured 647 MB. One arena holds the same live data in less (idle RSS −25 to −35 MB on PGlite,
// same build with and without); the hot paths run on the main thread, so the arena lock is
// uncontended where it matters (CPU per delivery and per connection unchanged in bench/ runs, see
// bench/README.md). Read by glibc at process start, so it must be in the environment the process
// starts with, not in .env. (2 arenas kept ~15 MB more.)
export const SERVER_ENV = { MALLOC_ARENA_MAX: '1' } as const;

/** SERVER_ENV as shell assignments, for `VAR=value node ...` command lines. */
export const SERVER_ENV_ASSIGNMENTS = Object.entries(SERVER_ENV).map(([name, value]) => `${name}=${value}`).join(' ');
