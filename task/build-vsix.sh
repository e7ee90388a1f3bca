#!/usr/bin/env bash
# Builds the Azure DevOps extension (.vsix) offline: task.json, the handler
# bundled with its node modules into one file (esbuild), checksums.json (the
# SHA-256 of every release archive, from GoReleaser's checksums.txt), the
# icons. No binary: the task installs the release archive for the agent's
# OS and architecture at run time, checked against checksums.json.
#
#   bash task/build-vsix.sh [OUT_DIR [DIST_DIR]]     (default dist/vsix-out and dist/)
#
# DIST_DIR is GoReleaser's output (`goreleaser release --snapshot --clean`,
# or a release): checksums.txt and metadata.json (the archives' version).
# TOLLGATE_RELEASE_TARGETS=linux_amd64 accepts a DIST_DIR with that archive alone (CI's
# snapshot); by default every archive task/shim/src/install.js installs must be there.
# TFX=path selects tfx-cli (default: .ci/tools/node_modules/.bin/tfx, from `bash .ci/run`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-dist/vsix-out}
dist=${2:-dist}
tfx=${TFX:-.ci/tools/node_modules/.bin/tfx}
if [ ! -x "$tfx" ]; then
  echo "tfx-cli not found at $tfx: npm install --prefix .ci/tools tfx-cli" >&2
  exit 1
fi
for f in "$dist/checksums.txt" "$dist/metadata.json"; do
  if [ ! -f "$f" ]; then
    echo "$f not found: run goreleaser release --snapshot --clean (or pass a release's folder)" >&2
    exit 1
  fi
done

version=$(node -e 'const v=require("./task.json").version; console.log(`${v.Major}.${v.Minor}.${v.Patch}`)')
stage="$out/vsix"
task="$stage/tollgate-task"
rm -rf "$stage"
mkdir -p "$task/shim" "$stage/images"

cp task.json "$task/task.json"
cp task/icon.png "$task/icon.png"
cp task/extension-icon.png "$stage/images/extension-icon.png"
cp task/overview.md "$stage/overview.md"

# The handler and its node modules in one file; the image it runs in docker
# mode is pinned to the task's version.
if [ ! -d task/shim/node_modules ]; then
  npm ci --prefix task/shim --no-audit --no-fund --loglevel=error
fi
task/shim/node_modules/.bin/esbuild task/shim/index.js --bundle --platform=node --target=node20 \
  --minify --legal-comments=none --log-level=warning --outfile="$task/shim/index.js"
sed -i "s|ghcr.io/tollgate/tollgate:[0-9A-Za-z.-]*\"|ghcr.io/tollgate/tollgate:${version}\"|g; s|ghcr.io/tollgate/tollgate:[0-9A-Za-z.-]*'|ghcr.io/tollgate/tollgate:${version}'|g" "$task/shim/index.js"
cp task/shim/node_modules/azure-pipelines-task-lib/LICENSE "$task/shim/LICENSE.azure-pipelines-task-lib"
cp task/shim/node_modules/azure-pipelines-tool-lib/LICENSE "$task/shim/LICENSE.azure-pipelines-tool-lib"

# checksums.json: the archives' version and each archive's SHA-256.
node -e '
  const fs = require("fs");
  const [sums, meta, outFile] = process.argv.slice(1);
  const files = {};
  for (const line of fs.readFileSync(sums, "utf8").split(/\r?\n/)) {
    const m = /^([0-9a-f]{64})\s+\*?(\S+)$/.exec(line.trim());
    if (m && /\.(tar\.gz|zip)$/.test(m[2])) files[m[2]] = m[1];
  }
  const version = JSON.parse(fs.readFileSync(meta, "utf8")).version;
  if (!version) { console.error(`${meta}: no version`); process.exit(1); }
  // A release carries every archive the handler can install; CI builds
  // linux/amd64 alone (TOLLGATE_RELEASE_TARGETS=linux_amd64).
  const { ARCHIVES } = require("./task/shim/src/install.js");
  const only = process.env.TOLLGATE_RELEASE_TARGETS || "all";
  const want = ARCHIVES.filter(([o, a]) => only === "all" || only === `${o}_${a}`)
    .map(([o, a]) => `tollgate_${version}_${o}_${a}${o === "windows" ? ".zip" : ".tar.gz"}`).sort();
  const got = Object.keys(files).sort();
  if (want.length === 0 || JSON.stringify(want) !== JSON.stringify(got)) {
    console.error(`checksums.txt lists ${JSON.stringify(got)}, the release needs ${JSON.stringify(want)} (TOLLGATE_RELEASE_TARGETS=${only})`);
    process.exit(1);
  }
  fs.writeFileSync(outFile, JSON.stringify({ version, files }, null, 2) + "\n");
' "$dist/checksums.txt" "$dist/metadata.json" "$task/shim/checksums.json"

node -e '
  const fs = require("fs");
  const m = JSON.parse(fs.readFileSync("task/vss-extension.json", "utf8"));
  m.version = process.argv[1];
  fs.writeFileSync(process.argv[2], JSON.stringify(m, null, 2) + "\n");
' "$version" "$stage/vss-extension.json"

"$tfx" extension create --root "$stage" --manifest-globs vss-extension.json --output-path "$out" --no-prompt --json > "$out/vsix.json"
node -e 'const r=require(require("path").resolve(process.argv[1])); console.log(r.path)' "$out/vsix.json"
