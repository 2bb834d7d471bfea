#!/usr/bin/env bash
# The test command (`npm test`): install what is missing, typecheck and build, lint, then run
# every test file with node's own test runner against real Temporal and real clusters.
# Extra arguments select test files by substring, e.g. `npm test -- infrastructure`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
echo "== generated code is up to date"
bash scripts/gen-proto.sh --check
echo "== typecheck and build"
rm -rf dist
npx tsc -p tsconfig.json
echo "== lint"
npx eslint --max-warnings 0 .
echo "== tests"
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [[ $# -gt 0 ]]; then
  selected=()
  for f in "${files[@]}"; do for pattern in "$@"; do [[ "$f" == *"$pattern"* ]] && selected+=("$f") && break; done; done
  files=("${selected[@]}")
fi
[[ ${#files[@]} -gt 0 ]] || { echo "test: no test files matched" >&2; exit 1; }
# One file at a time: each starts its own clusters, and the machine has 2 cores.
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
