# One image for `loupe` (serve, demo, and each demo service) and the two
# helpers the deploy files run: healthcheck (the container health check, as
# the image has no shell) and traffic (the demo's traffic against a gateway
# running elsewhere). See deploy/README.md.
#
#   docker build -t loupe:dev .
#   docker run --rm -p 4317:4317 -p 4318:4318 -p 16686:16686 loupe:dev
#   docker run --rm loupe:dev demo service gateway
#
# Build stage: a static, pure-Go binary (CGO_ENABLED=0; the SQLite driver is
# pure Go). deploy's Go test runs this very `go build` line and checks that
# the result is static.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
RUN go build -ldflags="-s -w" -o /out/ ./cmd/loupe ./deploy/cmd/healthcheck ./deploy/cmd/traffic
# The runtime image has no package manager: its user, its CA certificates
# (for `loupe serve --forward https://…` and OTLP over TLS) and its writable
# directories are made here. /opt/healthcheck holds a second copy of the
# health check, which deploy/compose shares with images that have no shell
# through a named volume.
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/data /rootfs/tmp /rootfs/opt/healthcheck \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && cp /out/healthcheck /rootfs/opt/healthcheck/ \
 && echo 'loupe:x:65532:65532:loupe:/data:/sbin/nologin' > /rootfs/etc/passwd \
 && echo 'loupe:x:65532:' > /rootfs/etc/group \
 && chown 65532:65532 /rootfs/data \
 && chmod 1777 /rootfs/tmp

# Runtime: nothing but the binaries, the certificates and a non-root user.
FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build /out/loupe /out/healthcheck /out/traffic /usr/local/bin/
USER 65532:65532
WORKDIR /data
ENV HOME=/data
# OTLP gRPC and HTTP, the UI and query API; the demo services listen on
# 8080-8084 (LISTEN_ADDR) and 9081 (the orchestrator's gRPC).
EXPOSE 4317 4318 16686
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/loupe"]
# Every listener on all interfaces: inside a container, loopback would be
# unreachable from the other containers.
CMD ["serve", "--otlp-grpc", ":4317", "--otlp-http", ":4318", "--http", ":16686", "--data-dir", "/data/store"]
