package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/aquasecurity/trivy/pkg/iac/scanners/terraformplan/snapshot/planproto"
	"github.com/zclconf/go-cty/cty"
	ctymsgpack "github.com/zclconf/go-cty/cty/msgpack"
	"google.golang.org/protobuf/proto"
)

// These tests back claims the README makes that no other test asserted.

// CRITICAL and HIGH are SARIF errors, MEDIUM warnings, LOW and UNKNOWN notes.
func TestSARIFLevels(t *testing.T) {
	t.Parallel()
	sarifPath := filepath.Join(t.TempDir(), "demo.sarif")
	if r := tollgate(t, nil, "scan", "-q", "--sarif", sarifPath, demoDir(t)); r.code != 1 {
		t.Fatalf("exit %d", r.code)
	}
	log, _ := readSARIF(t, sarifPath)
	want := map[string]string{"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note", "UNKNOWN": "note"}
	seen := map[string]bool{}
	for _, run := range log.Runs {
		for _, r := range run.Results {
			sev, _ := r.Properties["severity"].(string)
			seen[sev] = true
			if r.Level != want[sev] {
				t.Errorf("%s (%s): level %q, want %q", r.RuleID, sev, r.Level, want[sev])
			}
		}
	}
	for _, sev := range []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"} {
		if !seen[sev] {
			t.Errorf("the demo has no %s result to check", sev)
		}
	}
}

// A finding whose severity changed against the baseline is "updated".
func TestBaselineUpdated(t *testing.T) {
	t.Parallel()
	base := filepath.Join(t.TempDir(), "base.sarif")
	if r := tollgate(t, nil, "baseline", base, demoDir(t)); r.code != 0 || !validBaseline(t, base) {
		t.Fatalf("baseline: exit %d\n%s", r.code, r.stderr)
	}
	rep, r := scanJSON(t, demoDir(t), "--baseline", base, "--secrets-severity", "medium", "--fail-on", "none")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	states := map[string]map[string]int{}
	for _, f := range rep.findings() {
		if states[f.Scanner] == nil {
			states[f.Scanner] = map[string]int{}
		}
		states[f.Scanner][f.BaselineState]++
	}
	if states["secrets"]["updated"] == 0 || len(states["secrets"]) != 1 {
		t.Errorf("secrets with a new severity: %v, want all updated", states["secrets"])
	}
	if states["iac"]["unchanged"] == 0 || len(states["iac"]) != 1 {
		t.Errorf("iac: %v, want all unchanged", states["iac"])
	}
}

// `tollgate baseline` exits 3 when an engine failed (the baseline would be
// incomplete), whatever it found.
func TestBaselineExitsThreeOnEngineFailure(t *testing.T) {
	t.Parallel()
	_, archive := imageFixtures(t)
	base := filepath.Join(t.TempDir(), "base.sarif")
	r := tollgate(t, nil, "baseline", base, "--image", "docker-archive:"+archive, "--offline", "--cache-dir", t.TempDir(), demoDir(t))
	if r.code != 3 {
		t.Errorf("exit %d, want 3\n%s", r.code, r.stdout)
	}
}

// .trivyignore's exp: dates: a live entry suppresses, an expired one does
// not and says so.
func TestTrivyIgnoreExpiry(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	copyDir(t, demoDir(t), root)
	write(t, filepath.Join(root, ".trivyignore"), "KSV-0017 exp:2099-12-31\nAWS-0107 exp:2020-01-01\n")
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	if r := tollgate(t, nil, "scan", "-q", "--sarif", sarifPath, root); r.code != 1 {
		t.Fatalf("exit %d", r.code)
	}
	log, raw := readSARIF(t, sarifPath)
	for _, run := range log.Runs {
		for _, r := range run.Results {
			switch r.RuleID {
			case "KSV-0017":
				if len(r.Suppressions) != 1 || r.Suppressions[0].Status != "accepted" {
					t.Errorf("KSV-0017 not suppressed: %+v", r.Suppressions)
				}
			case "AWS-0107":
				if len(r.Suppressions) != 0 {
					t.Errorf("AWS-0107 suppressed by an expired entry: %+v", r.Suppressions)
				}
			}
		}
	}
	if !strings.Contains(string(raw), "ignore entry at .trivyignore:2 expired on 2020-01-01") {
		t.Error("the expired entry is not reported")
	}
}

// Value files, extra checks, excludes, Ansible and binary Terraform plans,
// end to end: each changes what is found as the README says.
func TestIaCInputsEndToEnd(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, filepath.Join(root, "tf", "main.tf"), sshRuleTF)
	write(t, filepath.Join(root, "chart", "Chart.yaml"), "apiVersion: v2\nname: web\nversion: 0.1.0\n")
	write(t, filepath.Join(root, "chart", "values.yaml"), "privileged: false\n")
	write(t, filepath.Join(root, "chart", "templates", "pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: nginx:1.25\n      securityContext:\n        privileged: {{ .Values.privileged }}\n")
	write(t, filepath.Join(root, "cfn", "stack.yaml"), "AWSTemplateFormatVersion: \"2010-09-09\"\nParameters:\n  Acl:\n    Type: String\n    Default: Private\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      AccessControl: !Ref Acl\n")
	write(t, filepath.Join(root, "ansible", "playbook.yml"), "- name: buckets\n  hosts: localhost\n  tasks:\n    - name: create a bucket\n      amazon.aws.s3_bucket:\n        name: logs\n")
	writePlanSnapshot(t, filepath.Join(root, "plan", "tfplan"))
	values := t.TempDir()
	write(t, filepath.Join(values, "prod.tfvars"), "ingress_cidr = \"0.0.0.0/0\"\n")
	write(t, filepath.Join(values, "priv.yaml"), "privileged: true\n")
	write(t, filepath.Join(values, "params.json"), `[{"ParameterKey": "Acl", "ParameterValue": "PublicRead"}]`)
	write(t, filepath.Join(values, "checks", "named.rego"), "# METADATA\n# title: Pods carry labels\n# custom:\n#   id: USR-0001\n#   avd_id: USR-0001\n#   severity: LOW\n#   input:\n#     selector:\n#       - type: kubernetes\npackage user.named\ndeny[msg] {\n  input.kind == \"Pod\"\n  not input.metadata.labels\n  msg := \"a pod without labels\"\n}\n")

	found := func(args ...string) []string {
		t.Helper()
		rep, r := scanJSON(t, root, append([]string{"--scanners", "iac", "--fail-on", "none"}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		var out []string
		for _, f := range rep.findings() {
			out = append(out, f.RuleID+" "+f.Location.Path)
		}
		return out
	}
	base := found()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tf-vars", filepath.Join(values, "prod.tfvars")}, "AWS-0107 tf/main.tf"},
		{[]string{"--helm-values", filepath.Join(values, "priv.yaml")}, "KSV-0017 chart/templates/pod.yaml"},
		{[]string{"--cf-params", filepath.Join(values, "params.json")}, "AWS-0092 cfn/stack.yaml"},
		{[]string{"--iac-checks", filepath.Join(values, "checks"), "--iac-namespaces", "user"}, "USR-0001 chart/templates/pod.yaml"},
	} {
		if slices.Contains(base, c.want) {
			t.Fatalf("%s found without %v: the case proves nothing", c.want, c.args)
		}
		if got := found(c.args...); !slices.Contains(got, c.want) {
			t.Errorf("%v: %s not found in %v", c.args, c.want, got)
		}
	}
	for _, want := range []string{"AWS-0086 ansible/playbook.yml", "AWS-0107 plan/tfplan"} {
		if !slices.Contains(base, want) {
			t.Errorf("%s not found: %v", want, base)
		}
	}
	// Excludes: every engine, one engine. Each drops what the scan without
	// it reports there, and only that: a scan that found nothing at all
	// would pass the first check alone.
	for _, c := range []struct {
		args []string
		gone string
	}{
		{[]string{"--exclude", "chart/**"}, "chart/"},
		{[]string{"--iac-exclude", "cfn/**"}, "cfn/"},
	} {
		if !slices.ContainsFunc(base, func(f string) bool { return strings.Contains(f, c.gone) }) {
			t.Errorf("nothing under %s found without %v: the case proves nothing (%v)", c.gone, c.args, base)
		}
		got := found(c.args...)
		for _, f := range got {
			if strings.Contains(f, c.gone) {
				t.Errorf("%v: %s still reported", c.args, f)
			}
		}
		for _, f := range base {
			if !strings.Contains(f, c.gone) && !slices.Contains(got, f) {
				t.Errorf("%v: %s, outside %s, no longer reported", c.args, f, c.gone)
			}
		}
	}
	write(t, filepath.Join(root, "app", "settings.py"), "TOKEN = \"ghp_Zq8TnW3kRbY6vLm2Xc5Jd9Fh4Gs7Ap1Ue0Io\"\n")
	byEngine := func(engines string, args ...string) (secrets, iac []string) {
		t.Helper()
		rep, r := scanJSON(t, root, append([]string{"--scanners", engines, "--fail-on", "none"}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		for _, f := range rep.findings() {
			switch f.Scanner {
			case "secrets":
				secrets = append(secrets, f.RuleID+" "+f.Location.Path)
			case "iac":
				iac = append(iac, f.RuleID+" "+f.Location.Path)
			}
		}
		return secrets, iac
	}
	// Without a pattern the token is reported: the control.
	if sec, _ := byEngine("secrets"); !slices.Contains(sec, "github-pat app/settings.py") {
		t.Errorf("without an exclude, the token in app/settings.py is not reported (%v): the excludes below prove nothing", sec)
	}
	// --secrets-exclude drops it and leaves the IaC findings as they were;
	// --exclude reaches the secrets engine too.
	sec, iac := byEngine("secrets,iac", "--secrets-exclude", "app/**")
	slices.Sort(iac)
	if want := slices.Sorted(slices.Values(base)); !slices.Equal(iac, want) {
		t.Errorf("--secrets-exclude app/** changes the IaC findings: %v, want %v", iac, want)
	}
	excluded, _ := byEngine("secrets", "--exclude", "app/**")
	for flag, got := range map[string][]string{"--secrets-exclude": sec, "--exclude": excluded} {
		for _, f := range got {
			if strings.Contains(f, "app/") {
				t.Errorf("%s app/**: %s still reported", flag, f)
			}
		}
	}
}

// sshRuleTF opens SSH to a CIDR from a variable whose default is private:
// a finding (AWS-0107) only when the variable is set to the world.
const sshRuleTF = `variable "ingress_cidr" {
  default = "10.0.0.0/8"
}
resource "aws_security_group_rule" "ssh" {
  type              = "ingress"
  description       = "ssh"
  from_port         = 22
  to_port           = 22
  protocol          = "tcp"
  cidr_blocks       = [var.ingress_cidr]
  security_group_id = "sg-123"
}
`

// writePlanSnapshot writes a binary Terraform plan (`terraform plan -out`)
// as Terraform lays it out: a zip of the plan (protobuf, with the variables'
// values) and a snapshot of the configuration. Its configuration opens SSH
// to a CIDR taken from a variable; the plan sets it to the world.
func writePlanSnapshot(t *testing.T, path string) {
	t.Helper()
	cidr, err := ctymsgpack.Marshal(cty.StringVal("0.0.0.0/0"), cty.DynamicPseudoType)
	must(t, err)
	plan, err := proto.Marshal(&planproto.Plan{
		Variables: map[string]*planproto.DynamicValue{"ingress_cidr": {Msgpack: cidr}}})
	must(t, err)
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.Create(path)
	must(t, err)
	zw := zip.NewWriter(f)
	for name, content := range map[string][]byte{
		"tfplan":                plan,
		"tfconfig/modules.json": []byte(`[{"Key":"","Source":"","Dir":"."}]`),
		"tfconfig/m-/main.tf":   []byte(sshRuleTF),
	} {
		w, err := zw.Create(name)
		must(t, err)
		_, err = w.Write(content)
		must(t, err)
	}
	must(t, zw.Close())
	must(t, f.Close())
}

// SIGTERM stops the engines and still writes the log (exit 3); a second
// signal quits at once (exit 130).
func TestSignals(t *testing.T) {
	t.Parallel()
	code, logText, sarifPath := interrupt(t, syscall.SIGTERM, 1)
	if code != 3 || !strings.Contains(logText, "interrupted") {
		t.Fatalf("SIGTERM: exit %d, want 3\n%s", code, logText)
	}
	failedRuns(t, sarifPath, "interrupted")
	if code, logText, _ := interrupt(t, syscall.SIGTERM, 2); code != 130 {
		t.Errorf("a second SIGTERM: exit %d, want 130\n%s", code, logText)
	}
}
