package policy

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/scanners"
)

func sampleResults() []scanners.Result {
	return []scanners.Result{
		{Engine: "secrets", Status: scanners.Status{State: scanners.Succeeded}, Findings: []scanners.Finding{
			{Engine: "secrets", RuleID: "github-pat", Severity: scanners.SeverityHigh, Location: scanners.Location{Path: "app/settings.py", StartLine: 6}, Fingerprint: "fp-gh"},
			{Engine: "secrets", RuleID: "aws-access-token", Severity: scanners.SeverityHigh, Location: scanners.Location{Path: "test/fixtures/keys.txt", StartLine: 1}, Fingerprint: "fp-aws"},
		}},
		{Engine: "iac", Status: scanners.Status{State: scanners.Succeeded}, Findings: []scanners.Finding{
			{Engine: "iac", RuleID: "KSV-0017", Severity: scanners.SeverityHigh, Location: scanners.Location{Path: "k8s/pod.yaml", StartLine: 9}, Fingerprint: "fp-ksv",
				Misconfig: &scanners.MisconfigDetail{Aliases: []string{"AVD-KSV-0017", "KSV017"}}},
			{Engine: "iac", RuleID: "AWS-0086", Severity: scanners.SeverityHigh, Location: scanners.Location{Path: "tf/main.tf", StartLine: 3}, Fingerprint: "fp-aws86", Misconfig: &scanners.MisconfigDetail{}},
		}},
		{Engine: "image", Status: scanners.Status{State: scanners.Succeeded}, Findings: []scanners.Finding{
			{Engine: "image", RuleID: "CVE-2099-0001", Severity: scanners.SeverityMedium, Location: scanners.Location{Image: "ghcr.io/acme/web:1.2"}, Fingerprint: "fp-cve",
				Vuln: &scanners.VulnDetail{Package: "openssl", PkgPath: "usr/lib/x"}},
		}},
	}
}

func suppressedBy(results []scanners.Result) map[string]string {
	out := map[string]string{}
	for _, r := range results {
		for _, f := range r.Findings {
			if f.Suppressed() {
				out[f.Fingerprint] = f.Suppressions[0].Source + " " + f.Suppressions[0].Justification
			}
		}
	}
	return out
}

func TestIgnores(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	rules := []IgnoreRule{
		{ID: "aws-*", Path: "test/**", Reason: "test keys", Source: ".tollgate.yaml:3"},
		{ID: "KSV017", Reason: "old alias still matches", Source: ".tollgate.yaml:6"},
		{Fingerprint: "fp-aws86", Reason: "accepted", Source: ".tollgate.yaml:9"},
		{Image: "ghcr.io/acme/*", Package: "openssl", Reason: "no fix yet", Source: ".tollgate.yaml:12", Expires: now.AddDate(0, 0, -1)},
		{ID: "github-pat", Reason: "until today", Source: ".tollgate.yaml:15", Expires: now.Truncate(24 * time.Hour)},
	}
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	results := sampleResults()
	if err := (Ignores{Rules: rules, Now: now}).Process(results); err != nil {
		t.Fatal(err)
	}
	got := suppressedBy(results)
	want := map[string]string{
		"fp-aws":   ".tollgate.yaml:3 test keys",
		"fp-ksv":   ".tollgate.yaml:6 old alias still matches",
		"fp-aws86": ".tollgate.yaml:9 accepted",
		"fp-gh":    ".tollgate.yaml:15 until today",
	}
	if len(got) != len(want) {
		t.Errorf("suppressed %v, want %v", got, want)
	}
	for fp, w := range want {
		if got[fp] != w {
			t.Errorf("%s: %q, want %q", fp, got[fp], w)
		}
	}
	cfg := results[2].Status.Config
	if len(cfg) != 1 || !strings.Contains(cfg[0].Message, ".tollgate.yaml:12 expired on 2026-11-21") {
		t.Errorf("expired entry warning: %+v", cfg)
	}
	for _, bad := range []IgnoreRule{{Reason: "x"}, {ID: "x"}, {ID: "[", Reason: "x"}, {Path: "a/[", Reason: "x"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestTrivyIgnoreFiles(t *testing.T) {
	rules, err := ParseTrivyIgnore([]byte("# accepted\nKSV-0017\nCVE-2099-0001 exp:2020-01-01  # expired\n\nAWS-0086 exp:bad\n"), ".trivyignore")
	if err == nil || !strings.Contains(err.Error(), ".trivyignore:5") {
		t.Errorf("bad date not reported with its line: %v", err)
	}
	if len(rules) != 3 || rules[0].Source != ".trivyignore:2" || rules[1].Expires.Year() != 2020 {
		t.Errorf("rules %+v", rules)
	}
	yrules, err := ParseTrivyIgnoreYAML([]byte(`
vulnerabilities:
  - id: CVE-2099-0001
    paths: ["usr/lib/*"]
    statement: vendor says not reachable
misconfigurations:
  - id: AVD-KSV-0017
secrets:
  - id: github-pat
    paths: ["app/**"]
    expired_at: 2099-01-01
  - id: aws-access-token
    purls: ["pkg:npm/lodash@4.17.20"]
`), ".trivyignore.yaml")
	// Trivy's ignore files apply to the Trivy engines only: the secrets
	// section is reported with its line and not applied.
	if err == nil || !strings.Contains(err.Error(), ".trivyignore.yaml:9: the secrets section") {
		t.Errorf("secrets section not reported: %v", err)
	}
	results := sampleResults()
	if err := (Ignores{Rules: append(rules[:1:1], yrules...), Now: time.Now()}).Process(results); err != nil {
		t.Fatal(err)
	}
	got := suppressedBy(results)
	if !strings.Contains(got["fp-cve"], "vendor says not reachable") || got["fp-ksv"] == "" || got["fp-gh"] != "" || got["fp-aws"] != "" {
		t.Errorf("suppressed %v", got)
	}
	if got := purlName("pkg:npm/%40babel/core@7.0.0"); got != "@babel/core" {
		t.Errorf("purlName = %q, want @babel/core", got)
	}
	// A .trivyignore line never suppresses a secret, even "*".
	star, err := ParseTrivyIgnore([]byte("*\n"), ".trivyignore")
	if err != nil {
		t.Fatal(err)
	}
	results = sampleResults()
	if err := (Ignores{Rules: star, Now: time.Now()}).Process(results); err != nil {
		t.Fatal(err)
	}
	got = suppressedBy(results)
	if got["fp-gh"] != "" || got["fp-aws"] != "" || got["fp-ksv"] == "" || got["fp-cve"] == "" {
		t.Errorf(".trivyignore * suppressed %v", got)
	}
}

func TestBaseline(t *testing.T) {
	base := &BaselineSet{Results: []BaselineResult{
		{Engine: "secrets", RuleID: "github-pat", Fingerprint: "fp-gh", Severity: scanners.SeverityHigh},
		{Engine: "iac", RuleID: "KSV-0017", Fingerprint: "fp-ksv", Severity: scanners.SeverityHigh},
		{Engine: "iac", RuleID: "AWS-0107", Fingerprint: "fp-gone", Severity: scanners.SeverityHigh, Path: "tf/sg.tf", Line: 4, Title: "SSH open"},
		{Engine: "image", RuleID: "CVE-2099-0001", Fingerprint: "fp-cve", Severity: scanners.SeverityLow},
		{Engine: "other", RuleID: "X", Fingerprint: "fp-x"},
	}}
	results := sampleResults()
	results[2].Status.State = scanners.Succeeded
	if err := (Baseline{Set: base}).Process(results); err != nil {
		t.Fatal(err)
	}
	states := map[string]scanners.BaselineState{}
	for _, r := range results {
		for _, f := range r.Findings {
			states[f.Fingerprint] = f.BaselineState
		}
	}
	want := map[string]scanners.BaselineState{"fp-gh": "unchanged", "fp-aws": "new", "fp-ksv": "unchanged", "fp-aws86": "new", "fp-gone": "absent", "fp-cve": "updated"}
	for fp, w := range want {
		if states[fp] != w {
			t.Errorf("%s: %q, want %q", fp, states[fp], w)
		}
	}
	if _, ok := states["fp-x"]; ok {
		t.Error("a baseline result of an engine that did not run came back absent")
	}
	g := Gate{Thresholds: DefaultThresholds(), NewOnly: true}
	if v := g.Decide(results); v.Failing != 2 || v.New != 2 || v.Absent != 1 {
		t.Errorf("new-only verdict %+v", v)
	}
}

// TestPlaceBoundEntriesOnChangedLines: a .gitleaksignore line of the target
// branch (FILE:RULE:LINE, no secret in it) accepts the secret that sits on
// a line the pull request leaves alone, but not a new secret the pull
// request writes on that line: that one is under review and still counts.
// An entry that names what it accepts (an id) applies either way.
func TestPlaceBoundEntriesOnChangedLines(t *testing.T) {
	secret := func(path string, line int, fp string) scanners.Finding {
		return scanners.Finding{Engine: "secrets", RuleID: "github-pat", Severity: scanners.SeverityHigh,
			Location: scanners.Location{Path: path, StartLine: line}, Fingerprint: fp,
			Secret: &scanners.SecretDetail{GitleaksFingerprint: path + ":github-pat:" + strconv.Itoa(line)}}
	}
	results := []scanners.Result{{Engine: "secrets", Findings: []scanners.Finding{
		secret("app/old.py", 3, "old"), secret("app/new.py", 7, "new"), secret("app/test.py", 2, "test"),
	}}}
	rules := []IgnoreRule{
		{GitleaksFingerprint: "app/old.py:github-pat:3", Reason: "rotated", Source: ".gitleaksignore:1"},
		{GitleaksFingerprint: "app/new.py:github-pat:7", Reason: "rotated", Source: ".gitleaksignore:2"},
		{ID: "github-pat", Path: "app/test.py", Reason: "test data", Source: ".tollgate.yaml:4"},
	}
	lines := &Inline{Review: true, Target: "the target branch main (1a2b3c)", Added: func(p string, l int) bool {
		return p == "app/new.py" && l == 7 || p == "app/test.py"
	}}
	if err := (Ignores{Rules: rules, Now: time.Now(), Lines: lines}).Process(results); err != nil {
		t.Fatal(err)
	}
	for _, f := range results[0].Findings {
		status := f.Suppressions[0].Status
		switch f.Fingerprint {
		case "old", "test":
			if status != scanners.SuppressionAccepted {
				t.Errorf("%s: %q, want accepted", f.Fingerprint, status)
			}
		case "new":
			if status != scanners.SuppressionUnderReview || !strings.Contains(f.Suppressions[0].Justification, "adds or changes its line (app/new.py:7)") {
				t.Errorf("new: %+v, want under review", f.Suppressions[0])
			}
		}
	}
	// Outside a pull-request build the same entries all apply.
	results[0].Findings = []scanners.Finding{secret("app/new.py", 7, "new")}
	if err := (Ignores{Rules: rules, Now: time.Now()}).Process(results); err != nil {
		t.Fatal(err)
	}
	if s := results[0].Findings[0].Suppressions; len(s) != 1 || s[0].Status != scanners.SuppressionAccepted {
		t.Errorf("outside a pull request: %+v", s)
	}
}
