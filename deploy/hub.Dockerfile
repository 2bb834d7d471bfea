# syntax=docker/dockerfile:1
# flotilla-hub: the Temporal worker of the actors, the agent gateway (gRPC) and the HTTP API.
#
#   docker build -f deploy/hub.Dockerfile -t flotilla-hub:0.1.0 .      (from the repository root)
#
# Runs as the non-root user 65532 with a read-only root filesystem: the only writable paths
# are /tmp (helm, kustomize and git work there) and /var/lib/flotilla (the data directory);
# mount an emptyDir or a volume on each (the Helm chart in deploy/charts/flotilla-hub does).
# The configuration is read from /etc/flotilla/hub.yaml (docs/configuration.md).

# helm and kustomize, built from their Go modules as scripts/install-infra.sh builds them.
# The defaults equal deploy/dev/versions.env: the versions the tests run against.
FROM golang:1.26-bookworm AS tools
ARG HELM_VERSION=v3.21.4
ARG KUSTOMIZE_VERSION=v5.7.1
ENV CGO_ENABLED=0 GOBIN=/out GOFLAGS=-trimpath
RUN go install -ldflags="-s -w" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" \
 && go install -ldflags="-s -w" "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" \
 && /out/helm version --short && /out/kustomize version

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
# What the hub runs besides node: git (simple-git shells out to it), ssh (git over ssh),
# openssl (the self-signed gateway certificate when none is given); ca-certificates for https
# remotes, Helm repositories, S3 and Temporal Cloud. Debian's versions follow bookworm's
# security updates, so they are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client openssl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 flotilla \
 && useradd --system --uid 65532 --gid 65532 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin flotilla \
 && mkdir -p /var/lib/flotilla /etc/flotilla \
 && chown 65532:65532 /var/lib/flotilla
WORKDIR /app
# The runtime finds its files from its own (proto/load.ts: the agent protocol in proto/ beside
# dist/); package.json makes the directory a module package.
COPY package.json ./
COPY proto/flotilla ./proto/flotilla
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=tools /out/helm /out/kustomize /usr/local/bin/
ENV NODE_ENV=production \
    HOME=/tmp \
    FLOTILLA_HELM=/usr/local/bin/helm \
    FLOTILLA_KUSTOMIZE=/usr/local/bin/kustomize
USER 65532:65532
VOLUME ["/tmp", "/var/lib/flotilla"]
# 7443: the agent gateway (gRPC over TLS); 7480: the HTTP API (/healthz, /readyz, /metrics, /ui/).
EXPOSE 7443 7480
ENTRYPOINT ["node", "/app/dist/hub/main.js"]
CMD ["serve", "--config", "/etc/flotilla/hub.yaml"]
