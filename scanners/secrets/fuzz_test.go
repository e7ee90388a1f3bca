package secrets

import (
	"strings"
	"testing"
)

// FuzzParseIgnore: any .gitleaksignore parses without panicking, into
// fingerprints of three or four fields, each at a real line.
func FuzzParseIgnore(f *testing.F) {
	for _, s := range []string{"a.py:generic-api-key:3\n", "# c\nabc123:src\\\\x.go:aws-access-token:9\r\n", "::\n:::\n", "a:b\n", strings.Repeat("x", 70000) + ":r:1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, _ := parseIgnore(strings.NewReader(s))
		lines := strings.Count(s, "\n") + 1
		for fp, n := range set {
			if k := strings.Count(fp, ":"); k != 2 && k != 3 {
				t.Fatalf("fingerprint %q has %d separators", fp, k)
			}
			if n < 1 || n > lines {
				t.Fatalf("fingerprint %q at line %d of %d", fp, n, lines)
			}
		}
	})
}

// FuzzLoadConfig: a repository's .gitleaks.toml is untrusted input; any
// content loads or fails with an error that names the file, never panics.
func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{
		"[[rules]]\nid = \"x\"\nregex = '''x[0-9]+'''\n",
		"[extend]\nuseDefault = true\n[[rules]]\nid = \"y\"\nregex = '''(a|b)'''\nkeywords = [\"a\"]\n",
		"[[rules]]\nid = \"p\"\npath = '''\\.env$'''\n[[rules.allowlists]]\nregexes = ['''z''']\n",
		"[[allowlists]]\npaths = ['''vendor/''']\n", "title = 1\n", "[[rules]]\nid=\"\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := LoadConfig("fuzz.toml", []byte(s)); err != nil && !strings.Contains(err.Error(), "fuzz.toml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
