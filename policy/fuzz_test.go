package policy

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParseTrivyIgnore: both ignore-file formats parse or fail, never panic,
// and every rule they return names something and has a reason.
func FuzzParseTrivyIgnore(f *testing.F) {
	f.Add("CVE-2099-1\nKSV-0017 exp:2030-01-01 # c\n", "misconfigurations:\n  - id: KSV-0017\n    paths: [a/**]\n")
	f.Add("\x00\xff exp:", "vulnerabilities:\n  - id: CVE\n    purls: [\"pkg:npm/%zz@1\"]\n    expired_at: nope\n")
	f.Fuzz(func(t *testing.T, text, yml string) {
		rules, _ := ParseTrivyIgnore([]byte(text), ".trivyignore")
		yrules, _ := ParseTrivyIgnoreYAML([]byte(yml), ".trivyignore.yaml")
		for _, r := range append(rules, yrules...) {
			if r.ID == "" || r.Reason == "" || r.Source == "" {
				t.Fatalf("incomplete rule %+v", r)
			}
		}
	})
}

// FuzzParseGitleaksIgnore: any .gitleaksignore parses without panicking,
// into gitleaks fingerprints of three or four fields, each at a real line.
func FuzzParseGitleaksIgnore(f *testing.F) {
	for _, s := range []string{"a.py:generic-api-key:3\n", "# c\nabc123:src\\\\x.go:aws-access-token:9\r\n", "::\n:::\n", "a:b\n", strings.Repeat("x", 70000) + ":r:1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, _ := ParseGitleaksIgnore([]byte(s), ".gitleaksignore")
		lines := strings.Count(s, "\n") + 1
		for _, r := range rules {
			if k := strings.Count(r.GitleaksFingerprint, ":"); k != 2 && k != 3 {
				t.Fatalf("fingerprint %q has %d separators", r.GitleaksFingerprint, k)
			}
			var n int
			if _, err := fmt.Sscanf(strings.TrimPrefix(r.Source, ".gitleaksignore:"), "%d", &n); err != nil || n < 1 || n > lines {
				t.Fatalf("fingerprint %q at %q of %d lines", r.GitleaksFingerprint, r.Source, lines)
			}
			if err := r.Validate(); err != nil {
				t.Fatalf("entry %+v: %v", r, err)
			}
		}
	})
}
