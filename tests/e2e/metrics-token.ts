// /metrics of the e2e server answers with this token (playwright.config.ts sets METRICS_TOKEN): the
// call specs read the worker's own object counts there to prove that leaving frees every
// transport, producer and consumer. A test-only value, never used outside this suite.
export const E2E_METRICS_TOKEN = 'e2e0c4f7a1b93d5e8f2a6c0b4d7e1f3a5c9b2d6e0f4a8c1b5d9e3f7a2c6b0d4e';
