#!/usr/bin/env bash
# The benchmark command: builds (or reuses) the local control plane, measures cuscon on
# it, and rewrites docs/benchmarks.md and docs/benchmarks.svg. Takes about 10 minutes.
# Extra arguments go to hack/bench (e.g. --changes 20 --configmaps 1000 for a short run).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " == *" --render "* ]]; then # redraw from docs/benchmarks.json: no plane needed
  exec go run ./hack/bench --out docs "$@"
fi
bin=$(hack/build-plane.sh)
go run ./hack/bench --bin "$bin" --out docs "$@"
