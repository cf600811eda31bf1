# syntax=docker/dockerfile:1
# Flightdeck's image: the API (default command) and the worker (`node dist/worker/main.js`) share it.
#   docker build -t flightdeck .
# Build stage: dependencies with dev tools, then the TypeScript compile (tsconfig.build.json).
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY api ./api
COPY cli ./cli
# The workflow bundle is made here too (dist/workflow-bundle.js), so a worker polls seconds after it starts.
RUN npx tsc -p tsconfig.build.json \
 && node dist/worker/bundleWorkflows.js \
 && npm prune --omit=dev --no-audit --no-fund

# squawk, the migration linter (lib/migrationSafety.ts): a static binary from PyPI's squawk-cli wheel, for the
# image's platform. Keep the version in step with scripts/squawk.sh.
FROM python:3.12-slim-bookworm AS squawk
ARG SQUAWK_VERSION=2.70.0
RUN pip install --no-cache-dir --no-deps --only-binary=:all: --target /opt/squawk "squawk-cli==${SQUAWK_VERSION}" \
 && /opt/squawk/bin/squawk --version

# Runtime stage: Node, the production dependencies, the compiled code, and the tools the activities
# run: flyctl (deploys, releases, checks, proxy), pg_dump/pg_restore (backups), git (checkouts),
# bubblewrap (the sandbox of tests, smoke and migrate commands; see docs/security.md), squawk (migration lint),
# age (encrypted backups; docs/backups.md).
FROM node:26-bookworm-slim AS runtime
# pg_dump must be at least as new as the servers it dumps: the PostgreSQL project's own packages.
ARG PG_MAJOR=17
# FLY_EMIT_RELEASE_JSON needs flyctl >= 0.4.56.
ARG FLYCTL_VERSION=0.4.87
ARG TARGETARCH
RUN apt-get update \
 && apt-get install -y --no-install-recommends age bubblewrap ca-certificates curl git gnupg \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
 && case "${TARGETARCH:-amd64}" in arm64) fly_arch=arm64 ;; *) fly_arch=x86_64 ;; esac \
 && curl -fsSL "https://github.com/superfly/flyctl/releases/download/v${FLYCTL_VERSION}/flyctl_${FLYCTL_VERSION}_Linux_${fly_arch}.tar.gz" | tar -xz -C /usr/local/bin flyctl \
 && ln -s /usr/local/bin/flyctl /usr/local/bin/fly \
 && apt-get purge -y gnupg && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
 && flyctl version && pg_dump --version && pg_restore --version && bwrap --version

RUN groupadd --system --gid 10001 flightdeck \
 && useradd --system --uid 10001 --gid flightdeck --home-dir /home/flightdeck --create-home flightdeck \
 && install -d -o flightdeck -g flightdeck /app/data /app/data/work /app/data/backups /app/config
WORKDIR /app
COPY --from=squawk /opt/squawk/bin/squawk /usr/local/bin/squawk
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./

# MALLOC_ARENA_MAX: glibc gives each thread that allocates (the worker's Temporal core, Node's thread pool and
# GC helpers) an arena of its own, up to 8 per core, and memory freed in one stays there. Two arenas took a
# worker running 100 pipelines at once from 485 to 443 MiB peak (README "Scaling"; bench/deploy.ts reads it here).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    FLYCTL_PATH=/usr/local/bin/flyctl \
    FLY_NO_UPDATE_CHECK=1 \
    FLIGHTDECK_CONFIG=/app/config/flightdeck.yaml \
    FLIGHTDECK_WORK_DIR=/app/data/work \
    FLIGHTDECK_API_HOST=0.0.0.0 \
    FLIGHTDECK_API_PORT=8080
USER flightdeck
EXPOSE 8080
# The API's liveness route; the worker serves no HTTP, so docker-compose.yml and fly.toml turn this
# off (or replace it) for the worker.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.FLIGHTDECK_API_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/api/main.js"]
