#!/usr/bin/env bash
# Builds one of the pinned tools CI needs beside the control plane — helm (renders, lints
# and installs the chart) or promtool (unit-tests the alerting rules) — from its own Go
# module in hack/tools/NAME, caches the binary, and prints its path. A warm cache skips
# the build. Progress goes to stderr; the only line on stdout is the binary's path.
#
#   hack/build-tool.sh helm|promtool
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: hack/build-tool.sh helm|promtool}
case "$name" in
  helm) pkg=helm.sh/helm/v3/cmd/helm version=(version --short) ;;
  promtool) pkg=github.com/prometheus/prometheus/cmd/promtool version=(--version) ;;
  *) echo "build-tool: unknown tool $name (helm or promtool)" >&2; exit 2 ;;
esac
mod="$root/hack/tools/$name"

# The cache key covers this script, the pin and the Go toolchain: a change to any rebuilds.
key=$( (cat "$0" "$mod/go.mod" "$mod/go.sum"; go version) | sha256sum | cut -c1-16)
cache="${CUSCON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cuscon}/$name-$key"
if [ -x "$cache/$name" ]; then
  echo "build-tool: $name cached in $cache" >&2
  echo "$cache/$name"
  exit 0
fi

tmp="$cache.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
step() { echo "build-tool: [$((SECONDS - start))s] $*" >&2; }

step "building $name into $cache (first run only: a few minutes; its modules are downloaded once)"
(cd "$mod" && go mod download)
ldflags="-s -w"
if [ "$name" = helm ]; then
  # What Helm's own release build stamps in: its version, and the Kubernetes version its
  # client libraries speak, which `helm template` and `helm lint` assume (else 1.20, which
  # a chart's kubeVersion constraint refuses).
  v=$(cd "$mod" && go list -m -f '{{.Version}}' helm.sh/helm/v3)
  k=$(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/client-go) # v0.MINOR.PATCH is Kubernetes 1.MINOR
  minor=$(echo "$k" | cut -d. -f2)
  for p in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$minor"
  done
  ldflags+=" -X helm.sh/helm/v3/internal/version.version=$v"
fi
step "modules downloaded; compiling $pkg"
# A heartbeat while the build runs, so a cold first run does not look hung.
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/$name" "$pkg") &
pid=$! n=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  n=$((n + 1))
  if (( n % 30 == 0 )); then step "still building $name..."; fi
done
wait "$pid"

rm -rf "$cache"
mv "$tmp" "$cache"
trap - EXIT
step "done: $("$cache/$name" "${version[@]}" 2>&1 | head -n 1)"
echo "$cache/$name"
