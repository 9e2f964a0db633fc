# syntax=docker/dockerfile:1
# Hearth's production image. Three stages: `build` compiles the SvelteKit app with every dependency,
# `prod-deps` installs only the production dependencies, and `runtime` — the image that runs —
# holds only what `node server/main.ts` loads: the companion server, the server-side and shared
# TypeScript (Node strips the types), the built app, the migrations, package.json (its `imports`
# map resolves #lib/*) and the production node_modules. No compiler, no tests, no dev tools.
#
# tests/integration/docker-image.test.ts reads this file: it assembles the runtime stage's COPY set
# in a folder, installs the production dependencies there and starts the app from it.
#
# Debian slim, not Alpine: @node-rs/argon2 ships glibc builds, and glibc's DNS resolver behaves
# the way PostgreSQL host names in compose expect. Pin the tag; bump it deliberately (see
# docs/self-hosting/upgrades.md).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx vite build --logLevel error

FROM ${NODE_IMAGE} AS prod-deps
# Calls need a mediasoup worker (the SFU's media process). npm ci never runs mediasoup's install
# script (package.json allowScripts: installing must work offline), so the worker comes in a step
# of its own. MEDIASOUP_WORKER chooses it:
#   prebuilt (default): mediasoup's prebuilt worker for this platform, downloaded as mediasoup's
#     installer does (scripts/fetch-mediasoup-worker.ts). Never fails the build: without network
#     access the image has no worker, and Hearth starts with calls unavailable, saying why and how
#     to provide one (log, /health; docs/calls.md).
#   postinstall: mediasoup's own install step: the prebuilt download, else a source build (hence
#     the compiler and Python, in this stage only); fails the build if it produces no worker.
#   none: no worker; mount one and set MEDIASOUP_WORKER_BIN.
# The worker lands in node_modules/mediasoup, where Hearth finds it without MEDIASOUP_WORKER_BIN.
ARG MEDIASOUP_WORKER=prebuilt
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY scripts/fetch-mediasoup-worker.ts scripts/
COPY server/calls/worker-bin.ts server/calls/
RUN set -e; if [ "$MEDIASOUP_WORKER" = prebuilt ]; then node scripts/fetch-mediasoup-worker.ts; elif [ "$MEDIASOUP_WORKER" = postinstall ]; then apt-get update; apt-get install -y --no-install-recommends python3-pip make g++; cd node_modules/mediasoup; node npm-scripts.mjs postinstall; test -x worker/out/Release/mediasoup-worker; elif [ "$MEDIASOUP_WORKER" != none ]; then echo "MEDIASOUP_WORKER must be prebuilt, postinstall or none" >&2; exit 2; fi

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    MALLOC_ARENA_MAX=1
WORKDIR /app
# Everything the app reads is owned by root and not writable by the user it runs as, so even
# without a read-only root filesystem the process cannot change its own code.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/build ./build
COPY package.json ./
COPY drizzle ./drizzle
COPY server ./server
COPY src/env.ts ./src/env.ts
COPY src/lib/server ./src/lib/server
COPY src/lib/shared ./src/lib/shared
# The only writable place: the embedded database folder (unused with DATABASE_URL). A volume.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
# The unprivileged user of the official Node images (uid 1000).
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM reaches node directly (exec form): it drains writes and closes /ws before exiting.
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=16", "--expose-gc", "server/main.ts"]
