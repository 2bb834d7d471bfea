# syntax=docker/dockerfile:1
# flotilla-agent: runs in each cluster, dials the hub and applies what the hub holds for it.
#
#   docker build -f deploy/agent.Dockerfile -t flotilla-agent:0.1.0 .  (from the repository root)
#
# Runs as the non-root user 65532 with a read-only root filesystem. The agent keeps its state
# in its own cluster (a Secret and ConfigMaps in its namespace), not on disk: /tmp is the only
# writable path it may use; mount an emptyDir there (the chart deploy/charts/flotilla-agent does).
# Arguments follow the entry point: --hub, --hub-ca, --cluster, ... (flotilla-agent --help).

# TypeScript to dist/ (tests and benchmarks are not in the build context: see .dockerignore).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY core ./core
COPY api ./api
COPY proto ./proto
COPY workflows ./workflows
COPY activities ./activities
COPY agents ./agents
COPY hub ./hub
COPY cli ./cli
COPY deploy/dev ./deploy/dev
RUN npm run build

# Production dependencies only.
FROM node:20-bookworm-slim AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim
RUN groupadd --system --gid 65532 flotilla \
 && useradd --system --uid 65532 --gid 65532 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin flotilla
WORKDIR /app
# The runtime finds its files from its own (proto/load.ts: the agent protocol in proto/ beside
# dist/); package.json makes the directory a module package.
COPY package.json ./
COPY proto/flotilla ./proto/flotilla
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
ENV NODE_ENV=production \
    HOME=/tmp
USER 65532:65532
VOLUME ["/tmp"]
# 8080: /healthz, /readyz and /metrics when started with --http 0.0.0.0:8080.
EXPOSE 8080
ENTRYPOINT ["node", "/app/dist/agents/main.js"]
