#!/usr/bin/env bash
# Builds stakater/Reloader at the version pinned in hack/tools/reloader/go.mod, caches the
# binary, and prints its path. A warm cache skips the build. From the Go module proxy
# where it serves the module, else from Reloader's source as hack/reloader-suite/source.sh
# finds it (RELOADER_SRC, or the archive in shared/peers). Progress goes to stderr; the
# only line on stdout is the binary. Exits non-zero (and says why) when neither works, so
# that hack/bench.sh can run the other peers and report Reloader missing.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
key=$( (cat "$dir/go.mod"; [ -f "$dir/go.sum" ] && cat "$dir/go.sum"; go version) | sha256sum | cut -c1-16)
cache="${CUSCON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cuscon}/reloader-$key"
if [ -x "$cache/reloader" ]; then
  echo "build-reloader: cached in $cache" >&2
  echo "$cache/reloader"
  exit 0
fi
start=$SECONDS
step() { echo "build-reloader: [$((SECONDS - start))s] $*" >&2; }
version=$(sed -n 's/^require github.com\/stakater\/Reloader \(v[^ ]*\)$/\1/p' "$dir/go.mod")
step "building Reloader $version into $cache (first run only: a few minutes, pulls client-go)"
tmp="$cache.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
cd "$dir"
# -mod=mod lets the first build record go.sum; commit it so later builds are checked.
(go build -mod=mod -trimpath -o "$tmp/reloader" github.com/stakater/Reloader) &
pid=$! n=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  n=$((n + 1))
  if (( n % 30 == 0 )); then step "still building..."; fi
done
if ! wait "$pid"; then
  # The module proxy refuses Reloader on these machines: build from its source instead,
  # found as hack/reloader-suite.sh finds it (RELOADER_SRC, the module proxy, the archive).
  step "the module proxy did not serve Reloader $version; building from its source instead"
  root=$(cd "$dir/../../.." && pwd)
  suite_cache="${CUSCON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cuscon}/reloader-suite-$version"
  mkdir -p "$suite_cache"
  if ! src=$("$root/hack/reloader-suite/source.sh" "$suite_cache" "$version"); then
    step "failed: Reloader $version is not at hand (no module, no RELOADER_SRC, no archive)"
    exit 1
  fi
  if ! (cd "$src" && CGO_ENABLED=0 go build -mod=mod -trimpath -o "$tmp/reloader" .); then
    step "failed: Reloader $version could not be built from $src"
    exit 1
  fi
fi
rm -rf "$cache"
mv "$tmp" "$cache"
trap - EXIT
step "done"
echo "$cache/reloader"
