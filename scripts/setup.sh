#!/usr/bin/env bash
# Installs everything Flotilla needs on a fresh machine: the npm packages pinned by
# package-lock.json and the real infrastructure (scripts/install-infra.sh). Idempotent and
# quick when nothing changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v node >/dev/null 2>&1 || { echo "setup: Node.js >= 20.19 is required (https://nodejs.org or Debian's nodejs)." >&2; exit 1; }
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || { echo "setup: Node.js >= 20.19 is required, found $(node --version)." >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "setup: npm is required." >&2; exit 1; }

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  # npm 11 can write a lockfile that its own `npm ci` rejects for lacking other platforms'
  # optional packages (npm/cli#8669); `npm install` then installs the same locked versions.
  if ! npm ci --no-audit --no-fund --loglevel=error 2>/tmp/flotilla-npm-ci.log; then
    if grep -q 'Missing: .* from lock file' /tmp/flotilla-npm-ci.log; then
      echo "setup: npm ci refused the lockfile's missing optional platform packages; using npm install"
      npm install --no-audit --no-fund --loglevel=error
    else
      cat /tmp/flotilla-npm-ci.log >&2
      exit 1
    fi
  fi
fi
bash scripts/install-infra.sh
