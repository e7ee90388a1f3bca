package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/policy"
	"github.com/tollgate/tollgate/report/sarifcheck"
	"github.com/tollgate/tollgate/scanners"
)

// roundTripScan has a finding of every kind and every detail the writer
// knows: a suppressed secret in a commit, a misconfiguration with columns,
// an image vulnerability with and without a checkout line, baseline states
// (an absent one with the baseline's properties), rules with a multi-line
// description, a resolution, references, aliases and a score, notifications
// with and without a place.
func roundTripScan() Scan {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	secrets := scanners.Result{
		Engine: scanners.EngineSecrets, Tool: scanners.Tool{Name: "gitleaks", FullName: "Gitleaks", Version: "8.30.1", InformationURI: "https://gitleaks.io"},
		Rules: []scanners.Rule{
			{ID: "jwt", Title: "JSON Web Token", Description: "A JWT.\n\nIt grants access.", Resolution: "Rotate it.", HelpURI: "https://example.com/jwt", Severity: scanners.SeverityHigh, Tags: []string{"secret"}},
			{ID: "github-pat", Title: "GitHub PAT", Severity: scanners.SeverityCritical, References: []string{"https://docs.github.com/a", "https://docs.github.com/b"}},
		},
		Findings: []scanners.Finding{
			{Engine: scanners.EngineSecrets, RuleID: "github-pat", Title: "GitHub PAT", Severity: scanners.SeverityCritical, Message: "a token",
				Location:    scanners.Location{Path: "app/a b.env", StartLine: 3, EndLine: 3, StartColumn: 7, EndColumn: 47, Commit: "abc123"},
				Fingerprint: "fp1", FingerprintV2: "fp1v2", Tags: []string{"secret", "github"},
				Secret:        &scanners.SecretDetail{Redacted: "ghp_…", Commit: "abc123", GitleaksFingerprint: "abc123:app/a b.env:github-pat:3"},
				Suppressions:  []scanners.Suppression{{Kind: "inSource", Justification: "test key", Source: "gitleaks:allow"}, {Kind: "external", Status: scanners.SuppressionUnderReview, Justification: "later", Source: ".tollgate.yaml:4"}},
				BaselineState: "new"},
			{Engine: scanners.EngineSecrets, RuleID: "jwt", Title: "JSON Web Token", Severity: scanners.SeverityHigh, Message: "a jwt",
				Location: scanners.Location{Path: "gone.txt", StartLine: 9, EndLine: 9}, Fingerprint: "fp2", FingerprintV2: "fp2v2",
				BaselineState: "absent", BaselineProperties: map[string]any{"severity": "HIGH", "tags": []any{"secret"}, "extra": "kept"}},
		},
		Status:   scanners.Status{State: scanners.Partial, Notifications: []scanners.Notification{{Level: scanners.LevelError, Code: "unreadable", Path: "x/y.bin", Line: 2, Message: "could not read"}, {Level: scanners.LevelNote, Message: "a note"}}, Config: []scanners.Notification{{Level: scanners.LevelWarning, Code: "ignore-expired", Message: "expired"}}},
		Started:  t0,
		Finished: t0.Add(time.Second),
		Cache:    &scanners.CacheStats{Units: 10, FromCache: 4},
	}
	iac := scanners.Result{
		Status: scanners.Status{State: scanners.Succeeded},
		Engine: scanners.EngineIaC, Tool: scanners.Tool{Name: "trivy-config", Version: "0.74.0", InformationURI: "https://trivy.dev"},
		Rules: []scanners.Rule{{ID: "AVD-AWS-0086", Name: "S3PublicAccess", Title: "S3 public\naccess", Description: "Block it.", Resolution: "Set block_public_acls", Severity: scanners.SeverityHigh, Tags: []string{"terraform", "aws"}, Aliases: []string{"aws-s3-block-public-acls"}, References: []string{"https://avd.aquasec.com/x"}}},
		Findings: []scanners.Finding{{Engine: scanners.EngineIaC, RuleID: "AVD-AWS-0086", Title: "S3 public\naccess", Severity: scanners.SeverityHigh, Message: "No public access block",
			Location: scanners.Location{Path: "tf/main.tf", StartLine: 1, EndLine: 4}, Fingerprint: "fp3", FingerprintV2: "fp3v2", Tags: []string{"misconfiguration"},
			Misconfig: &scanners.MisconfigDetail{FileType: "terraform", Resource: "aws_s3_bucket.b", Provider: "AWS", Service: "s3", Resolution: "Set it"}, BaselineState: "unchanged"},
			{Engine: scanners.EngineIaC, RuleID: "AVD-AWS-0086", Title: "S3 public\naccess", Severity: scanners.SeverityHigh, Message: "about the whole file",
				Location: scanners.Location{Path: "docker/Dockerfile"}, Fingerprint: "fp6", FingerprintV2: "fp6v2"}},
		Started: t0, Finished: t0,
	}
	images := scanners.Result{
		Status: scanners.Status{State: scanners.Succeeded},
		Engine: scanners.EngineImage, Tool: scanners.Tool{Name: "trivy-image", Version: "0.74.0", InformationURI: "https://trivy.dev", Properties: map[string]string{"vulnerabilityDB.updatedAt": "2026-12-01T00:00:00Z"}},
		Rules: []scanners.Rule{{ID: "CVE-2026-1", Title: "overflow", Severity: scanners.SeverityMedium, CVSSScore: 6.1}, {ID: "CVE-2026-2", Title: "other", Severity: scanners.SeverityLow}},
		Findings: []scanners.Finding{
			{Engine: scanners.EngineImage, RuleID: "CVE-2026-1", Severity: scanners.SeverityMedium, Message: "in alpine", Location: scanners.Location{Image: "alpine:3.20"}, Fingerprint: "fp4", FingerprintV2: "fp4v2",
				Vuln: &scanners.VulnDetail{Package: "musl", InstalledVersion: "1.2.4", FixedVersion: "1.2.5", CVSSScore: 6.1, CVSSVector: "CVSS:3.1/AV:N", PkgPath: "lib/x"}},
			{Engine: scanners.EngineImage, RuleID: "CVE-2026-2", Severity: scanners.SeverityLow, Message: "in app", Location: scanners.Location{Image: "registry.example.com/app:1", Path: "docker/Dockerfile", StartLine: 1, EndLine: 1}, Fingerprint: "fp5",
				Vuln: &scanners.VulnDetail{Package: "zlib", InstalledVersion: "1"}},
		},
		Provenance: &scanners.Provenance{RepositoryURI: "https://example.com/other.git", Revision: "def"},
	}
	return Scan{
		Root: "/src", Results: []scanners.Result{secrets, iac, images}, ToolVersion: "1.2.3", Category: "tollgate",
		RunProperties:  map[string]any{PropVersion: "1.2.3"},
		VersionControl: &VersionControl{RepositoryURI: "https://example.com/r.git", Revision: "abc", Branch: "main"},
		Policy:         PolicyReport{Origin: "the checkout"},
		Verdict:        policy.Verdict{Shard: scanners.Shard{Index: 2, Count: 3}},
	}
}

// TestReadSARIFRoundTrip: what ReadSARIF reads from a log, written again,
// is the same log, byte for byte.
func TestReadSARIFRoundTrip(t *testing.T) {
	s := roundTripScan()
	var first bytes.Buffer
	if err := WriteSARIF(&first, s); err != nil {
		t.Fatal(err)
	}
	log, err := ReadSARIF(first.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	firstPath := filepath.Join(t.TempDir(), "roundtrip.sarif")
	if err := os.WriteFile(firstPath, first.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sarifcheck.Check(t, firstPath, "Sarif;Gh;Ado")
	again := s
	again.Results = nil
	again.VersionControl = nil
	for i, run := range log.Runs {
		if run.Shard != "2/3" || run.Version != "1.2.3" {
			t.Errorf("run %d: shard %q version %q", i, run.Shard, run.Version)
		}
		r := run.Result
		r.Status.Config = run.Configuration
		if vc := run.VersionControl; vc != nil {
			r.Provenance = &scanners.Provenance{RepositoryURI: vc.RepositoryURI, Revision: vc.Revision, Branch: vc.Branch}
		}
		again.Results = append(again.Results, r)
	}
	var second bytes.Buffer
	if err := WriteSARIF(&second, again); err != nil {
		t.Fatal(err)
	}
	if first.String() != second.String() {
		a, b := strings.Split(first.String(), "\n"), strings.Split(second.String(), "\n")
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("the log read and written again differs from line %d:\n%s\n%s", i+1, a[i], b[i])
			}
		}
		t.Fatalf("the log read and written again differs in length: %d and %d lines", len(a), len(b))
	}
	f := log.Runs[0].Result.Findings[0]
	if f.Secret == nil || f.Location.Commit != "abc123" || len(f.Suppressions) != 2 || f.Suppressions[1].Status != scanners.SuppressionUnderReview || f.Location.EndColumn != 47 {
		t.Errorf("secret read back as %+v", f)
	}
	if v := log.Runs[2].Result.Findings[0]; v.Location.Path != "" || v.Location.Image != "alpine:3.20" || v.Vuln.FixedVersion != "1.2.5" {
		t.Errorf("vulnerability read back as %+v", v)
	}
	iac := log.Runs[1].Result.Findings
	if iac[0].Location.StartLine != 1 || iac[0].Location.EndLine != 4 {
		t.Errorf("a finding on lines 1-4 read back as %+v", iac[0].Location)
	}
	if iac[1].Location.StartLine != 0 || iac[1].Location.EndLine != 0 {
		t.Errorf("a finding about the whole file read back on a line: %+v (merge would print it as path:1)", iac[1].Location)
	}
	if r := log.Runs[0].Result.Rules[0]; r.Resolution != "Rotate it." || r.Description != "A JWT.\n\nIt grants access." {
		t.Errorf("rule read back as %+v", r)
	}
}

func TestReadSARIFRefusesForeignLogs(t *testing.T) {
	for name, in := range map[string]string{
		"not json":          `{`,
		"version 2.0":       `{"version":"2.0.0","runs":[]}`,
		"unknown tool":      `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"eslint"}},"results":[]}]}`,
		"no fingerprint":    `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"gitleaks"}},"results":[{"ruleId":"x","message":{"text":"m"}}]}]}`,
		"unknown state":     `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"gitleaks"}},"properties":{"tollgate/state":"sideways"},"results":[]}]}`,
		"bad vulnerability": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"trivy-image"}},"results":[{"ruleId":"x","message":{"text":"m"},"partialFingerprints":{"tollgate/v1":"a"},"properties":{"vulnerability":"nope"}}]}]}`,
	} {
		if _, err := ReadSARIF([]byte(in)); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}
