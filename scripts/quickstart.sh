#!/usr/bin/env bash
# Installs and runs Hearth on this machine with the embedded database (a ./data folder); no other
# service is needed. Prints the address to open. Ctrl+C stops it; messages are kept in ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/ensure-node.sh
ensure_dependencies
# Calls need mediasoup's worker: fetched here as its own step (npm ci never runs mediasoup's
# install script); it never fails, and without a worker Hearth runs with calls unavailable.
node scripts/fetch-mediasoup-worker.ts || true
echo "Building the app..."
npx vite build --logLevel error
MALLOC_ARENA_MAX=1 exec node --max-semi-space-size=16 --expose-gc --env-file-if-exists=.env server/main.ts
