package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPrecedence(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, DefaultFile), `
scanners: secrets
sarif: out/file.sarif
fail-on: {default: low, secrets: critical}
exclude: ["vendor/**", "dist/**"]
max-file-size: 1MiB
secrets:
  severity: medium
  rule-severity: {generic-*: low}
iac:
  file-types: [terraform, kubernetes]
`)
	o, err := Parse([]string{root}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.ConfigFile != filepath.Join(root, DefaultFile) {
		t.Errorf("config file = %q", o.ConfigFile)
	}
	if !slices.Equal(o.Scanners, []string{"secrets"}) || o.SARIF != filepath.Join(root, "out/file.sarif") {
		t.Errorf("file values not applied: scanners %v sarif %q", o.Scanners, o.SARIF)
	}
	if o.Gate.Thresholds.String() != "low,secrets=critical" || o.MaxFileSize != 1<<20 {
		t.Errorf("thresholds %s size %d", o.Gate.Thresholds, o.MaxFileSize)
	}
	if o.Secrets.Severity != scanners.SeverityMedium || o.Secrets.RuleSeverity["generic-*"] != scanners.SeverityLow {
		t.Errorf("secrets options %+v", o.Secrets)
	}
	if !slices.Equal(o.IaC.FileTypes, []string{"terraform", "kubernetes"}) || len(o.Exclude) != 2 {
		t.Errorf("iac %v exclude %v", o.IaC.FileTypes, o.Exclude)
	}

	// The environment beats the file, a flag beats both.
	o, err = Parse([]string{"--sarif", "flag.sarif", root}, env(map[string]string{
		"TOLLGATE_SARIF": "env.sarif", "TOLLGATE_SCANNERS": "iac,secrets", "TOLLGATE_QUIET": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if o.SARIF != "flag.sarif" || !slices.Equal(o.Scanners, []string{"iac", "secrets"}) || !o.Quiet {
		t.Errorf("precedence wrong: sarif %q scanners %v quiet %v", o.SARIF, o.Scanners, o.Quiet)
	}
	o, err = Parse([]string{"--fail-on", "high", "--fail-on", "iac=none", root}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.Gate.Thresholds.String() != "high,iac=none" {
		t.Errorf("repeated --fail-on: %s", o.Gate.Thresholds)
	}
}

func TestFileErrorsNameKeyAndLine(t *testing.T) {
	for content, want := range map[string]string{
		"scanners: [secrets]\nfail_on: high\n":           `line 2: unknown key "fail_on"`,
		"iac:\n  file-types: [terraform]\n  tfvars: x\n": `line 3: unknown key "iac.tfvars"`,
		"secrets: yes\n":                           "line 1: secrets must be a mapping",
		"fail-on: extreme\n":                       "line 1: fail-on: unknown severity",
		"max-file-size: lots\n":                    "line 1: max-file-size: invalid size",
		"scanners: [secrets, [iac]]\n":             "line 1: scanners: list items must be plain values",
		"secrets:\n  rule-severity: {x: severe}\n": "line 2: secrets.rule-severity.x",
		"- a\n- b\n":                               "line 1: the file must be a mapping",
		"key: [unclosed\n":                         "did not find expected",
	} {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, DefaultFile), content)
		_, err := Parse([]string{root}, env(nil))
		var ue *UsageError
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", content, err, want)
		} else if !errors.As(err, &ue) {
			t.Errorf("%q: %T is not a usage error", content, err)
		}
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, DefaultFile), "")
	if _, err := Parse([]string{root}, env(nil)); err != nil {
		t.Errorf("an empty file must be valid: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"--nope", root},
		{root, root},
		{filepath.Join(root, "missing")},
		{"--format", "pdf", root},
		{"--exclude", "[", root},
		{"--timeout", "soon", root},
		{"--iac-file-types", "pulumi", root},
		{"--config", filepath.Join(root, "none.yaml"), root},
	} {
		if _, err := Parse(args, env(nil)); err == nil {
			t.Errorf("Parse(%q) accepted", args)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "50MB": 50e6, "50MiB": 50 << 20, "1.5g": 3 << 29, "512k": 512 << 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseSize("-1MB"); err == nil {
		t.Error("negative size accepted")
	}
}

func TestMatcher(t *testing.T) {
	m := Matcher([]string{"vendor/**", "**/*.min.js"}, []string{"docs"})
	for p, dir := range map[string]bool{"vendor": true, "vendor/a/b.go": false, "web/app.min.js": false, "docs": true} {
		if !m(p, dir) {
			t.Errorf("%q (dir %v) not excluded", p, dir)
		}
	}
	for _, p := range []string{"src/vendor.go", "web/app.js", "docs2/readme.md"} {
		if m(p, false) {
			t.Errorf("%q excluded", p)
		}
	}
	if Matcher() != nil {
		t.Error("no globs must mean no matcher")
	}
}
