#!/usr/bin/env bash
# The test command: unit tests (race detector on) and the end-to-end tests against a real
# control plane, which hack/build-plane.sh builds on first use and caches.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(hack/build-plane.sh)
start=$SECONDS
CUSCON_PLANE_BIN="$bin" CUSCON_E2E=1 go test -race -count=1 "$@" ./...
echo "test.sh: tests took $((SECONDS - start))s" >&2
