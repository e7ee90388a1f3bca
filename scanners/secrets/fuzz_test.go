package secrets

import (
	"errors"
	"fmt"
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
		cfg, err := LoadConfig("fuzz.toml", []byte(s))
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			// The one panic gitleaks may raise on a config is compiling an
			// invalid pattern (regexp.MustCompile); any other is a bug to
			// know about, not to hide.
			var pe *ConfigPanicError
			if errors.As(err, &pe) && !regexPanic(fmt.Sprint(pe.Value)) {
				t.Fatalf("gitleaks panicked on something other than a pattern: %v", pe.Value)
			}
			return
		}
		for id, r := range cfg.Rules {
			if r.Regex == nil && r.Path == nil {
				t.Fatalf("rule %q loaded with neither a regex nor a path from %q", id, s)
			}
		}
	})
}

// regexPanic recognises the panics of compiling an invalid pattern, with
// Go's regexp or RE2 (gore2regex builds).
func regexPanic(msg string) bool {
	for _, m := range []string{"regexp: Compile", "error parsing regexp", "re2", "missing ]", "invalid", "missing )", "unexpected )", "bad repetition", "no argument for repetition"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
