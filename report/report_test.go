package report

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report/sarifcheck"
	"github.com/tollgate/tollgate/scanners"
)

func TestPathURI(t *testing.T) {
	for in, want := range map[string]string{
		"main.tf":                 "main.tf",
		"a b/c#d.tf":              "a%20b/c%23d.tf",
		"c:/x.tf":                 "c%3A/x.tf",
		"dir/we:ird/%41.yaml":     "dir/we%3Aird/%2541.yaml",
		"ünï/code.py":             "%C3%BCn%C3%AF/code.py",
		"a?b/x;y]z":               "a%3Fb/x%3By%5Dz",
		"container-images/alpine": "container-images/alpine",
		"//host/x":                "host/x",
		"a/../../etc/passwd":      "a/%2E%2E/%2E%2E/etc/passwd",
	} {
		if got := PathURI(in); got != want {
			t.Errorf("PathURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestImagePseudoPath(t *testing.T) {
	got := ImagePseudoPath("registry.example.com:5000/team/app@sha256:abc")
	if strings.Contains(got, ":") || !strings.HasPrefix(got, "container-images/") {
		t.Errorf("ImagePseudoPath = %q: must start container-images/ and hold no colon", got)
	}
}

func TestSafeText(t *testing.T) {
	for _, in := range []string{
		"##vso[task.setvariable variable=x]pwned",
		"a ##vso[task.complete result=Succeeded]",
		"###vso[x]",
		"#" + "#[error]fake",
		"line1\n##vso[task.complete result=Succeeded]",
		"x\r##vso[artifact.upload]y",
		"\x1b[31mred\x1b[0m",
		"bidi \u202e gnp.exe",
		"bad \xff utf8",
	} {
		got := SafeText(in)
		if strings.Contains(got, "##") {
			t.Errorf("SafeText(%q) = %q still contains ##", in, got)
		}
		if strings.ContainsAny(got, "\n\r\x1b\u202e") {
			t.Errorf("SafeText(%q) = %q still contains a control character", in, got)
		}
	}
	if got := SafeText("plain text: ok"); got != "plain text: ok" {
		t.Errorf("plain text changed: %q", got)
	}
}

func TestSafeWriterKeepsLines(t *testing.T) {
	var b bytes.Buffer
	w := NewSafeWriter(&b)
	_, _ = w.Write([]byte("first #"))
	_, _ = w.Write([]byte("#vso[task.complete]\nsecond\n"))
	if strings.Contains(b.String(), "##") {
		t.Errorf("## formed across two writes: %q", b.String())
	}
	if got := strings.Count(b.String(), "\n"); got != 2 {
		t.Errorf("newlines = %d, want 2: %q", got, b.String())
	}
}

// TestSARIFHasNoNullAndIndentsAsJSONIndent: go-sarif's optional fields
// that are not set (suppression.location, invocation.exitCode, ...) are
// left out, not written as null (the SARIF schema rejects them), HTML
// characters are escaped as encoding/json escapes them, and the layout is
// json.Indent's with two spaces.
func TestSARIFHasNoNullAndIndentsAsJSONIndent(t *testing.T) {
	s := roundTripScan()
	s.Results[1].Findings[0].Message = "<b>&\u2028</b>"
	var b bytes.Buffer
	if err := WriteSARIF(&b, s); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), []byte("null")) {
		t.Errorf("the log has a null:\n%s", b.String())
	}
	// (U+2028 is a line separator: SARIFText writes it as the text \u2028.)
	if !bytes.Contains(b.Bytes(), []byte(`\u003cb\u003e\u0026\\u2028\u003c/b\u003e`)) {
		t.Error("HTML characters are not escaped as encoding/json escapes them")
	}
	var compact, indented bytes.Buffer
	if err := json.Compact(&compact, b.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := json.Indent(&indented, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	if indented.String() != b.String() {
		t.Error("the log is not laid out as json.Indent lays it out")
	}
}

func TestRegionIsAlwaysValid(t *testing.T) {
	r := region(scanners.Location{StartLine: 0, EndLine: 0, StartColumn: 5, EndColumn: 2})
	if *r.StartLine != 1 || *r.EndLine != 1 || r.StartColumn != nil {
		t.Errorf("region = %+v", r)
	}
	r = region(scanners.Location{StartLine: 4, EndLine: 2, StartColumn: 3, EndColumn: 9})
	if *r.StartLine != 4 || *r.EndLine != 4 || *r.StartColumn != 3 || *r.EndColumn != 9 {
		t.Errorf("region = %+v", r)
	}
}

func TestAutomationFromEnv(t *testing.T) {
	env := map[string]string{
		"TF_BUILD":             "True",
		"SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
		"SYSTEM_TEAMPROJECT":   "web",
		"SYSTEM_DEFINITIONID":  "42",
		"BUILD_DEFINITIONNAME": "web-ci",
		"SYSTEM_PHASEID":       "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
		"SYSTEM_PHASENAME":     "Build",
		"BUILD_SOURCEBRANCH":   "refs/heads/main",
		"BUILD_BUILDID":        "1234",
	}
	a := AutomationFromEnv(func(k string) string { return env[k] })
	if got, want := a.ID("", "iac"), "azuredevops/pipeline/build/contoso/web/42/3f2504e0-4f89-11d3-9a0c-0305e82c3301/refs/heads/main/1234/tollgate-iac"; got != want {
		t.Errorf("id = %q, want %q", got, want)
	}
	p := a.Properties()
	if p["azuredevops/pipeline/build/buildDefinitionId"] != "42" || p["azuredevops/pipeline/build/phaseName"] != "Build" {
		t.Errorf("properties = %v", p)
	}
	local := AutomationFromEnv(func(string) string { return "" })
	if local != LocalAutomation() || local.Properties()["azuredevops/pipeline/build/buildDefinitionId"] != "-1" {
		t.Errorf("outside a pipeline: %+v", local)
	}
	gh := AutomationFromEnv(func(k string) string {
		return map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "99"}[k]
	})
	if got := gh.ID("web", "secrets"); got != "web-secrets/99" {
		t.Errorf("GitHub id = %q", got)
	}
	if orgName("https://fabrikam.visualstudio.com/") != "fabrikam" {
		t.Error("visualstudio.com organisation not parsed")
	}
}

// sampleScan has every kind of finding and notification the writer handles.
func sampleScan() Scan {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	secret := scanners.Result{
		Engine: scanners.EngineSecrets,
		Tool:   scanners.Tool{Name: "gitleaks", FullName: "Gitleaks", Version: "8.30.1", InformationURI: "https://github.com/gitleaks/gitleaks"},
		Rules:  []scanners.Rule{{ID: "github-pat", Name: "GithubPat", Title: "GitHub token", Severity: scanners.SeverityHigh, Tags: []string{"secret"}}},
		Findings: []scanners.Finding{{
			Engine: scanners.EngineSecrets, RuleID: "github-pat", Title: "GitHub token", Severity: scanners.SeverityHigh,
			Message:     "A secret <b>matched</b> ##vso[task.complete]",
			Location:    scanners.Location{Path: "dir with space/a:b.py", StartLine: 3, EndLine: 3, StartColumn: 5, EndColumn: 45},
			Fingerprint: "f1", Secret: &scanners.SecretDetail{Redacted: "REDACTED"},
			Suppressions: []scanners.Suppression{{Kind: "inSource", Justification: "gitleaks:allow", Source: "gitleaks:allow"}},
		}, {
			Engine: scanners.EngineSecrets, RuleID: "unlisted-rule", Severity: scanners.SeverityHigh,
			Location: scanners.Location{Path: "x.env"}, Fingerprint: "f2", BaselineState: "new",
		}},
		Status:  scanners.Status{State: scanners.Partial, Notifications: []scanners.Notification{{Level: scanners.LevelError, Code: "unreadable", Path: "locked.txt", Message: "cannot read locked.txt"}}},
		Started: now, Finished: now.Add(time.Second),
	}
	iac := scanners.Result{
		Engine: scanners.EngineIaC,
		Tool:   scanners.Tool{Name: "trivy-config", Version: "0.74.0", InformationURI: "https://trivy.dev"},
		Rules: []scanners.Rule{{ID: "KSV-0017", Name: "Privileged", Title: "Privileged", Description: "Containers should not be privileged.",
			Resolution: "Set privileged to false.", HelpURI: "https://avd.aquasec.com/misconfig/ksv-0017", References: []string{"https://kubernetes.io/"},
			Severity: scanners.SeverityHigh, Aliases: []string{"KSV017", "AVD-KSV-0017"}}},
		Findings: []scanners.Finding{{
			Engine: scanners.EngineIaC, RuleID: "KSV-0017", Title: "Privileged", Severity: scanners.SeverityHigh, Message: "privileged",
			Location: scanners.Location{Path: "k8s/pod.yaml"}, Fingerprint: "f3",
			Misconfig: &scanners.MisconfigDetail{FileType: "kubernetes", Resource: "Pod/debug"},
		}},
		Status: scanners.Status{State: scanners.Failed, Notifications: []scanners.Notification{{Level: scanners.LevelError, Code: "engine-error", Message: "checks could not load"}}},
	}
	gate := policy.Gate{Thresholds: policy.DefaultThresholds()}
	results := []scanners.Result{secret, iac}
	return Scan{Root: "/src/repo", Results: results, Gate: gate, Verdict: gate.Decide(results), ToolVersion: "test"}
}

func TestSARIFIsValid(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSARIF(&b, sampleScan()); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), []byte("null")) {
		t.Errorf("SARIF contains a null:\n%s", b.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sample.sarif")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tool, err := sarifcheck.Multitool(".")
	if err != nil {
		t.Fatal(err)
	}
	issues, err := sarifcheck.RunMultitool(context.Background(), tool, path, "Sarif;Gh;Ado;GHAzDO")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range issues {
		t.Errorf("Multitool: %s", i)
	}
	schema, err := sarifcheck.SchemaPath(tool)
	if err != nil {
		t.Fatal(err)
	}
	if err := sarifcheck.ValidateSchema(schema, b.Bytes()); err != nil {
		t.Error(err)
	}
	for _, want := range []string{
		`"uri": "dir%20with%20space/a%3Ab.py"`,
		`"kind": "inSource"`,
		`"status": "accepted"`,
		`"baselineState": "new"`,
		`"executionSuccessful": false`,
		`"id": "unlisted-rule"`,
		`"deprecatedIds": [`,
		`"uri": "file:///src/repo/"`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("SARIF lacks %s", want)
		}
	}
}

func TestTableAndVerdict(t *testing.T) {
	s := sampleScan()
	var b bytes.Buffer
	if err := WriteTable(&b, s, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "##") {
		t.Errorf("table contains ##:\n%s", out)
	}
	// The engine's line adds up: its results, open and suppressed.
	for _, want := range []string{"HIGH (2)", "unlisted-rule", "suppressed: 1", "ERROR: engine(s) failed: iac", "-> exit 3", "cannot read locked.txt",
		"secrets  partial, 2 result(s): 1 open, 1 suppressed"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// A rule's title is its own text: a URL in it keeps its credentials
	// (the redactor once printed "Password embedded in a URL (scheme://host)").
	s.Results[1].Findings[0].Title = "Password embedded in a URL (scheme://user:password@host)"
	b.Reset()
	if err := WriteTable(&b, s, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "(scheme://user:password@host)") {
		t.Errorf("the title was redacted:\n%s", b.String())
	}
	b.Reset()
	if err := WriteTable(&b, s, TableOptions{Quiet: true}); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(b.String(), "\n"); lines != 1 {
		t.Errorf("quiet table has %d lines:\n%s", lines, b.String())
	}
}

func TestJSONReport(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleScan()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Verdict  policy.Verdict `json:"verdict"`
		ExitCode int            `json:"exitCode"`
		Results  []struct {
			Findings []struct {
				Severity string `json:"severity"`
			} `json:"findings"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ExitCode != 3 || doc.Verdict.Suppressed != 1 || doc.Results[0].Findings[0].Severity != "HIGH" {
		t.Errorf("JSON report = %s", b.String())
	}
}
