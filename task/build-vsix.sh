#!/usr/bin/env bash
# Builds the Azure DevOps extension (.vsix) offline: the task (task.json, the
# Node shim, the icon) and the linux/amd64 tollgate binary for runner: binary.
#
#   bash task/build-vsix.sh [OUT_DIR]        (default dist/)
#
# TOLLGATE_BINARY=path reuses a built linux/amd64 binary instead of building one.
# TFX=path selects tfx-cli (default: .ci/tools/node_modules/.bin/tfx, from `bash .ci/run`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-dist}
tfx=${TFX:-.ci/tools/node_modules/.bin/tfx}
if [ ! -x "$tfx" ]; then
  echo "tfx-cli not found at $tfx: npm install --prefix .ci/tools tfx-cli" >&2
  exit 1
fi

version=$(node -e 'const v=require("./task.json").version; console.log(`${v.Major}.${v.Minor}.${v.Patch}`)')
stage="$out/vsix"
task="$stage/tollgate-task"
rm -rf "$stage"
mkdir -p "$task/shim" "$task/bin/linux-amd64" "$stage/images"

cp task.json "$task/task.json"
cp task/icon.png "$task/icon.png"
# The shim runs the image of this task's version.
sed "s|ghcr.io/tollgate/tollgate:[0-9A-Za-z.-]*'|ghcr.io/tollgate/tollgate:${version}'|" task/shim/index.js > "$task/shim/index.js"
cp task/extension-icon.png "$stage/images/extension-icon.png"
cp task/overview.md "$stage/overview.md"
node -e '
  const fs = require("fs");
  const m = JSON.parse(fs.readFileSync("task/vss-extension.json", "utf8"));
  m.version = process.argv[1];
  fs.writeFileSync(process.argv[2], JSON.stringify(m, null, 2) + "\n");
' "$version" "$stage/vss-extension.json"

if [ -n "${TOLLGATE_BINARY:-}" ]; then
  cp "$TOLLGATE_BINARY" "$task/bin/linux-amd64/tollgate"
else
  GOEXPERIMENT=jsonv2 CGO_ENABLED=0 GOOS=linux GOARCH=amd64 \
    go build -tags gore2regex -trimpath -ldflags "-s -w -X main.version=${version}" -o "$task/bin/linux-amd64/tollgate" ./cmd/tollgate
fi
chmod 0755 "$task/bin/linux-amd64/tollgate"

"$tfx" extension create --root "$stage" --manifest-globs vss-extension.json --output-path "$out" --no-prompt --json > "$out/vsix.json"
node -e 'const r=require(require("path").resolve(process.argv[1])); console.log(r.path)' "$out/vsix.json"
