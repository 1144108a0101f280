# Rampart container image.
#
#   docker build -t rampart:0.1.0 .
#
# Stages, all on the same pinned Node 24 base (package.json pins node 24.21.0):
#   npm-base - npm settings shared by build and deps
#   build   - full `npm ci` (dev deps: typescript, the `node` toolchain package) + `npm run build`
#   deps    - production dependencies only (`npm ci --omit=dev`), nothing compiled here
#   runtime - the two above copied in, tini as PID 1, runs as uid 1000, no npm, no secrets
#
# Runtime expectations (docker-compose.yml and deploy/k8s/ set them):
#   - read-only root filesystem; /tmp is the only writable path (tmpfs / emptyDir)
#   - DATABASE_URL, REDIS_URL, SESSION_SECRET, ADMIN_BOOTSTRAP_PASSWORD come from the
#     environment at run time (NODE_ENV=production refuses to start without them, exit 78)
#   - SIGTERM triggers the app's own graceful drain; tini forwards it and reaps cluster workers

# ---------------------------------------------------------------------------------------
# npm settings shared by the two stages that install packages.
FROM node:24.21.0-bookworm-slim AS npm-base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false \
    SCARF_ANALYTICS=false \
    DO_NOT_TRACK=1

# ---------------------------------------------------------------------------------------
FROM npm-base AS build
WORKDIR /app
# Lockfile first so the dependency layer is cached across source edits.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# The rest of the tree (.dockerignore keeps node_modules, dist, tests, .env, .git out).
COPY . .
RUN npm run build \
 && test -f dist/src/main.js

# ---------------------------------------------------------------------------------------
FROM npm-base AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev: no typescript, no test tooling, no `node` toolchain package.
# --omit=optional: drops embedded-postgres' platform binaries (~60 MB). They are loaded lazily
# and only when DATABASE_URL is unset, which never happens in the container.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund \
 && npm cache clean --force

# ---------------------------------------------------------------------------------------
FROM node:24.21.0-bookworm-slim AS runtime

# tini as PID 1: forwards SIGTERM to node and reaps exited cluster workers (WORKERS > 1).
# npm/npx/corepack are removed: nothing runs them at run time and they only add attack surface.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack

# MALLOC_MMAP_THRESHOLD_: glibc keeps each freed 19 MiB argon2 block resident in the hashing
# thread's arena unless the mmap threshold is fixed (RUNBOOK "Memory"); it must be in the
# environment before node starts, so it is set here for compose and Kubernetes alike.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/tmp/rampart \
    MALLOC_MMAP_THRESHOLD_=131072

WORKDIR /app
# Files stay root-owned and read-only to the app user: the process cannot rewrite its own code.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./

# uid/gid 1000 is the `node` user of the official image; numeric so Kubernetes can verify
# runAsNonRoot without resolving names.
USER 1000:1000

EXPOSE 3000
STOPSIGNAL SIGTERM

# Liveness only (the process, not its dependencies): a DB outage must not restart the app.
# No curl in the slim image, so node's own fetch does the request.
HEALTHCHECK --interval=15s --timeout=5s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/main.js"]
