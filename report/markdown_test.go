package report

import (
	"strings"
	"testing"
)

// Text from the checkout (a rule description in its .gitleaks.toml, a file
// name) cannot become markup in the run summary or a comment.
func TestMarkdownEscapesEverything(t *testing.T) {
	for _, in := range []string{
		`[click](https://evil.example/x)`,
		`\[click\](https://evil.example/x)`,
		`![img](https://evil.example/p.png)`,
		`<img src=x onerror=alert(1)>`,
		"a | b |\n| --- |",
		"`code` *bold* _em_ ~~strike~~",
		"@alice and @[Team]\\Project",
		"# heading",
		"https://evil.example/autolink",
		"&lt;script&gt;",
	} {
		out := Markdown(in)
		for _, bad := range []string{"](", "<img", "<script", "\n", "https://", "@alice"} {
			if strings.Contains(out, bad) {
				t.Errorf("Markdown(%q) = %q keeps %q", in, out, bad)
			}
		}
		for i := 0; i < len(out); i++ {
			entity := out[i] == '#' && i > 0 && out[i-1] == '&'
			if strings.ContainsRune("[]()|*_~#!`", rune(out[i])) && !entity && (i == 0 || out[i-1] != '\\') {
				t.Errorf("Markdown(%q) = %q: %q at %d unescaped", in, out, out[i], i)
			}
		}
	}
	if got := Markdown(`a\b`); got != `a\\b` {
		t.Errorf("backslash: %q", got)
	}
}
