# cuscon's image: a static binary on scratch, run as a non-root user. Nothing else is in
# it: cuscon speaks plain HTTP to the kubectl proxy sidecar on loopback, so it needs no CA
# certificates, shell or libc.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY *.go ./
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /cuscon .

FROM scratch
COPY --from=build /cuscon /cuscon
USER 65532:65532
ENTRYPOINT ["/cuscon"]
