package secrets

import (
	"strings"
	"testing"
)

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
