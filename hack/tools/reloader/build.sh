#!/usr/bin/env bash
# Builds stakater/Reloader at the version pinned in hack/tools/reloader/go.mod, caches the
# binary, and prints its path. A warm cache skips the build. Progress goes to stderr; the
# only line on stdout is the binary. Exits non-zero (and says why) when the module cannot
# be fetched, so that hack/bench.sh can run the other peers and report Reloader missing.
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
  step "failed: Reloader $version could not be fetched or built (see above)"
  exit 1
fi
rm -rf "$cache"
mv "$tmp" "$cache"
trap - EXIT
step "done"
echo "$cache/reloader"
