#!/usr/bin/env bash
# Builds the two Tollgate images from the Dockerfile: TAG (full: Debian,
# glibc, bash, git) and TAG-static (the static binary on scratch). With
# --bake-db the vulnerability DB and the Java DB are downloaded at build time
# and the vulnerability DB's date is put in the label io.tollgate.vulndb.updated
# (and shown by `tollgate version`).
#
#   image/build.sh [-t TAG] [--bake-db] [--db-repository REF] [--java-db-repository REF] [--skip-java-db]
#                  [-- extra docker build flags]
#
# Environment: DOCKER (default docker).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
docker=${DOCKER:-docker}
tag=tollgate:dev
bake=false
dbrepo=
javarepo=
skipjava=false
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t|--tag) tag=$2; shift 2 ;;
    --bake-db) bake=true; shift ;;
    --db-repository) dbrepo=$2; shift 2 ;;
    --java-db-repository) javarepo=$2; shift 2 ;;
    --skip-java-db) skipjava=true; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
version=$(node -e 'const v=require("./task.json").version; console.log(`${v.Major}.${v.Minor}.${v.Patch}`)' 2>/dev/null || echo 0.1.0)
revision=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
args=(--build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "BAKE_DB=$bake")
[ -n "$dbrepo" ] && args+=(--build-arg "DB_REPOSITORY=$dbrepo")
[ -n "$javarepo" ] && args+=(--build-arg "JAVA_DB_REPOSITORY=$javarepo")
args+=(--build-arg "SKIP_JAVA_DB=$skipjava")
args+=("${extra[@]}")

labels=()
if [ "$bake" = true ]; then
  "$docker" build "${args[@]}" --target db -t "$tag-dbstage" .
  updated=$("$docker" run --rm --entrypoint /out/tollgate "$tag-dbstage" db info --cache-dir /out/cache | sed -n 's/^updated \([^ ]*\).*/\1/p')
  # --no-prune: the stages this build shares with the two below stay cached.
  "$docker" rmi --no-prune "$tag-dbstage" >/dev/null
  if [ -z "$updated" ]; then echo "the baked DB has no date" >&2; exit 1; fi
  labels=(--label "io.tollgate.vulndb.updated=$updated")
fi
"$docker" build "${args[@]}" "${labels[@]}" --target static -t "$tag-static" .
"$docker" build "${args[@]}" "${labels[@]}" --target full -t "$tag" .
echo "$tag $tag-static"
