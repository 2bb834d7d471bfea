#!/usr/bin/env bash
# Builds a production-shaped Temporal: the Temporal server from go.temporal.io/server with
# its SQL schema tool and PostgreSQL schema, and makes sure Debian's PostgreSQL is present.
# deploy/dev/temporal-sql.ts runs them (startEnvironment({ temporal: 'postgres' })) for
# test/integration/temporal-postgres.test.ts and `bench/kustomizations-100.ts --temporal
# postgres`; everything else runs on the Temporal CLI's dev server (SQLite).
#
# Lands next to the other infrastructure, keyed by version, built only when missing:
#   ${FLOTILLA_CACHE:-~/.cache/flotilla}/bin/temporal-server-<TEMPORAL_SERVER_VERSION>/
#     temporal-server  temporal-sql-tool  schema/postgresql/v12/{temporal,visibility}/
# The cold build's wall time is recorded in build-times.tsv like the others.
#
# PostgreSQL refuses to run as root. When this script runs as root it creates a system user,
# flotilla-postgres (no home, no shell), that temporal-sql.ts runs initdb and postgres as.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../deploy/dev/versions.env
source "$root/deploy/dev/versions.env"
cache=${FLOTILLA_CACHE:-$HOME/.cache/flotilla}
dir="$cache/bin/temporal-server-$TEMPORAL_SERVER_VERSION"
pg_user=flotilla-postgres
say() { echo "build-temporal-sql: $*"; }
die() { echo "build-temporal-sql: $*" >&2; exit 1; }

# 1. PostgreSQL: Debian installs its binaries under /usr/lib/postgresql/<major>/bin, not on PATH.
if compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || command -v postgres >/dev/null 2>&1; then
  say "postgresql: present"
else
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL (initdb, postgres) is missing and apt-get is not available: install PostgreSQL >= 12."
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then command -v sudo >/dev/null 2>&1 || die "run as root or install sudo, so that apt-get can install $POSTGRES_APT"; sudo=sudo; fi
  say "postgresql: apt-get install $POSTGRES_APT"
  $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
  # The package starts a system cluster on Debian (stopped below); ours are private clusters on free ports.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$POSTGRES_APT" >/dev/null \
    || die "apt-get install $POSTGRES_APT failed"
  (command -v service >/dev/null && $sudo service postgresql stop >/dev/null 2>&1) || true
fi

# 2. The unprivileged user PostgreSQL runs as when we are root.
if [[ $(id -u) -eq 0 ]] && ! id "$pg_user" >/dev/null 2>&1; then
  say "creating system user $pg_user (PostgreSQL refuses to run as root)"
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$pg_user"
fi

# 3. The Temporal server and its schema tool.
if [[ -x "$dir/temporal-server" && -x "$dir/temporal-sql-tool" && -d "$dir/schema/postgresql" ]]; then
  say "temporal-server $TEMPORAL_SERVER_VERSION: cached ($dir)"; exit 0
fi
command -v go >/dev/null 2>&1 || die "'go' is required but not on PATH (https://go.dev/doc/install)."

say "temporal-server $TEMPORAL_SERVER_VERSION: building server and temporal-sql-tool with $TEMPORAL_GOTOOLCHAIN (several minutes on 2 cores)"
t0=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-temporal-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=$TEMPORAL_GOTOOLCHAIN CGO_ENABLED=0 GOFLAGS=-mod=mod
# A wrapper module requiring the server: its go.mod has no replace lines, so the build list is
# the server's own (minimal version selection); the binaries are built by package path.
printf 'module flotilla.local/temporal-sql\n\ngo 1.26.10\n' > "$work/go.mod"
printf 'package main\n\nfunc main() {}\n' > "$work/main.go"
rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/schema"
(
  cd "$work"
  go get "go.temporal.io/server@$TEMPORAL_SERVER_VERSION"
  say "go build go.temporal.io/server/cmd/server"
  nice -n 10 go build -trimpath -ldflags='-s -w' -o "$dir.tmp/temporal-server" go.temporal.io/server/cmd/server
  say "go build go.temporal.io/server/cmd/tools/sql"
  nice -n 10 go build -trimpath -ldflags='-s -w' -o "$dir.tmp/temporal-sql-tool" go.temporal.io/server/cmd/tools/sql
  cp -R "$(go list -m -f '{{.Dir}}' go.temporal.io/server)/schema/postgresql" "$dir.tmp/schema/"
)
chmod -R u+w,a+rX "$dir.tmp"
rm -rf "$dir" && mv "$dir.tmp" "$dir"
printf '%s\t%s\t%s\t%s\t%s\n' temporal-server "$TEMPORAL_SERVER_VERSION" $((SECONDS - t0)) "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc) cores" >> "$cache/build-times.tsv"
say "temporal-server $TEMPORAL_SERVER_VERSION: built in $((SECONDS - t0)) s ($dir)"
