#!/usr/bin/env bash
# Finds stakater/Reloader's source (its test/e2e suite and Helm chart) for
# hack/reloader-suite.sh and prints its directory; progress goes to stderr.
#
#   hack/reloader-suite/source.sh CACHE_DIR VERSION
#
# In order: RELOADER_SRC (a source tree, used in place and as it is); else a copy unpacked
# earlier into CACHE_DIR/src; else the Go module proxy (go mod download); else the archive
# RELOADER_ARCHIVE, or reloader-VERSION-*.tar.gz in /work/shared/peers or in the shared/
# folder beside this checkout. A fresh copy gets one change where the module proxy refuses
# a version its go.mod pins: github.com/openshift/api is replaced by the version that
# github.com/openshift/client-go (also pinned there) asks for.
# Exit codes: 0 found, 3 not at hand (CI treats that as skipped), 2 unusable.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${1:?usage: source.sh CACHE_DIR VERSION} version=${2:?usage: source.sh CACHE_DIR VERSION}
module=github.com/stakater/Reloader
say() { echo "reloader-suite: $*" >&2; }
py=$(command -v /usr/bin/python3 || command -v python3 || true)
[ -n "$py" ] || { say "python3 is missing"; exit 2; }
json_field() { "$py" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]) or "")' "$1"; }

check_tree() { # a tree the suite can run from: Reloader's go.mod, test/e2e, the chart
  [ -f "$1/go.mod" ] && grep -q "^module $module\$" "$1/go.mod" && [ -d "$1/test/e2e/core" ] &&
    [ -f "$1/deployments/kubernetes/chart/reloader/Chart.yaml" ]
}

if [ -n "${RELOADER_SRC:-}" ]; then
  if ! check_tree "$RELOADER_SRC"; then
    say "RELOADER_SRC=$RELOADER_SRC is not Reloader's source (go.mod, test/e2e, chart)"; exit 2
  fi
  say "Reloader's source: RELOADER_SRC=$RELOADER_SRC (used as it is)"
  cd "$RELOADER_SRC" && pwd
  exit 0
fi

src=$cache/src
if [ -f "$src/.complete" ] && check_tree "$src"; then
  say "Reloader's source: $(cat "$src/.complete") (cached in $src)"
  echo "$src"
  exit 0
fi

tmp=$cache/src.tmp.$$
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
rm -rf "$tmp"; mkdir -p "$tmp"
origin=

# 1. The Go module proxy (refused for every Reloader version on the proxy these machines
#    reach today; tried first so that a proxy that serves it needs no archive).
say "asking the Go module proxy for $module@$version"
dl=$(cd / && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$module@$version" 2>/dev/null || true)
[ -n "$dl" ] || dl='{}'
dir=$(json_field Dir <<<"$dl" 2>/dev/null || true)
if [ -n "$dir" ] && [ -d "$dir" ]; then
  cp -R "$dir" "$tmp/reloader" && chmod -R u+w "$tmp/reloader"
  origin="$module@$version from the Go module proxy"
else
  why=$(json_field Error <<<"$dl" 2>/dev/null | head -n 1 || true)
  say "not served (${why:-no answer})"
fi

# 2. The archive.
if [ -z "$origin" ]; then
  archive=${RELOADER_ARCHIVE:-}
  if [ -z "$archive" ]; then
    for a in /work/shared/peers/reloader-"$version"-*.tar.gz "$root"/../shared/peers/reloader-"$version"-*.tar.gz; do
      [ -f "$a" ] && { archive=$a; break; }
    done
  fi
  if [ -z "$archive" ] || [ ! -f "$archive" ]; then
    say "Reloader's source is not at hand: the module proxy does not serve $module@$version and"
    say "there is no archive (${archive:-set RELOADER_ARCHIVE, or put reloader-$version-*.tar.gz in shared/peers}); or set RELOADER_SRC"
    exit 3
  fi
  say "unpacking $archive"
  tar -xzf "$archive" -C "$tmp"
  if [ ! -d "$tmp/reloader" ]; then # whatever the top folder is called
    top=$(find "$tmp" -mindepth 2 -maxdepth 2 -name go.mod -printf '%h\n' -quit)
    [ -n "$top" ] && mv "$top" "$tmp/reloader"
  fi
  origin="$(basename "$archive")"
fi
if ! check_tree "$tmp/reloader"; then
  say "$origin does not hold Reloader's source (go.mod, test/e2e, chart)"; exit 2
fi

# 3. github.com/openshift/api: when the pinned version is refused, take the one
#    github.com/openshift/client-go's go.mod asks for (v0.0.0-20260326111139-30c2ef7a272e
#    for v1.4.21).
cd "$tmp/reloader"
pin() { go mod edit -json | "$py" -c 'import json,sys
for r in json.load(sys.stdin).get("Require") or []:
    if r["Path"] == sys.argv[1]: print(r["Version"])' "$1"; }
api=$(pin github.com/openshift/api)
if [ -n "$api" ] && ! GOFLAGS=-mod=mod go mod download github.com/openshift/api@"$api" >/dev/null 2>&1; then
  want=
  cg=$(pin github.com/openshift/client-go)
  if [ -n "$cg" ]; then
    gomod=$(GOFLAGS=-mod=mod go mod download -json github.com/openshift/client-go@"$cg" 2>/dev/null | json_field GoMod || true)
    [ -n "$gomod" ] && want=$(awk '$1=="github.com/openshift/api"{print $2; exit}' "$gomod")
  fi
  want=${want:-v0.0.0-20260326111139-30c2ef7a272e}
  say "github.com/openshift/api@$api is refused by the module proxy: replaced by @$want (what openshift/client-go@$cg asks for)"
  go mod edit -replace github.com/openshift/api=github.com/openshift/api@"$want"
fi
cd - >/dev/null

echo "$origin" >"$tmp/reloader/.complete"
rm -rf "$src"; mkdir -p "$cache"; mv "$tmp/reloader" "$src"
say "Reloader's source: $origin (unpacked into $src)"
echo "$src"
