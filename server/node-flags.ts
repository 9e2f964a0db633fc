// The V8 flags the server runs with, wherever it is started (npm start, the Docker image, the
// quickstart, the tests and the bench; tests/unit/dockerfile.test.ts checks they all agree).
//
// --max-semi-space-size: V8 sizes the young generation by the machine's memory, up to 64 MB per
// semi-space on a 24 GB host, and keeps it once grown: the server idled at ~320 MB of RSS on
// PostgreSQL with 34 MB of live objects. At 16 MB (V8's classic default) it idles at ~185 MB;
// scavenges are more frequent but each is small (measured with bench/, see bench/README.md).
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=16'] as const;
