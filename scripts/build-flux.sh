#!/usr/bin/env bash
# Builds Flux's source-controller and kustomize-controller (the pair that reconciles
# GitRepositories and Kustomizations) for the head-to-head benchmarks (bench/flux.ts). Bench
# only: scripts/bench.sh calls it before a benchmark that runs Flux; the test install
# (scripts/install-infra.sh) does not, so the test suite does not pay for it.
#
# Lands next to the other infrastructure, keyed by version, built only when missing:
#   ${FLOTILLA_CACHE:-~/.cache/flotilla}/bin/flux-<FLUX_VERSION>/
#     source-controller  kustomize-controller  crds/*.yaml
# The cold build's wall time is recorded in build-times.tsv like the others.
#
# How (what the Go module proxy serves): one wrapper module requiring both controllers at
# FLUX_VERSION, with the replace lines of kustomize-controller's go.mod (its in-repo ./api
# replaces become ordinary requirements) and github.com/fluxcd/pkg/artifact at
# FLUX_PKG_ARTIFACT (the version source-controller requires is not served). `go get`, not
# `go mod tidy` (tidy wants the controllers' test-only dependencies, which are not served).
# helm-controller is not served at all, so Helm benchmarks cannot run Flux here.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../deploy/dev/versions.env
source "$root/deploy/dev/versions.env"
cache=${FLOTILLA_CACHE:-$HOME/.cache/flotilla}
dir="$cache/bin/flux-$FLUX_VERSION"
say() { echo "build-flux: $*"; }
die() { echo "build-flux: $*" >&2; exit 1; }

if [[ -x "$dir/source-controller" && -x "$dir/kustomize-controller" && -d "$dir/crds" ]]; then
  say "flux $FLUX_VERSION: cached ($dir)"; exit 0
fi
command -v go >/dev/null 2>&1 || die "'go' is required but not on PATH (https://go.dev/doc/install)."

say "flux $FLUX_VERSION: building source-controller and kustomize-controller with $FLUX_GOTOOLCHAIN (several minutes on 2 cores)"
t0=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-flux-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=$FLUX_GOTOOLCHAIN CGO_ENABLED=0 GOFLAGS=-mod=mod
cat > "$work/go.mod" <<MOD
module flotilla.local/flux-bench

go 1.26.0

// kustomize-controller's go.mod: BLAKE3 digests, kustomize pinned, yaml.v3 CVE fix.
replace github.com/opencontainers/go-digest => github.com/opencontainers/go-digest v1.0.1-0.20220411205349-bde1400a84be

replace (
	sigs.k8s.io/kustomize/api => sigs.k8s.io/kustomize/api v0.21.1
	sigs.k8s.io/kustomize/kyaml => sigs.k8s.io/kustomize/kyaml v0.21.1
)

replace gopkg.in/yaml.v3 => gopkg.in/yaml.v3 v3.0.1

// The version source-controller requires is not served by the module proxy.
replace github.com/fluxcd/pkg/artifact => github.com/fluxcd/pkg/artifact $FLUX_PKG_ARTIFACT
MOD
# A file that imports nothing keeps the module buildable; the controllers are built by path.
printf 'package main\n\nfunc main() {}\n' > "$work/main.go"
mkdir -p "$dir.tmp/crds"
(
  cd "$work"
  go get "github.com/fluxcd/source-controller@$FLUX_VERSION" "github.com/fluxcd/kustomize-controller@$FLUX_VERSION"
  for c in source-controller kustomize-controller; do
    say "go build github.com/fluxcd/$c"
    go build -trimpath -ldflags='-s -w' -o "$dir.tmp/$c" "github.com/fluxcd/$c"
    cp "$(go list -m -f '{{.Dir}}' "github.com/fluxcd/$c")"/config/crd/bases/*.yaml "$dir.tmp/crds/"
  done
)
chmod -R u+w "$dir.tmp"
rm -rf "$dir" && mv "$dir.tmp" "$dir"
printf '%s\t%s\t%s\t%s\t%s\n' flux "$FLUX_VERSION" $((SECONDS - t0)) "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc) cores" >> "$cache/build-times.tsv"
say "flux $FLUX_VERSION: built in $((SECONDS - t0)) s ($dir)"
