# syntax=docker/dockerfile:1
# hubd container image: a static binary on debian-slim, running as a non-root user.
# Build: docker build -t hubd .   (docs/deploy.md)

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" ./cmd/hubd
# The default configuration: the example hubs on the embedded backends.
# Mounting /etc/hubd replaces all of it.
COPY deploy/docker/hubd.yaml /rootfs/etc/hubd/hubd.yaml
COPY configs/hubs/ /rootfs/etc/hubd/hubs/
COPY configs/lib/ /rootfs/etc/hubd/lib/
COPY configs/records/ /rootfs/etc/hubd/records/
RUN mkdir -p /rootfs/var/lib/hubd && install -D -m 0755 hubd /rootfs/usr/local/bin/hubd

# debian-slim rather than distroless: `kubectl exec ... sh -c 'kill -HUP 1'`
# reloads the hubs (docs/deploy.md). hubd runs as uid/gid 65532.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 hubd \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /var/lib/hubd --shell /usr/sbin/nologin hubd
COPY --from=build /rootfs/ /
# The embedded message store writes here.
COPY --from=build --chown=65532:65532 /rootfs/var/lib/hubd /var/lib/hubd
# 8080: Socket.IO and the hubs' REST APIs. 9090: the admin listener (/metrics,
# POST /-/reload, /debug/pprof/) for Prometheus and operators; never publish it
# to the internet (docs/security.md).
ENV HUBD_LISTEN=0.0.0.0:8080 HUBD_ADMIN__LISTEN=0.0.0.0:9090
USER 65532:65532
EXPOSE 8080 9090
VOLUME ["/etc/hubd", "/var/lib/hubd"]
ENTRYPOINT ["hubd"]
CMD ["serve", "--config", "/etc/hubd/hubd.yaml"]
