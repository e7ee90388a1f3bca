package config

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzParseFile: any .tollgate.yaml content parses or fails with an error
// that names a line; it never panics and never hangs on aliases.
func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		"",
		"scanners: [secrets, iac]\nfail-on: {default: high, secrets: low}\n",
		"ignore:\n  - id: KSV-*\n    path: k8s/**\n    reason: r\n    expires: 2030-01-01\n",
		"secrets:\n  rule-severity: {generic-api-key: low}\n",
		"a: &a [*a]\n",
		"fail-on: !!binary aGVsbG8=\n",
		"- 1\n- 2\n",
		"image:\n  images: [alpine:3.18]\n",
	} {
		f.Add(seed)
	}
	all := Settings(testEngines)
	f.Fuzz(func(t *testing.T, content string) {
		fc, err := parseFile([]byte(content), all)
		if err != nil {
			if !regexp.MustCompile(`line \d+`).MatchString(err.Error()) {
				t.Fatalf("error does not name a line: %q (from %q)", err, content)
			}
			return
		}
		if fc == nil {
			t.Fatal("nil config without error")
		}
		for k := range fc.values {
			if strings.TrimSpace(k) == "" {
				t.Fatalf("empty key accepted from %q", content)
			}
		}
	})
}
