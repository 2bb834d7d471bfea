#!/usr/bin/env bash
# `npm run bench -- <name>`: runs bench/<name>.ts and records its figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
name=${1:-}
if [[ -z "$name" || ! -f "bench/$name.ts" ]]; then
  echo "usage: npm run bench -- <name>   (one of: $(ls bench/*.ts | xargs -n1 basename | sed 's/\.ts$//' | grep -v '^record$' | tr '\n' ' '))" >&2
  exit 2
fi
shift
bash scripts/setup.sh >/dev/null
# Benchmarks that run Flux head to head need its controllers (bench only; the test install
# does not build them): built once, then cached.
if grep -q "from './flux.js'" "bench/$name.ts"; then bash scripts/build-flux.sh; fi
npx tsc -p tsconfig.json
node "dist/bench/$name.js" "$@"
