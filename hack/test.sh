#!/usr/bin/env bash
# The test command: unit tests (race detector on) and the end-to-end tests against a real
# control plane, which hack/build-plane.sh builds on first use and caches (and helm and
# promtool, which hack/build-tool.sh builds).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(hack/build-plane.sh)
# helm installs the chart and promtool tests its alerts in the end-to-end tests.
helm=$(hack/build-tool.sh helm)
promtool=$(hack/build-tool.sh promtool)
start=$SECONDS
CUSCON_PLANE_BIN="$bin" CUSCON_HELM="$helm" CUSCON_PROMTOOL="$promtool" CUSCON_E2E=1 go test -race -count=1 "$@" ./...
echo "test.sh: tests took $((SECONDS - start))s" >&2
