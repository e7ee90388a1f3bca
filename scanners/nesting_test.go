package scanners

import (
	"errors"
	"strings"
	"testing"
)

func TestTooDeep(t *testing.T) {
	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	const max = 50
	for _, c := range []struct {
		name    string
		syn     Syntax
		content string
		line    int // 0: within the limit
	}{
		{"hcl shallow", SyntaxHCL, "locals {\n  x = [[1, 2], {a = (1 + 2)}]\n}\n", 0},
		{"hcl brackets", SyntaxHCL, "locals {\n  x = " + deep("[", "]", max) + "\n}\n", 2},
		{"hcl parens", SyntaxHCL, "a = " + deep("(", ")", max+1) + "\n", 1},
		{"hcl blocks", SyntaxHCL, strings.Repeat("b {\n", max+1) + strings.Repeat("}\n", max+1), max + 1},
		{"hcl brackets in a string", SyntaxHCL, `x = "` + strings.Repeat("(", 5*max) + `"` + "\n", 0},
		{"hcl brackets in comments", SyntaxHCL, "# " + strings.Repeat("[", 5*max) + "\n// " + strings.Repeat("{", 5*max) + "\n/* " + strings.Repeat("(", 5*max) + " */\nx = 1\n", 0},
		// A closing bracket in a string does not close anything: counting
		// it would let the real nesting grow unseen.
		{"hcl closers hidden in strings", SyntaxHCL, "x = " + strings.Repeat(`[ "]", `, max+1) + strings.Repeat("]", max+1) + "\n", 1},
		{"hcl interpolations", SyntaxHCL, "x = " + strings.Repeat(`"${`, max+1) + strings.Repeat(`}"`, max+1) + "\n", 1},
		{"hcl literal $${", SyntaxHCL, `x = "` + strings.Repeat("$${", 5*max) + `"` + "\n", 0},
		{"hcl heredoc text", SyntaxHCL, "x = <<EOT\n" + strings.Repeat("[", 5*max) + "\nEOT\ny = 1\n", 0},
		{"hcl heredoc interpolation", SyntaxHCL, "x = <<-EOT\n  ${" + deep("[", "]", max) + "}\n  EOT\n", 2},
		{"hcl after a heredoc", SyntaxHCL, "x = <<EOT\nplain\nEOT\ny = " + deep("[", "]", max+1) + "\n", 4},
		{"json", SyntaxJSON, `{"a": ` + deep("[", "]", max) + `}`, 1},
		{"json shallow with comments", SyntaxJSON, "// c [[[[\n{\"a\": [1, {\"b\": 2}]} /* {{{{ */\n", 0},
		// An ARM template's expression is parsed from the string.
		{"json ARM expression", SyntaxJSON, `{"v": "[` + strings.Repeat("concat(", max+1) + strings.Repeat(")", max+1) + `]"}`, 1},
		{"json escaped quote", SyntaxJSON, `{"v": "a\"` + strings.Repeat("[", max/2) + `", "w": ` + deep("[", "]", max/2) + `}`, 0},
		{"toml", SyntaxTOML, "title = \"x\"\na = " + deep("[", "]", max+1) + "\n", 2},
		{"toml tables and strings", SyntaxTOML, "[[rules]]\nid = 'a[[['\nregex = '''" + strings.Repeat("(", 5*max) + "'''\ndesc = \"\"\"\n" + strings.Repeat("{", 5*max) + "\n\"\"\"\n", 0},
	} {
		err := TooDeep([]byte(c.content), c.syn, max)
		var ne *NestingError
		switch {
		case c.line == 0 && err != nil:
			t.Errorf("%s: %v, want nil", c.name, err)
		case c.line != 0 && !errors.As(err, &ne):
			t.Errorf("%s: %v, want a NestingError", c.name, err)
		case c.line != 0 && ne.Line != c.line:
			t.Errorf("%s: line %d, want %d", c.name, ne.Line, c.line)
		}
	}
}

// FuzzTooDeep: whatever surrounds it, a nesting deeper than the limit in
// code is found, and the scan of any input ends.
func FuzzTooDeep(f *testing.F) {
	f.Add("x = ", "\n", uint8(0))
	f.Add(`x = "${`, `}"`, uint8(1))
	f.Add("a = ", "\n", uint8(2))
	f.Fuzz(func(t *testing.T, before, after string, syn uint8) {
		s := Syntax(syn % 3)
		_ = TooDeep([]byte(before+after), s, 10)
		// Balanced text around the bomb: the bomb is found.
		if TooDeep([]byte(before), s, 1<<30) != nil || strings.ContainsAny(before+after, "\"'#/<$%\\") {
			return
		}
		in := before + strings.Repeat("[", 11) + strings.Repeat("]", 11) + after
		if TooDeep([]byte(in), s, 10) == nil {
			t.Fatalf("%q: 11 levels passed a limit of 10", in)
		}
	})
}
