#!/usr/bin/env bash
# Creates local base images so that CI (which can pull nothing) builds the
# real Dockerfile:
#   tollgate-ci/debian:bookworm  Debian 12 from debootstrap (minbase, bash, ca-certificates, git)
#   tollgate-ci/golang:<version> the same plus this machine's Go toolchain
# Users never need this: the Dockerfile's defaults are public images.
set -euo pipefail
go_version=$(go env GOVERSION | sed 's/^go//')
debian=tollgate-ci/debian:bookworm
golang=tollgate-ci/golang:${go_version}
if docker image inspect "$debian" >/dev/null 2>&1 && docker image inspect "$golang" >/dev/null 2>&1; then
  echo "$debian $golang"
  exit 0
fi
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
cp -a "$(go env GOROOT)" "$rootfs/usr/local/go"
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/go/bin:/root/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV GOPATH=/root/go' --change 'CMD ["/bin/bash"]' - "$golang" >&2
echo "$debian $golang"
