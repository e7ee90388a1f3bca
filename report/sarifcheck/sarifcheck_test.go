package sarifcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/scanners"
)

// good is a small log that the Multitool's SARIF and GitHub rules accept.
const good = `{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":{"driver":{"name":"t","fullName":"t tool","version":"1.0.0","semanticVersion":"1.0.0","informationUri":"https://example.com/t","rules":[{"id":"R1","name":"RuleOne","shortDescription":{"text":"Rule one."},"fullDescription":{"text":"Rule one."},"help":{"text":"Fix it."},"properties":{"security-severity":"8.0","tags":["security"]}}]}},"results":[{"ruleId":"R1","ruleIndex":0,"level":"error","message":{"text":"Bad thing."},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a/b.txt","uriBaseId":"SRCROOT"},"region":{"startLine":1}}}],"partialFingerprints":{"x/v1":"abc"}}],"originalUriBaseIds":{"SRCROOT":{"uri":"file:///src/"}},"columnKind":"unicodeCodePoints","automationDetails":{"id":"cat/1"}}]}`

// mutate returns good with one change applied.
func mutate(t *testing.T, change func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(good), &doc); err != nil {
		t.Fatal(err)
	}
	change(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func run0(doc map[string]any) map[string]any { return doc["runs"].([]any)[0].(map[string]any) }

// The validation the whole suite relies on can fail: known-bad logs are
// reported, each with the Multitool's rule for what is wrong, and the
// schema check rejects what the schema forbids.
func TestRunMultitoolReportsBadLogs(t *testing.T) {
	tool, err := Multitool(".")
	if err != nil {
		t.Fatal(err)
	}
	schema, err := SchemaPath(tool)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	check := func(name string, log []byte) []Issue {
		t.Helper()
		p := filepath.Join(dir, name+".sarif")
		if err := os.WriteFile(p, log, 0o644); err != nil {
			t.Fatal(err)
		}
		issues, err := RunMultitool(context.Background(), tool, p, "Sarif;Gh")
		if err != nil {
			t.Fatal(err)
		}
		return issues
	}
	if issues := check("good", []byte(good)); len(issues) != 0 {
		t.Fatalf("the good log has issues: %v", issues)
	}
	if err := ValidateSchema(schema, []byte(good)); err != nil {
		t.Fatalf("the good log fails the schema: %v", err)
	}
	for _, c := range []struct {
		name, rule, text string
		change           func(map[string]any)
	}{
		{"relative-root", "SARIF1004", "is not an absolute URI", func(d map[string]any) {
			run0(d)["originalUriBaseIds"].(map[string]any)["SRCROOT"].(map[string]any)["uri"] = "src/"
		}},
		{"missing-rule", "SARIF1009", "", func(d map[string]any) {
			r := run0(d)["results"].([]any)[0].(map[string]any)
			r["ruleId"], r["ruleIndex"] = "R9", 3
		}},
		{"wrong-version", "JSON1019", "", func(d map[string]any) { d["version"] = "2.0.0" }},
	} {
		issues := check(c.name, mutate(t, c.change))
		found := false
		for _, i := range issues {
			if i.RuleID == c.rule && i.Level == "error" && strings.Contains(i.Message, c.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %s error among %v", c.name, c.rule, issues)
		}
	}
	if err := ValidateSchema(schema, mutate(t, func(d map[string]any) { run0(d)["results"].([]any)[0].(map[string]any)["level"] = "fatal" })); err == nil {
		t.Error("the schema check accepted an unknown result level")
	}
	if _, err := parseValidation([]byte("not json")); err == nil {
		t.Error("an unreadable Multitool output passed as no issues")
	}
}

// TestAdoRuleKindsFire: the Ado and GHAzDO rule kinds the suite validates
// with are not empty words. A log Tollgate writes passes them; the same log
// without its automationDetails (which GitHub Advanced Security for Azure
// DevOps needs to tell runs apart) fails each with GHAzDO1014, which the
// Sarif and Gh kinds do not check.
func TestAdoRuleKindsFire(t *testing.T) {
	tool, err := Multitool(".")
	if err != nil {
		t.Fatal(err)
	}
	res := scanners.Result{Engine: scanners.EngineSecrets, Tool: scanners.Tool{Name: "gitleaks", FullName: "Gitleaks", Version: "8.30.1", InformationURI: "https://gitleaks.io"},
		Rules:    []scanners.Rule{{ID: "github-pat", Title: "GitHub token", Description: "A GitHub token.", Resolution: "Rotate it.", Severity: scanners.SeverityHigh, Tags: []string{"secret"}}},
		Findings: []scanners.Finding{{Engine: scanners.EngineSecrets, RuleID: "github-pat", Title: "GitHub token", Severity: scanners.SeverityHigh, Message: "a token", Location: scanners.Location{Path: "app/a.py", StartLine: 3, EndLine: 3}, Fingerprint: "f", FingerprintV2: "f2"}}}
	res.Status.Finish()
	var b bytes.Buffer
	if err := report.WriteSARIF(&b, report.Scan{Root: "/src", Results: []scanners.Result{res}, ToolVersion: "1.0.0", Category: "tollgate"}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	delete(run0(doc), "automationDetails")
	stripped, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, log := range map[string][]byte{"tollgate": b.Bytes(), "no-automation": stripped} {
		p := filepath.Join(dir, name+".sarif")
		if err := os.WriteFile(p, log, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, kinds := range []string{"Ado", "GHAzDO", "Sarif;Gh"} {
			issues, err := RunMultitool(context.Background(), tool, p, kinds)
			if err != nil {
				t.Fatal(err)
			}
			fired := slices.ContainsFunc(issues, func(i Issue) bool { return i.RuleID == "GHAzDO1014" && i.Level == "error" })
			want := name == "no-automation" && kinds != "Sarif;Gh"
			if fired != want {
				t.Errorf("%s log, rule kinds %s: GHAzDO1014 fired %v, want %v (issues %v)", name, kinds, fired, want, issues)
			}
			if name == "tollgate" && len(issues) != 0 {
				t.Errorf("Tollgate's log, rule kinds %s: %v", kinds, issues)
			}
		}
	}
}
