# Tollgate container image. Two targets from one build:
#
#   docker build -t tollgate .                       # "full" (default): Debian slim, glibc, bash, git —
#                                                    #   for container jobs, git history scans and docker run
#   docker build --target static -t tollgate:static .  # the static binary alone on scratch: smallest,
#                                                    #   no shell, for `docker run ... scan`
#
# With the vulnerability DB baked in, for --offline / --network none scans:
#   docker build --build-arg BAKE_DB=true -t tollgate:db .
# (image/build.sh also labels the image with the DB's date.)
#
# Base images and the Go module proxy are build arguments, so a build can use
# local or mirrored images. Platforms: BuildKit sets TARGETOS/TARGETARCH
# (docker buildx build --platform linux/amd64,linux/arm64 ...).
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG STATIC_IMAGE=scratch

FROM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=0.1.0
ARG GOPROXY=https://proxy.golang.org,direct
WORKDIR /src
# Trivy v0.74 needs the JSON v2 experiment; gitleaks' rules run on RE2
# (go-re2, as in gitleaks' release binaries); the binary is static (no cgo).
ENV GOEXPERIMENT=jsonv2 CGO_ENABLED=0
COPY go.mod go.sum ./
RUN GOPROXY="$GOPROXY" go mod download
# The third-party packages (Trivy, gitleaks, ...) compile in a layer of their
# own, keyed on go.mod, go.sum and internal/deps: a change to Tollgate's code
# alone reuses it and recompiles Tollgate only. Same flags as the build below.
COPY internal/deps/deps.go internal/deps/
RUN GOPROXY="$GOPROXY" GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-$(go env GOARCH)}" \
      go build -tags gore2regex -trimpath ./internal/deps
COPY . .
RUN GOPROXY="$GOPROXY" GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-$(go env GOARCH)}" \
      go build -tags gore2regex -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" -o /out/tollgate ./cmd/tollgate \
 && mkdir -p /out/cache /out/rootfs/tmp && chmod 1777 /out/rootfs/tmp

# The vulnerability DB and the Java DB (Trivy's layout) when BAKE_DB=true;
# else an empty cache.
FROM build AS db
ARG BAKE_DB=false
ARG DB_REPOSITORY=
ARG JAVA_DB_REPOSITORY=
ARG SKIP_JAVA_DB=false
RUN if [ "$BAKE_DB" = "true" ]; then \
      /out/tollgate db download --cache-dir /out/cache ${DB_REPOSITORY:+--db-repository "$DB_REPOSITORY"} \
        ${JAVA_DB_REPOSITORY:+--java-db-repository "$JAVA_DB_REPOSITORY"} --skip-java-db="$SKIP_JAVA_DB"; \
    fi \
 && chmod -R a+rX /out/cache

FROM ${STATIC_IMAGE} AS static
ARG VERSION=0.1.0
ARG REVISION=unknown
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# COPY of a directory's contents keeps their modes: /tmp is 1777 (Trivy
# unpacks image layers there), which COPY of /tmp itself would not keep.
COPY --from=build /out/rootfs/ /
COPY --from=db /out/cache /opt/tollgate/cache
COPY --from=db /out/tollgate /usr/local/bin/tollgate
ENV PATH=/usr/local/bin \
    HOME=/tmp \
    TOLLGATE_CACHE_DIR=/opt/tollgate/cache \
    TOLLGATE_EXEC_FALLBACK=1
USER 10001:10001
WORKDIR /src
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["help"]
LABEL org.opencontainers.image.title="Tollgate (static)" \
      org.opencontainers.image.description="Secrets, IaC and container-image security gate with one SARIF log" \
      org.opencontainers.image.source="https://github.com/tollgate/tollgate" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"

FROM ${RUNTIME_IMAGE} AS full
ARG VERSION=0.1.0
ARG REVISION=unknown
# git reads pull-request history. No safe.directory here: Tollgate trusts
# the one repository it scans, per command (scanners/gitrepo), never every
# repository (an embedded one a pull request commits included).
RUN set -e; \
    if ! command -v git >/dev/null || [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends ca-certificates git; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    if ! getent passwd 10001 >/dev/null; then \
      useradd --uid 10001 --user-group --home-dir /home/tollgate --create-home --shell /bin/bash tollgate; \
    fi
COPY --from=db /out/cache /opt/tollgate/cache
COPY --from=db /out/tollgate /usr/local/bin/tollgate
ENV TOLLGATE_CACHE_DIR=/opt/tollgate/cache \
    TOLLGATE_EXEC_FALLBACK=1
USER 10001:10001
WORKDIR /src
# No command of its own is forced: `docker run IMAGE scan /src` runs tollgate,
# any other command (a container job's keep-alive, bash) runs as given.
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["help"]
LABEL org.opencontainers.image.title="Tollgate" \
      org.opencontainers.image.description="Secrets, IaC and container-image security gate with one SARIF log" \
      org.opencontainers.image.source="https://github.com/tollgate/tollgate" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
