#!/usr/bin/env bash
# The whole test suite, from a fresh checkout: installs what the tests need (Node >= 22, the npm
# dependencies, Chromium, a throwaway PostgreSQL server, redis-server for the cluster tests),
# builds the app, then runs
#   - unit tests (Vitest),
#   - integration tests against the embedded PGlite database and against PostgreSQL (Vitest),
#   - end-to-end tests in real Chromium (Playwright), including chats through nginx and Caddy
#     configured as docs/self-hosting/ shows (installed from Debian's packages when possible),
#   - cross-browser tests: a Firefox (Debian's firefox-esr) and a Chromium participant chat and call
#     (puppeteer-core), in a network namespace of their own (scripts/cross-browser-tests.sh),
# and ends with one line: "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure-node.sh
source scripts/lib/test-postgres.sh
source scripts/lib/test-redis.sh
source scripts/lib/ensure-chromium.sh
source scripts/lib/ensure-firefox.sh
source scripts/lib/ensure-proxies.sh
source scripts/lib/ensure-prometheus-parser.sh

ensure_dependencies || exit 1
ensure_chromium || exit 1
ensure_firefox
ensure_proxies
ensure_prometheus_parser
start_test_postgres
trap stop_test_postgres EXIT
ensure_test_redis

# Call tests need a mediasoup worker (never downloaded or built by npm here): MEDIASOUP_WORKER_BIN,
# or one placed at ~/.cache/hearth/mediasoup-worker. Without one they are reported as skipped.
MEDIASOUP_WORKER_BIN="${MEDIASOUP_WORKER_BIN:-}"
if [ -z "$MEDIASOUP_WORKER_BIN" ] && [ -x "$HOME/.cache/hearth/mediasoup-worker" ]; then
	MEDIASOUP_WORKER_BIN="$HOME/.cache/hearth/mediasoup-worker"
fi
if [ -n "$MEDIASOUP_WORKER_BIN" ] && [ -x "$MEDIASOUP_WORKER_BIN" ]; then
	export MEDIASOUP_WORKER_BIN
	echo "Call tests: run with the mediasoup worker $MEDIASOUP_WORKER_BIN"
else
	unset MEDIASOUP_WORKER_BIN
	echo "Call tests: SKIPPED (no mediasoup worker: set MEDIASOUP_WORKER_BIN or place one at ~/.cache/hearth/mediasoup-worker)"
fi

echo "Building the app..."
npx vite build --logLevel error || { echo "0 passed, 1 failed (the build failed)"; exit 1; }

mkdir -p reports
rm -f reports/vitest.json reports/playwright.json reports/cross-browser.json

echo "Running unit and integration tests..."
npx vitest run --project unit --project integration-pglite --project integration-postgres --reporter=default --reporter=json --outputFile.json=reports/vitest.json
vitest_status=$?

echo "Running end-to-end tests in Chromium..."
npx playwright test
playwright_status=$?

echo "Running cross-browser tests (Firefox and Chromium)..."
bash scripts/cross-browser-tests.sh reports/cross-browser.json
cross_browser_status=$?

node scripts/test-summary.ts reports/vitest.json reports/playwright.json reports/cross-browser.json
summary_status=$?
if [ $vitest_status -ne 0 ] || [ $playwright_status -ne 0 ] || [ $cross_browser_status -ne 0 ] || [ $summary_status -ne 0 ]; then exit 1; fi
