#!/usr/bin/env bash
# The test command: unit tests (race detector on), then the end-to-end tests against a
# real control plane, which hack/build-plane.sh builds on first use and caches (and helm
# and promtool, which hack/build-tool.sh builds). The end-to-end tests report each test
# as it finishes (with what it logged), so a long run shows where it is.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(hack/build-plane.sh)
# helm installs the chart and promtool tests its alerts in the end-to-end tests.
helm=$(hack/build-tool.sh helm)
promtool=$(hack/build-tool.sh promtool)
start=$SECONDS
mapfile -t units < <(go list ./... | grep -v '/e2e$')
echo "test.sh: unit tests of ${#units[@]} packages" >&2
go test -race -count=1 "$@" "${units[@]}"
# The profile server is built only with -tags pprof (the shipped binary leaves it out).
go test -count=1 -tags pprof -run Profiles ./internal/telemetry
echo "test.sh: unit tests took $((SECONDS - start))s; end-to-end tests on the plane, each as it finishes:" >&2
e2e=$SECONDS
CUSCON_PLANE_BIN="$bin" CUSCON_HELM="$helm" CUSCON_PROMTOOL="$promtool" CUSCON_E2E=1 \
  go test -race -count=1 -v "$@" ./e2e 2>&1 | grep --line-buffered -v '^=== \(RUN\|PAUSE\|CONT\)'
echo "test.sh: end-to-end tests took $((SECONDS - e2e))s; all tests $((SECONDS - start))s" >&2
