#!/usr/bin/env bash
# `npm run demo`: installs what is missing (npm packages and the real infrastructure, cached in
# ~/.cache/flotilla), builds, then runs the fleet demo in the foreground (deploy/dev/demo.ts).
# Arguments go to the demo, e.g. `npm run demo -- --headless` or `-- --help`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
echo "demo: building"
npx tsc -p tsconfig.json
exec node dist/deploy/dev/demo.js "$@"
