#!/usr/bin/env bash
# Builds cuscon's image from the Dockerfile without a Docker engine, for amd64 and
# arm64, and writes both as one multi-platform OCI archive, dist/cuscon.oci.tar:
#
#   hack/image.sh                       # then, e.g.:
#   skopeo copy --all oci-archive:dist/cuscon.oci.tar docker://REGISTRY/cuscon:dev
#
# The static binaries are compiled here with the local Go (GOARCH cross-compiling) into
# dist/linux-ARCH/cuscon; buildah then builds the Dockerfile's final stage around them
# (BINARY=prebuilt), so nothing runs inside a container. buildah is installed from
# Debian's packages if it is missing (as root). Environment: CUSCON_VERSION (default:
# git describe), CUSCON_IMAGE_TAG (dev), CUSCON_IMAGE_SOURCE (the origin remote's URL),
# CUSCON_IMAGE_ARCHES ("amd64 arm64").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$SECONDS
step() { echo "image: [$((SECONDS - start))s] $*" >&2; }

if ! command -v buildah >/dev/null; then
  step "installing buildah from Debian's packages"
  if [ "$(id -u)" != 0 ]; then echo "image: buildah is missing; install it (apt-get install buildah)" >&2; exit 1; fi
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >&2
fi

revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The commit's time stamps the image and its files, so the same commit builds the same image.
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
version=${CUSCON_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
tag=${CUSCON_IMAGE_TAG:-dev}
# Where the source lives: set CUSCON_IMAGE_SOURCE to the public repository when publishing;
# else the origin remote, else this checkout.
source=${CUSCON_IMAGE_SOURCE:-$(git remote get-url origin 2>/dev/null || echo "file://$root")}
arches=${CUSCON_IMAGE_ARCHES:-amd64 arm64}
out=dist/cuscon.oci.tar
list="localhost/cuscon-build:$tag"

mkdir -p dist
# Go's zone data goes beside the binary (ZONEINFO): maintenance windows name time zones.
cp "$(go env GOROOT)/lib/time/zoneinfo.zip" dist/zoneinfo.zip
before=$(buildah images -q --no-trunc | sort)
buildah manifest rm "$list" >/dev/null 2>&1 || true
buildah manifest create "$list" >/dev/null
for arch in $arches; do
  step "compiling cuscon $version for linux/$arch"
  mkdir -p "dist/linux-$arch"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version" -o "dist/linux-$arch/cuscon" .
  step "building the linux/$arch image"
  buildah build --quiet --timestamp "$epoch" --arch "$arch" --os linux --build-arg BINARY=prebuilt \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg SOURCE="$source" \
    --manifest "$list" -f Dockerfile . >/dev/null
done
rm -f "$out"
buildah manifest push --quiet --all "$list" "oci-archive:$out:cuscon:$tag" >/dev/null
# The archive is the product: leave nothing behind in buildah's local storage.
buildah manifest rm "$list" >/dev/null
new=$(comm -13 <(echo "$before") <(buildah images -q --no-trunc | sort))
if [ -n "$new" ]; then buildah rmi -f $new >/dev/null 2>&1 || true; fi
step "wrote $out ($(du -h "$out" | cut -f1), cuscon:$tag, $version, linux/{${arches// /,}})"
