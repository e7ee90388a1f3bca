#!/usr/bin/env bash
# Regenerates trivy-fs.golden.json: what the real Trivy CLI (the version of
# go.mod) reports for the fixture checkout (testdata/deps) with the fixture
# DB, per lockfile: the packages it lists and the vulnerabilities it finds.
# TestParityWithTrivyFS holds the deps engine to it.
#
#   GOEXPERIMENT=jsonv2 GOBIN=/tmp/bin go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0
#   TRIVY=/tmp/bin/trivy bash scanners/deps/testdata/trivy-fs.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
(cd "$root" && go run ./vulndb/vulndbtest/fixturedb "$cache")
(cd "$root/testdata" && "${TRIVY:-trivy}" fs --scanners vuln --skip-db-update --offline-scan --cache-dir "$cache" \
  --format json --list-all-pkgs --quiet deps) |
  python3 -c '
import json, sys
d = json.load(sys.stdin)
out = {}
for r in d.get("Results", []):
    out[r["Target"]] = {
        "packages": sorted("%s@%s" % (p["Name"], p.get("Version", "")) for p in r.get("Packages", [])),
        "vulnerabilities": sorted("%s %s@%s" % (v["VulnerabilityID"], v["PkgName"], v["InstalledVersion"]) for v in r.get("Vulnerabilities", [])),
    }
json.dump(out, sys.stdout, indent=1, sort_keys=True)
print()
' > "$here/trivy-fs.golden.json"
