# cuscon's image: a static binary on scratch, run as a non-root user, and Go's zone data
# (ZONEINFO), which maintenance windows read their time zones from. Nothing else is in
# it: cuscon speaks plain HTTP to the kubectl proxy sidecar on loopback, so it needs no
# shell or libc; in direct mode it trusts the ServiceAccount's mounted ca.crt, so it
# needs no CA bundle either. The zone data is a file beside the binary rather than
# embedded in it (time/tzdata) to keep the binary under its 8 MiB budget.
#
# Two ways to build the same image:
#   docker build -t cuscon:dev .   compiles cuscon in golang:1.26 (stage "compiled")
#   hack/image.sh                  compiles with the local Go into dist/linux-ARCH/ and
#                                  builds with buildah, no Docker engine: BINARY=prebuilt
ARG BINARY=compiled

FROM --platform=$BUILDPLATFORM golang:1.26 AS compiled
WORKDIR /src
COPY go.mod go.sum ./
COPY *.go ./
COPY internal/ ./internal/
ARG VERSION=dev
ARG TARGETOS TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /cuscon . && \
    cp "$(go env GOROOT)/lib/time/zoneinfo.zip" /zoneinfo.zip

FROM scratch AS prebuilt
ARG TARGETARCH
COPY dist/linux-${TARGETARCH}/cuscon /cuscon
COPY dist/zoneinfo.zip /zoneinfo.zip

FROM ${BINARY} AS binary

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="cuscon" \
      org.opencontainers.image.description="Restarts the pods a ConfigMap names when its content changes" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=binary /cuscon /cuscon
COPY --from=binary /zoneinfo.zip /zoneinfo.zip
ENV ZONEINFO=/zoneinfo.zip
USER 65532:65532
ENTRYPOINT ["/cuscon"]
