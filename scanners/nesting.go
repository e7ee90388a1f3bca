package scanners

import "fmt"

// MaxNesting is the deepest nesting of brackets, braces, parentheses and
// template interpolations a file of the checkout may have before a parser
// sees it. The parsers Tollgate and its engines use (HCL's, go-toml's,
// Trivy's ARM expression parser) recurse once or more per level, and a Go
// stack overflow is fatal: recover() never sees it, and every result of
// the scan is lost. Real files nest a few dozen levels; a bomb of a few
// hundred kilobytes nests 100,000.
const MaxNesting = 1000

// Syntax is the lexical family of a file, for TooDeep.
type Syntax int

const (
	// SyntaxHCL is Terraform's language (.tf, .tfvars): # // /* */
	// comments, "..." strings with ${ } and %{ } templates, heredocs.
	SyntaxHCL Syntax = iota
	// SyntaxJSON is JSON, with the // and /* */ comments ARM tooling
	// accepts; a string's own brackets count too (an ARM template's
	// "[concat(...)]" expression is parsed).
	SyntaxJSON
	// SyntaxTOML is TOML: # comments, "..." and '...' strings and their
	// triple-quoted forms.
	SyntaxTOML
)

// NestingError says where a file nests deeper than allowed.
type NestingError struct {
	Line, Max int
}

func (e *NestingError) Error() string {
	return fmt.Sprintf("it nests deeper than %d levels (line %d); no parser is given it (a parser would recurse once a level, and a stack overflow ends the whole scan)", e.Max, e.Line)
}

// TooDeep returns a NestingError when content nests deeper than limit
// levels, counted the way the syntax's parser nests: brackets outside
// strings and comments, template interpolations (whose contents nest in
// turn), and, for JSON, the brackets inside a string. It reads content once
// and allocates only its stack of open levels (at most limit+1).
func TooDeep(content []byte, syn Syntax, limit int) error {
	type level byte
	const (
		none    level = iota
		bracket       // ( [ {
		interp        // ${ or %{ in a string or heredoc
		str           // "..."
		hdoc          // a heredoc's text
	)
	var stack []level
	var terms []string // the open heredocs' terminators
	depth := 0         // brackets and interpolations on the stack
	line := 1
	strDepth, strMax := 0, 0 // the brackets inside one JSON string
	top := func() level {
		if len(stack) == 0 {
			return none
		}
		return stack[len(stack)-1]
	}
	open := func(l level) error {
		stack = append(stack, l)
		if l == bracket || l == interp {
			depth++
		}
		if depth > limit || strMax > limit {
			return &NestingError{Line: line, Max: limit}
		}
		return nil
	}
	// template reports whether content[i:] opens an interpolation (${ or
	// %{, not the literal $${ or %%{).
	template := func(i int) bool {
		c := content[i]
		return (c == '$' || c == '%') && i+1 < len(content) && content[i+1] == '{' && (i == 0 || content[i-1] != c)
	}
	n := len(content)
	for i := 0; i < n; i++ {
		c := content[i]
		if c == '\n' {
			line++
		}
		switch top() {
		case hdoc:
			switch {
			case c == '\n':
				j := i + 1
				for j < n && (content[j] == ' ' || content[j] == '\t') {
					j++
				}
				k := j
				for k < n && content[k] != '\n' && content[k] != '\r' {
					k++
				}
				if string(content[j:k]) == terms[len(terms)-1] {
					stack, terms = stack[:len(stack)-1], terms[:len(terms)-1]
					i = k - 1
				}
			case template(i):
				if err := open(interp); err != nil {
					return err
				}
				i++
			}
		case str:
			switch {
			case c == '\\':
				if i+1 < n && content[i+1] == '\n' {
					line++
				}
				i++
			case c == '"':
				stack = stack[:len(stack)-1]
				strDepth = 0
			case syn == SyntaxHCL && template(i):
				if err := open(interp); err != nil {
					return err
				}
				i++
			case syn == SyntaxJSON && (c == '(' || c == '[' || c == '{'):
				strDepth++
				strMax = max(strMax, strDepth)
				if strMax > limit {
					return &NestingError{Line: line, Max: limit}
				}
			case syn == SyntaxJSON && (c == ')' || c == ']' || c == '}'):
				if strDepth > 0 {
					strDepth--
				}
			}
		default:
			switch {
			case c == '"':
				if syn == SyntaxTOML && i+2 < n && content[i+1] == '"' && content[i+2] == '"' {
					i = skipPast(content, i+3, `"""`, &line, true)
					continue
				}
				_ = open(str)
			case c == '\'' && syn == SyntaxTOML:
				if i+2 < n && content[i+1] == '\'' && content[i+2] == '\'' {
					i = skipPast(content, i+3, `'''`, &line, false)
					continue
				}
				i = skipPast(content, i+1, `'`, &line, false)
			case c == '#' && syn != SyntaxJSON, c == '/' && i+1 < n && content[i+1] == '/' && syn != SyntaxTOML:
				for i+1 < n && content[i+1] != '\n' {
					i++
				}
			case c == '/' && i+1 < n && content[i+1] == '*' && syn != SyntaxTOML:
				i = skipPast(content, i+2, "*/", &line, false)
			case c == '<' && syn == SyntaxHCL && i+1 < n && content[i+1] == '<':
				// <<EOF or <<-EOF: text up to the line that holds EOF.
				j := i + 2
				if j < n && content[j] == '-' {
					j++
				}
				k := j
				for k < n && isWordByte(content[k]) {
					k++
				}
				if k > j && k < n && (content[k] == '\n' || content[k] == '\r') {
					terms = append(terms, string(content[j:k]))
					_ = open(hdoc)
					i = k - 1
				}
			case c == '(' || c == '[' || c == '{':
				if err := open(bracket); err != nil {
					return err
				}
			case c == ')' || c == ']' || c == '}':
				if t := top(); t == bracket || t == interp {
					stack = stack[:len(stack)-1]
					depth--
				}
			}
		}
	}
	return nil
}

// skipPast returns the index of the last byte of the first end at or after
// i (n-1 when there is none), counting lines; escapes a backslash.
func skipPast(content []byte, i int, end string, line *int, escapes bool) int {
	for ; i < len(content); i++ {
		switch {
		case content[i] == '\n':
			*line++
		case escapes && content[i] == '\\':
			i++
			if i < len(content) && content[i] == '\n' {
				*line++
			}
		case len(content)-i >= len(end) && string(content[i:i+len(end)]) == end:
			return i + len(end) - 1
		}
	}
	return len(content) - 1
}

func isWordByte(b byte) bool {
	return b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
