#!/usr/bin/env bash
# Side-by-side benchmark: Tollgate vs gitleaks v8.30.1 and Trivy v0.74.0 on
# generated trees (1k/10k/50k files), the demo, an empty directory and a
# crafted image. Builds everything from the Go module proxy into a scratch
# folder outside the repository, then prints the table.
#
#   bash bench/run.sh                      # 5 runs, sizes 1000,10000,50000
#   bash bench/run.sh --runs 7 --output bench/RESULTS.table.md
#   TOLLGATE_BENCH_DIR=/mnt/scratch bash bench/run.sh
#
# Extra arguments go to tollgate-bench (see `--help`).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${TOLLGATE_BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate-bench}"
case "$work/" in "$repo"/*) echo "TOLLGATE_BENCH_DIR must be outside the repository" >&2; exit 2;; esac
mkdir -p "$work/bin"
export GOEXPERIMENT=jsonv2 GOFLAGS="${GOFLAGS:-} -trimpath"

echo "building tollgate" >&2
(cd "$repo" && go build -tags gore2regex -ldflags "-s -w -X main.version=bench" -o "$work/bin/tollgate" ./cmd/tollgate)
(cd "$repo" && go build -o "$work/bin/tollgate-bench" ./bench/cmd/tollgate-bench)

if [ ! -x "$work/bin/gitleaks" ]; then
  # As gitleaks' release binaries are built (.goreleaser.yml): RE2 regexes.
  echo "building gitleaks v8.30.1" >&2
  GOBIN="$work/bin" go install -tags gore2regex -ldflags "-s -w -X github.com/zricethezav/gitleaks/v8/version.Version=v8.30.1" github.com/zricethezav/gitleaks/v8@v8.30.1
fi
if [ ! -x "$work/bin/trivy" ]; then
  echo "building trivy v0.74.0 (a cold build takes several minutes and ~3 GB of memory)" >&2
  mod="$work/trivy-build"
  rm -rf "$mod" && mkdir -p "$mod"
  (cd "$mod" && go mod init tollgate-bench/trivy >/dev/null 2>&1 \
    && go get github.com/aquasecurity/trivy/cmd/trivy@v0.74.0 >/dev/null 2>&1 \
    && go build -ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=0.74.0" -o "$work/bin/trivy" github.com/aquasecurity/trivy/cmd/trivy)
fi

exec "$work/bin/tollgate-bench" --repo "$repo" --work "$work" \
  --tollgate "$work/bin/tollgate" --gitleaks "$work/bin/gitleaks" --trivy "$work/bin/trivy" "$@"
