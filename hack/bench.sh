#!/usr/bin/env bash
# The benchmark command: builds (or reuses) the local control plane and the peers, runs
# cuscon side by side with the article's Python script and stakater/Reloader on it, and
# rewrites docs/benchmarks.md, .json, .svg and the README's figures. About 50 minutes with --scale
# on the 2-core build machine, Reloader included. Extra arguments go to hack/bench, e.g.
#   hack/bench.sh --changes 10 --configmaps 1000      a short trial run
#   hack/bench.sh --scale                             also 100,000 ConfigMaps, 10,000 pods
#   hack/bench.sh --render                            redraw the docs from the JSON only
# RELOADER_BIN=/path/to/reloader uses that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " == *" --render "* ]]; then # redraw from docs/benchmarks.json: nothing to run
  exec go run ./hack/bench --out docs "$@"
fi

# The article's script runs on Debian's Python and requests.
if ! /usr/bin/python3 -c 'import requests' 2>/dev/null; then
  echo "bench.sh: installing python3-requests (Debian) for the article's script" >&2
  sudo=; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq python3-requests >&2
fi

bin=$(hack/build-plane.sh)

reloader=${RELOADER_BIN:-}
note=
if [ -z "$reloader" ]; then
  if ! reloader=$(hack/tools/reloader/build.sh); then
    reloader=
    note="the Go module proxy did not serve github.com/stakater/Reloader@v1.4.21 on this machine (hack/tools/reloader/build.sh failed)"
    echo "bench.sh: Reloader could not be built; the other peers run without it" >&2
  fi
fi
go run ./hack/bench --bin "$bin" --out docs --reloader "$reloader" --reloader-note "$note" "$@"
