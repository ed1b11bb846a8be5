#!/usr/bin/env bash
# Builds the end-to-end control plane's binaries (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok) from the pinned modules in
# hack/tools, caches them, and prints the cache directory. A warm cache skips the build.
# Progress goes to stderr; the only line on stdout is the directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/hack/tools"

# The cache key covers the pins and the Go toolchain, so a change to either rebuilds.
key=$( (cat "$tools"/kube/go.mod "$tools"/kube/go.sum "$tools"/kube/etcd/main.go \
            "$tools"/kwok/go.mod "$tools"/kwok/go.sum; go version) | sha256sum | cut -c1-16)
cache="${CUSCON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cuscon}/plane-$key"
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwok-stages.yaml)

complete=true
for b in "${bins[@]}"; do [ -s "$cache/$b" ] || complete=false; done
if $complete; then
  echo "build-plane: cached in $cache" >&2
  echo "$cache"
  exit 0
fi

tmp="$cache.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
step() { echo "build-plane: [$((SECONDS - start))s] $*" >&2; }

# Print a heartbeat while a long build runs, so a cold first run does not look hung.
build() {
  local dir=$1; shift
  (cd "$dir" && go build -trimpath -o "$tmp/" "$@") &
  local pid=$! n=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    n=$((n + 1))
    if (( n % 30 == 0 )); then step "still building..."; fi
  done
  wait "$pid"
}

step "building into $cache (first run only: about 15 minutes on 2 cores, ~0.9 GB of modules and ~4 GB of build cache)"
step "downloading modules"
(cd "$tools/kube" && go mod download) && (cd "$tools/kwok" && go mod download)
step "building etcd"
build "$tools/kube" ./etcd
step "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (the long part)"
build "$tools/kube" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
step "building kwok"
build "$tools/kwok" sigs.k8s.io/kwok/cmd/kwok
stages=$(cd "$tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage
for s in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
         pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  cat "$stages/$s"; echo "---"
done > "$tmp/kwok-stages.yaml"

rm -rf "$cache"
mv "$tmp" "$cache"
trap - EXIT
step "done"
echo "$cache"
