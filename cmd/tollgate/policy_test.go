package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// jsonFinding is the part of a --format json finding the policy tests read.
type jsonFinding struct {
	Scanner       string `json:"scanner"`
	RuleID        string `json:"ruleId"`
	Fingerprint   string `json:"fingerprint"`
	FingerprintV2 string `json:"fingerprintV2"`
	BaselineState string `json:"baselineState"`
	Location      struct {
		Path      string `json:"path"`
		StartLine int    `json:"startLine"`
		Commit    string `json:"commit"`
		Image     string `json:"image"`
	} `json:"location"`
	Suppressions []struct {
		Kind          string `json:"kind"`
		Justification string `json:"justification"`
		Source        string `json:"source"`
	} `json:"suppressions"`
}

type jsonReport struct {
	ExitCode int `json:"exitCode"`
	Verdict  struct {
		New, Absent, Suppressed, Failing int
	} `json:"verdict"`
	Results []struct {
		Scanner  string        `json:"scanner"`
		Findings []jsonFinding `json:"findings"`
		Status   struct {
			Config []struct {
				Message string `json:"message"`
			} `json:"configNotifications"`
		} `json:"status"`
	} `json:"results"`
}

func (r jsonReport) findings() []jsonFinding {
	var out []jsonFinding
	for _, res := range r.Results {
		out = append(out, res.Findings...)
	}
	return out
}

func (f jsonFinding) where() string {
	return fmt.Sprintf("%s %s:%d", f.RuleID, f.Location.Path, f.Location.StartLine)
}

func scanJSON(t *testing.T, root string, args ...string) (jsonReport, runResult) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	r := tollgate(t, nil, append(append([]string{"scan", "--format", "json", "--output", out}, args...), root)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no JSON report (exit %d): %v\n%s", r.code, err, r.stderr)
	}
	var rep jsonReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep, r
}

func editFile(t *testing.T, path string, edit func(string) string) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	must(t, os.WriteFile(path, []byte(edit(string(b))), 0o644))
}

func TestEverySuppressionSource(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	copyDir(t, demoDir(t), root)
	first, _ := scanJSON(t, root, "--fail-on", "none")
	var dsFingerprint string
	for _, f := range first.findings() {
		if f.RuleID == "DS-0002" {
			dsFingerprint = f.Fingerprint
		}
	}
	if dsFingerprint == "" {
		t.Fatal("DS-0002 not found in the demo")
	}

	write(t, filepath.Join(root, ".tollgate.yaml"), strings.Join([]string{
		"fail-on: none",
		"ignore:",
		"  - id: AZU-00*",
		"    path: arm/**",
		"    reason: the ARM template is a sample",
		"  - fingerprint: " + dsFingerprint,
		"    reason: the base image needs root",
		"  - id: KSV-0017",
		"    reason: temporary exception",
		"    expires: 2020-01-01",
		"",
	}, "\n"))
	write(t, filepath.Join(root, ".gitleaksignore"), "app/deploy.sh:slack-webhook-url:3\n")
	editFile(t, filepath.Join(root, "app/settings.py"), func(s string) string {
		return strings.Replace(s, `AWS_ACCESS_KEY_ID = "AKIAQ7RW3LMZK2XPT4NV"`, `AWS_ACCESS_KEY_ID = "AKIAQ7RW3LMZK2XPT4NV"  # gitleaks:allow`, 1)
	})
	write(t, filepath.Join(root, ".trivyignore"), "# accepted: SSH is restricted upstream\nAWS-0107\n")
	write(t, filepath.Join(root, ".trivyignore.yaml"), "misconfigurations:\n  - id: KSV-0014\n    paths: [\"k8s/*\"]\n    statement: nginx writes to its root filesystem\n")
	editFile(t, filepath.Join(root, "terraform/main.tf"), func(s string) string {
		return strings.Replace(s, `resource "aws_s3_bucket" "logs" {`, "#trivy:ignore:AWS-0086\nresource \"aws_s3_bucket\" \"logs\" {", 1)
	})

	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	rep, r := scanJSON(t, root, "--sarif", sarifPath)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	type supp struct{ kind, source string }
	got := map[string]supp{}
	total := 0
	for _, f := range rep.findings() {
		total++
		if len(f.Suppressions) > 0 {
			got[f.where()] = supp{f.Suppressions[0].Kind, f.Suppressions[0].Source}
		}
	}
	want := map[string]supp{
		"AZU-0008 arm/azuredeploy.json:13":   {"external", ".tollgate.yaml:3"},
		"AZU-0011 arm/azuredeploy.json:14":   {"external", ".tollgate.yaml:3"},
		"AZU-0012 arm/azuredeploy.json:5":    {"external", ".tollgate.yaml:3"},
		"AZU-0056 arm/azuredeploy.json:12":   {"external", ".tollgate.yaml:3"},
		"AZU-0057 arm/azuredeploy.json:12":   {"external", ".tollgate.yaml:3"},
		"AZU-0058 arm/azuredeploy.json:12":   {"external", ".tollgate.yaml:3"},
		"AZU-0059 arm/azuredeploy.json:13":   {"external", ".tollgate.yaml:3"},
		"AZU-0059 arm/azuredeploy.json:14":   {"external", ".tollgate.yaml:3"},
		"AZU-0061 arm/azuredeploy.json:12":   {"external", ".tollgate.yaml:3"},
		"DS-0002 docker/Dockerfile:4":        {"external", ".tollgate.yaml:6"},
		"slack-webhook-url app/deploy.sh:3":  {"external", ".gitleaksignore:1"},
		"aws-access-token app/settings.py:9": {"inSource", "gitleaks:allow"},
		"AWS-0107 terraform/main.tf:34":      {"external", ".trivyignore:2"},
		"KSV-0014 k8s/deployment.yaml:17":    {"external", ".trivyignore.yaml:2"},
		"AWS-0086 terraform/main.tf:21":      {"inSource", "trivy:ignore:AWS-0086"},
	}
	for w, s := range want {
		if got[w] != s {
			t.Errorf("%s: suppression %+v, want %+v", w, got[w], s)
		}
	}
	for w := range got {
		if _, ok := want[w]; !ok {
			t.Errorf("%s is suppressed but nothing names it", w)
		}
	}
	if rep.Verdict.Suppressed != len(want) || total != len(first.findings()) {
		t.Errorf("suppressed %d of %d (first scan %d): suppressed findings must be kept", rep.Verdict.Suppressed, total, len(first.findings()))
	}
	var cfg []string
	for _, res := range rep.Results {
		for _, c := range res.Status.Config {
			cfg = append(cfg, c.Message)
		}
	}
	if !strings.Contains(strings.Join(cfg, "\n"), ".tollgate.yaml:8 expired on 2020-01-01") {
		t.Errorf("no warning for the expired entry: %v", cfg)
	}
	if !strings.Contains(r.stderr, "expired ignore entry") || !strings.Contains(r.stderr, ".tollgate.yaml:8") {
		t.Errorf("the log does not warn about the expired entry:\n%s", r.stderr)
	}
	raw, err := os.ReadFile(sarifPath)
	must(t, err)
	for _, s := range []string{`"kind": "inSource"`, `"kind": "external"`, `"justification": "the ARM template is a sample"`, `"toolConfigurationNotifications"`} {
		if !strings.Contains(string(raw), s) {
			t.Errorf("SARIF lacks %s", s)
		}
	}
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")

	// Without the threshold override the suppressed findings do not fail the
	// build; the unsuppressed HIGH ones still do.
	editFile(t, filepath.Join(root, ".tollgate.yaml"), func(s string) string { return strings.Replace(s, "fail-on: none", "fail-on: critical", 1) })
	if _, r := scanJSON(t, root); r.code != 1 {
		t.Errorf("CRITICAL AZU findings in terraform/ are not suppressed: exit %d, want 1", r.code)
	}
}

// shift inserts ten lines at the top of every file with a finding.
func shift(t *testing.T, root string) {
	t.Helper()
	for _, p := range []string{"app/settings.py", "app/deploy.sh", "terraform/main.tf", "k8s/deployment.yaml", "docker/Dockerfile", "arm/azuredeploy.json"} {
		editFile(t, filepath.Join(root, p), func(s string) string {
			if strings.HasSuffix(p, ".json") {
				return strings.Repeat("\n", 10) + s
			}
			if strings.HasPrefix(s, "#!") {
				first, rest, _ := strings.Cut(s, "\n")
				return first + "\n" + strings.Repeat("# shifted\n", 10) + rest
			}
			return strings.Repeat("# shifted by an unrelated edit\n", 10) + s
		})
	}
}

// Ten lines added at the top of every file with a finding: every finding
// (secrets, IaC and an image's vulnerabilities) keeps both fingerprints and
// is unchanged against the baseline, each one exactly ten lines lower. An
// edit of what a finding is (the secret's value) does change its
// fingerprint: new, and the old one absent. A baseline that predates
// tollgate/v2 still matches, with a warning.
func TestLineShiftKeepsFingerprints(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	copyDir(t, demoDir(t), root)
	cache, archive := imageFixtures(t)
	img := []string{"--image", "docker-archive:" + archive, "--cache-dir", cache, "--offline"}
	base := filepath.Join(t.TempDir(), "baseline.sarif")
	if r := tollgate(t, nil, append(append([]string{"baseline", base}, img...), root)...); r.code != 0 || !validBaseline(t, base) {
		t.Fatalf("tollgate baseline: exit %d\n%s", r.code, r.stderr)
	}
	before, _ := scanJSON(t, root, append([]string{"--fail-on", "none"}, img...)...)
	beforeByV2 := map[string]jsonFinding{}
	images := 0
	for _, f := range before.findings() {
		if f.FingerprintV2 == "" || f.Fingerprint == "" {
			t.Fatalf("%s lacks a fingerprint", f.where())
		}
		beforeByV2[f.FingerprintV2] = f
		if f.Location.Image != "" {
			images++
		}
	}
	if images == 0 {
		t.Fatal("no image finding: the test would prove nothing for images")
	}
	shift(t, root)
	after, r := scanJSON(t, root, append([]string{"--baseline", base, "--new-only", "--fail-on", "low"}, img...)...)
	if r.code != 0 {
		t.Errorf("--new-only after a line shift: exit %d, want 0\n%s", r.code, r.stderr)
	}
	if after.Verdict.New != 0 || after.Verdict.Absent != 0 || len(after.findings()) != len(before.findings()) {
		t.Errorf("after shifting every file 10 lines: %d new, %d absent, %d findings (were %d)", after.Verdict.New, after.Verdict.Absent, len(after.findings()), len(before.findings()))
	}
	for _, f := range after.findings() {
		old, ok := beforeByV2[f.FingerprintV2]
		switch {
		case !ok:
			t.Errorf("%s: tollgate/v2 fingerprint changed", f.where())
		case old.Fingerprint != f.Fingerprint:
			t.Errorf("%s: tollgate/v1 fingerprint changed", f.where())
		case f.BaselineState != "unchanged":
			t.Errorf("%s: baselineState %q", f.where(), f.BaselineState)
		case f.Location.Image == "" && old.Location.StartLine > 0 && f.Location.StartLine != old.Location.StartLine+10:
			t.Errorf("%s: was at line %d, want %d", f.where(), old.Location.StartLine, old.Location.StartLine+10)
		}
	}

	// What the finding is changes: the secret's value.
	editFile(t, filepath.Join(root, "app/settings.py"), func(s string) string {
		return strings.Replace(s, "ghp_R8fT2vLq9XwZ4mN7pK3sD6hJ1cB5yA0eUi2o", "ghp_S8fT2vLq9XwZ4mN7pK3sD6hJ1cB5yA0eUi2o", 1)
	})
	rotated, _ := scanJSON(t, root, append([]string{"--baseline", base, "--fail-on", "none"}, img...)...)
	var states []string
	for _, f := range rotated.findings() {
		if f.BaselineState != "unchanged" {
			states = append(states, f.BaselineState+" "+f.where())
		}
	}
	slices.Sort(states)
	if want := []string{"absent github-pat app/settings.py:6", "new github-pat app/settings.py:16"}; !slices.Equal(states, want) {
		t.Errorf("after rotating the secret: %v, want %v", states, want)
	}

	// A baseline written before tollgate/v2 matches through v1, and says so.
	raw, err := os.ReadFile(base)
	must(t, err)
	legacy := filepath.Join(t.TempDir(), "legacy.sarif")
	must(t, os.WriteFile(legacy, regexp.MustCompile(`,?\s*"tollgate/v2": "[^"]*"`).ReplaceAll(raw, nil), 0o644))
	old, r := scanJSON(t, root, append([]string{"--baseline", legacy, "--fail-on", "none"}, img...)...)
	if !strings.Contains(r.stderr+r.stdout, "predates tollgate/v2 fingerprints") {
		t.Errorf("no warning about the old baseline:\n%s", r.stderr)
	}
	unchanged := 0
	for _, f := range old.findings() {
		if f.BaselineState == "unchanged" {
			unchanged++
		}
	}
	if unchanged < len(before.findings())-5 {
		t.Errorf("an old baseline matched %d of %d findings", unchanged, len(before.findings()))
	}
}

func TestBaselineNewAndAbsent(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	copyDir(t, demoDir(t), root)
	base := filepath.Join(t.TempDir(), "baseline.sarif")
	if r := tollgate(t, nil, "baseline", base, root); r.code != 0 || !validBaseline(t, base) {
		t.Fatalf("tollgate baseline: exit %d\n%s", r.code, r.stderr)
	}
	if _, r := scanJSON(t, root, "--baseline", base, "--new-only", "--fail-on", "low"); r.code != 0 {
		t.Errorf("nothing new yet: exit %d, want 0", r.code)
	}

	// One new secret, one misconfiguration fixed.
	write(t, filepath.Join(root, "app/ci.env"), "GITLAB_TOKEN=glpat-"+strings.Repeat("Xk3Pq", 4)+"\n")
	editFile(t, filepath.Join(root, "docker/Dockerfile"), func(s string) string { return strings.Replace(s, "EXPOSE 22\n", "", 1) })

	sarifPath := filepath.Join(t.TempDir(), "new.sarif")
	rep, r := scanJSON(t, root, "--baseline", base, "--new-only", "--fail-on", "low", "--sarif", sarifPath)
	if r.code != 1 {
		t.Errorf("a new finding with --new-only --fail-on low: exit %d, want 1", r.code)
	}
	states := map[string][]string{}
	for _, f := range rep.findings() {
		states[f.BaselineState] = append(states[f.BaselineState], f.where())
	}
	if len(states["new"]) != 1 || !strings.HasPrefix(states["new"][0], "gitlab-pat app/ci.env:1") {
		t.Errorf("new = %v, want the GitLab token", states["new"])
	}
	if len(states["absent"]) != 1 || !strings.HasPrefix(states["absent"][0], "DS-0004 docker/Dockerfile:5") {
		t.Errorf("absent = %v, want the exposed port", states["absent"])
	}
	if len(states["updated"]) != 0 || len(states["unchanged"]) != len(rep.findings())-2 {
		t.Errorf("states: %v", states)
	}
	if rep.Verdict.Failing != 1 {
		t.Errorf("failing = %d, want 1 (only the new finding counts)", rep.Verdict.Failing)
	}
	raw, err := os.ReadFile(sarifPath)
	must(t, err)
	for _, s := range []string{`"baselineState": "new"`, `"baselineState": "absent"`, `"baselineState": "unchanged"`} {
		if !strings.Contains(string(raw), s) {
			t.Errorf("SARIF lacks %s", s)
		}
	}
	// The absent result reads as it did: its whole region, its tags and the
	// engine's detail.
	var absent struct {
		Runs []struct {
			Results []struct {
				BaselineState string `json:"baselineState"`
				Locations     []struct {
					PhysicalLocation struct {
						Region struct {
							StartLine, EndLine int
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				Properties struct {
					Tags             []string       `json:"tags"`
					Misconfiguration map[string]any `json:"misconfiguration"`
				} `json:"properties"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	must(t, json.Unmarshal(raw, &absent))
	found := false
	for _, run := range absent.Runs {
		for _, res := range run.Results {
			if res.BaselineState != "absent" {
				continue
			}
			found = true
			reg := res.Locations[0].PhysicalLocation.Region
			if reg.StartLine != 5 || reg.EndLine < 5 || len(res.Properties.Tags) == 0 || res.Properties.Misconfiguration["fileType"] != "dockerfile" ||
				res.PartialFingerprints["tollgate/v1"] == "" || res.PartialFingerprints["tollgate/v2"] == "" {
				t.Errorf("the absent result lost its detail: %+v", res)
			}
		}
	}
	if !found {
		t.Error("no absent result in the SARIF")
	}
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")

	if r := tollgate(t, nil, "scan", "--baseline", filepath.Join(root, "README.md"), root); r.code != 2 || !strings.Contains(r.stderr, "baseline") {
		t.Errorf("a baseline that is not SARIF: exit %d (%s), want 2", r.code, r.stderr)
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ id, want string }{
		{"KSV017", "KSV-0017 (iac, HIGH)"},
		{"AVD-AWS-0086", "AWS-0086 (iac, HIGH)"},
		{"github-pat", "github-pat (secrets, HIGH)"},
	} {
		r := tollgate(t, nil, "explain", tc.id)
		if r.code != 0 || !strings.HasPrefix(r.stdout, tc.want) || !strings.Contains(r.stdout, "Resolution:") {
			t.Errorf("explain %s: exit %d\n%s", tc.id, r.code, r.stdout)
		}
	}
	cache, _ := imageFixtures(t)
	r := tollgate(t, []string{"TOLLGATE_CACHE_DIR=" + cache}, "explain", "CVE-2099-0003")
	if r.code != 0 || !strings.Contains(r.stdout, "CVSS v3 score: 9.8") {
		t.Errorf("explain a CVE from the DB: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := tollgate(t, nil, "explain", "NOPE-123"); r.code != 2 || !strings.Contains(r.stderr, "unknown ID") {
		t.Errorf("unknown ID: exit %d %s", r.code, r.stderr)
	}
	// Tollgate's own secret rules are explained too.
	for _, id := range []string{"netrc-password", "azure-storage-account-key"} {
		if r := tollgate(t, nil, "explain", id); r.code != 0 || !strings.HasPrefix(r.stdout, id+" (secrets, HIGH)") || !strings.Contains(r.stdout, "Pattern: ") {
			t.Errorf("explain %s: exit %d\n%s%s", id, r.code, r.stdout, r.stderr)
		}
	}
	// A rule's own text is not scanned data: its pattern and example keep
	// the credentials of their URLs (the redactor once printed
	// "[unparsable URL removed]" inside the pattern); the console escaping
	// still applies.
	r = tollgate(t, nil, "explain", "tollgate-hardcoded-uri-password")
	for _, want := range []string{"scheme://user:password@host", "://([^\\s:/?#@", "postgres://app:Summer2024!@db.internal"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("explain tollgate-hardcoded-uri-password lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "removed]") {
		t.Errorf("explain redacted its own rule text:\n%s", r.stdout)
	}
	// The key-based rules show the pair and list shapes (issue 37) with
	// their examples' values whole.
	for id, example := range map[string]string{
		"tollgate-hardcoded-password": `<entry key="password" value="Summer2024!"/>`,
		"tollgate-hardcoded-token":    `{"key": "Authorization", "value": "Bearer Summer2024Token"}`,
	} {
		r := tollgate(t, nil, "explain", id)
		for _, want := range []string{"Keys: ", "OptionName/Value pairs", "Pattern: ", "ParameterValue member is a literal", example} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("explain %s lacks %q:\n%s", id, want, r.stdout)
			}
		}
	}
	// A CVE without a DB says why, and how to get one.
	if r := tollgate(t, []string{"TOLLGATE_CACHE_DIR=" + t.TempDir()}, "explain", "CVE-2024-3094"); r.code != 2 ||
		!strings.Contains(r.stderr, "the vulnerability DB is not available") || !strings.Contains(r.stderr, "tollgate db download") {
		t.Errorf("CVE without a DB: exit %d %s", r.code, r.stderr)
	}
}

// validBaseline validates a baseline file as every other log.
func validBaseline(t *testing.T, path string) bool {
	t.Helper()
	validateSARIF(t, path, "Sarif;Gh;Ado")
	return true
}
