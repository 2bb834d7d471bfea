#!/usr/bin/env bash
# Regenerates the TypeScript types of proto/ (proto/gen/). CI runs it with --check and fails
# when the committed types differ from what the .proto files generate.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=proto/gen
[[ "${1:-}" == "--check" ]] && out=$(mktemp -d)
rm -rf "$out" && mkdir -p "$out"
npx proto-loader-gen-types --grpcLib=@grpc/grpc-js --keepCase --longs=String --enums=String \
  --defaults --oneofs --importFileExtension=.js --outDir="$out" \
  proto/flotilla/agent/v1/agent.proto >/dev/null
if [[ "${1:-}" == "--check" ]]; then
  diff -r "$out" proto/gen >/dev/null || { echo "proto/gen is out of date: run scripts/gen-proto.sh" >&2; rm -rf "$out"; exit 1; }
  rm -rf "$out"
fi
