#!/usr/bin/env bash
# Regenerates trivy-config.golden.json: what the real `trivy config` CLI (the
# Trivy version of go.mod, with the checks embedded in it) reports for the
# fixture tree (testdata/parity), per finding: check ID (Trivy 0.74 reports
# the AVD-style ID, e.g. AWS-0086, and no separate AVDID), file, start line,
# resource and file type; and per file with failures, its type.
# TestParityWithTrivyConfig holds the IaC engine to it, and fails when go.mod
# moves Trivy or trivy-checks away from the versions recorded here.
#
#   GOEXPERIMENT=jsonv2 CGO_ENABLED=0 GOBIN=/tmp/bin go install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0
#   TRIVY=/tmp/bin/trivy bash scanners/iac/testdata/trivy-config.sh
#
# Offline: no check bundle download (--skip-check-update: the checks embedded
# in the binary, as Tollgate uses them), no version check, no telemetry, a
# throw-away cache, and no network at all where `unshare -rn` works.
#
# The options are the engine's defaults plus its value-file settings:
#   --misconfig-scanners  every type the engine checks by default
#                         (iactype.Names; the test compares the list)
#   --tf-vars             terraform/prod.tfvars      (Tollgate: --tf-vars)
#   --cf-params           cloudformation/params.json (Tollgate: --cf-params)
#   --helm-values         helm/webapp/values-prod.yaml (Tollgate: --helm-values)
# Each value file changes a finding: AWS-0026 on terraform/main.tf,
# AWS-0135 on cloudformation/queue.yaml, KSV-0009 in place of KSV-0017 on
# the chart's deployment.
#
# parity/tfplan/snapshot/tfplan is a binary Terraform plan copied unchanged
# from Trivy v0.74.0 (Apache-2.0, Copyright Aqua Security):
# pkg/iac/scanners/terraformplan/snapshot/testdata/with-local-module/tfplan.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
trivy=$(command -v "${TRIVY:-trivy}")

scanners=azure-arm,cloudformation,dockerfile,helm,kubernetes,terraform,terraformplan-json,terraformplan-snapshot,ansible
tfvars=terraform/prod.tfvars
cfparams=cloudformation/params.json
helmvalues=helm/webapp/values-prod.yaml

# The binary's module versions, which must be go.mod's.
modver() { go version -m "$trivy" | awk -v m="$1" '($1 == "mod" || $1 == "dep") && $2 == m { print $3 }'; }
want=$(awk '$1 == "github.com/aquasecurity/trivy" { print $2 }' "$root/go.mod")
have=$(modver github.com/aquasecurity/trivy)
if [ "$have" != "$want" ]; then
  echo "$trivy is Trivy ${have:-of unknown version}; go.mod requires $want" >&2
  exit 1
fi
checks=$(modver github.com/aquasecurity/trivy-checks)

cache=$(mktemp -d)
out=$(mktemp)
trap 'rm -rf "$cache" "$out"' EXIT
isolate=()
if unshare -rn true 2>/dev/null; then
  isolate=(unshare -rn)
fi
(cd "$here" && HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
  "${isolate[@]}" "$trivy" config --quiet --format json --cache-dir "$cache" \
  --skip-check-update --skip-version-check --disable-telemetry \
  --misconfig-scanners "$scanners" \
  --tf-vars "parity/$tfvars" --cf-params "parity/$cfparams" --helm-values "parity/$helmvalues" \
  parity) > "$out"

TRIVY_VERSION=${have#v} CHECKS_VERSION=$checks SCANNERS=$scanners \
  TFVARS=$tfvars CFPARAMS=$cfparams HELMVALUES=$helmvalues python3 -c '
import json, os, sys
d = json.load(open(sys.argv[1]))
findings, files = [], {}
for r in d.get("Results", []):
    ms = r.get("Misconfigurations") or []
    if r.get("MisconfSummary", {}).get("Failures", 0) != len(ms):
        sys.exit("%s: %d failures, %d misconfigurations listed" % (r["Target"], r["MisconfSummary"]["Failures"], len(ms)))
    if ms:
        files[r["Target"]] = r["Type"]
    for m in ms:
        c = m.get("CauseMetadata", {})
        findings.append({"id": m["ID"], "file": r["Target"], "line": c.get("StartLine", 0),
                         "resource": c.get("Resource", ""), "type": r["Type"]})
findings.sort(key=lambda f: (f["file"], f["line"], f["id"], f["resource"]))
e = os.environ
json.dump({
    "trivy": e["TRIVY_VERSION"], "trivy_checks": e["CHECKS_VERSION"],
    "misconfig_scanners": e["SCANNERS"].split(","),
    "tf_vars": [e["TFVARS"]], "cf_params": [e["CFPARAMS"]], "helm_values": [e["HELMVALUES"]],
    "files": files, "findings": findings,
}, sys.stdout, indent=1, sort_keys=True)
print()
' "$out" > "$here/trivy-config.golden.json"
