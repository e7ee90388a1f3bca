#!/usr/bin/env bash
# Creates local base images so that CI (which can pull nothing) builds the
# real Dockerfile:
#   tollgate-ci/debian:bookworm  Debian 12 from debootstrap (minbase, bash, ca-certificates, git)
#   tollgate-ci/golang:<version> the same plus this machine's Go toolchain and a copy of its Go
#                                build cache, labelled with the go.sum it was made for
# Users never need this: the Dockerfile's defaults are public images.
#
#   image/ci-base.sh [debian|all]     (default all; prints "DEBIAN GOLANG" when done)
#
# The build cache is what a CI with a persistent cache gives any build: the
# Dockerfile's build stage compiles with the flags this machine's tests and
# GoReleaser use (-trimpath, -tags gore2regex, CGO_ENABLED=0, jsonv2), so Go
# finds each package it already compiled here instead of compiling Trivy's
# and gitleaks' graph a second time inside Docker. Every step of the
# Dockerfile still runs. The image is made again when go.sum or the Go
# version changes (new dependencies), else kept.
#
# Two runs at once (.ci/run starts one in the background, the image tests'
# TestMain another) take turns on a lock; the second finds the images made.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
want=${1:-all}
go_version=$(go env GOVERSION | sed 's/^go//')
debian=tollgate-ci/debian:bookworm
golang=tollgate-ci/golang:${go_version}
gosum=$(sha256sum go.sum | cut -c1-16)

exec 9>"${TMPDIR:-/tmp}/tollgate-ci-base.lock"
flock 9

label() { docker image inspect --format "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

if ! docker image inspect "$debian" >/dev/null 2>&1; then
  mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
  rootfs=$(mktemp -d /tmp/tollgate-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=bash,ca-certificates,git bookworm "$rootfs" "$mirror" >&2
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  # Trust what this machine trusts (CI egress may go through a proxy with its own CA).
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  fi
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$debian" >&2
  rm -rf "$rootfs"
  trap - EXIT
fi
if [ "$want" = debian ]; then
  echo "$debian"
  exit 0
fi

if [ "$(label "$golang" io.tollgate.ci.gosum)" != "$gosum" ]; then
  old=$(docker image inspect --format '{{.Id}}' "$golang" 2>/dev/null || true)
  goroot=$(go env GOROOT)
  gocache=$(go env GOCACHE)
  ctx=$(mktemp -d /tmp/tollgate-golang-ctx.XXXXXX)
  trap 'rm -rf "$ctx"' EXIT
  cat >"$ctx/Dockerfile" <<EOF
FROM $debian
COPY go /usr/local/go
COPY go-build /root/.cache/go-build
ENV PATH=/usr/local/go/bin:/root/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    GOPATH=/root/go
LABEL io.tollgate.ci.gosum=$gosum
CMD ["/bin/bash"]
EOF
  # The context is a tar stream: the toolchain and the cache are read once,
  # never copied to disk first.
  # The tests write to the cache meanwhile (new entries, each written whole
  # before it is named): tar's "file changed as we read it" (exit 1) is
  # expected; a torn entry is a cache miss, never a wrong result.
  { tar -c --warning=no-file-changed -C "$ctx" Dockerfile \
      -C "$(dirname "$goroot")" --transform "s|^$(basename "$goroot")\(/\|\$\)|go\1|" "$(basename "$goroot")" \
      -C "$(dirname "$gocache")" --transform "s|^$(basename "$gocache")\(/\|\$\)|go-build\1|" "$(basename "$gocache")" \
      || [ $? -eq 1 ]; } \
    | docker build -q -t "$golang" - >&2
  if [ -n "$old" ] && [ "$old" != "$(docker image inspect --format '{{.Id}}' "$golang")" ]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
fi
echo "$debian $golang"
