package secrets

import (
	"errors"
	"fmt"
	"regexp"
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
			if errors.As(err, &pe) && !regexPanic(pe.Value) {
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

// regexPanic recognises the panic of compiling an invalid pattern, by its
// origin: regexp.MustCompile (Go's, and go-re2's in gore2regex builds)
// panics with a string that starts "regexp: Compile(". A runtime error (a
// nil pointer, an index out of range) is a bug, whatever its text says.
func regexPanic(v any) bool {
	msg, ok := v.(string)
	return ok && strings.HasPrefix(msg, "regexp: Compile(")
}

// TestRegexPanicIsNarrow: the fuzz target accepts the pattern panic only;
// it once accepted any panic whose text had "invalid" in it, which let
// "invalid memory address or nil pointer dereference" through.
func TestRegexPanicIsNarrow(t *testing.T) {
	var nilMap map[string]*int
	runtimeErr := func() (v any) {
		defer func() { v = recover() }()
		_ = *nilMap["x"]
		return nil
	}()
	patternPanic := func() (v any) {
		defer func() { v = recover() }()
		regexp.MustCompile("(")
		return nil
	}()
	if regexPanic(runtimeErr) {
		t.Errorf("a runtime error (%v) passes for a pattern panic", runtimeErr)
	}
	if regexPanic(fmt.Sprint(runtimeErr)) != false || !regexPanic(patternPanic) {
		t.Errorf("pattern panic %q not recognised", patternPanic)
	}
}
