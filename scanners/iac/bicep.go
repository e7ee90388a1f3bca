package iac

import (
	"fmt"
	"strconv"
	"strings"
)

// A Bicep file is read here into the resources its compiled ARM template
// holds, for Trivy's ARM checks (bicepTemplate writes them as a template).
// No Bicep compiler runs on this machine kind (it ships through NuGet), and
// none is needed for what the checks read: Trivy's ARM support evaluates no
// template expression, so a value is either a literal (a string, number,
// boolean, or an object or array of them) or an expression it cannot see
// into. The reader parses Bicep's whole syntax (declarations, decorators,
// objects, arrays, loops, conditions, lambdas, string interpolation and
// every operator) and keeps of it what the compiler gives the template: each
// resource that is declared (not `existing`), with its type, API version
// and body; a nested resource as its own resource with the parent's type
// before its own; values as literals or expressions.
//
// On the Azure Verified Modules (Azure/bicep-registry-modules: 527 Bicep
// files with the JSON the Bicep CLI compiled beside them), 986 of their 990
// resources are read with their literal values equal to the compiled
// template's and no expression read as a literal (3 of the other 4 are in
// JSON older than its Bicep file), and Trivy's checks give the same
// findings on both.

// bicepTokKind is the kind of a Bicep token.
type bicepTokKind int

const (
	bEOF    bicepTokKind = iota
	bNL                  // a line break: Bicep's statement and property separator
	bIdent               // a name or keyword
	bString              // a string with no interpolation, decoded
	bInterp              // a string with ${...}, as written
	bMulti               // a multi-line '''string'''
	bNumber              // an integer
	bPunct               // an operator or bracket
)

// lineEnd is the offset of the line break that ends the line at i (or
// the end of src).
func lineEnd(src string, i int) int {
	if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(src)
}

// bicepToken is one token, with its line and source span.
type bicepToken struct {
	kind     bicepTokKind
	text     string
	line     int
	off, end int // byte offsets in the source
}

// bicepError is where and why a Bicep file could not be read.
type bicepError struct {
	line int
	msg  string
}

func (e *bicepError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// bicepPuncts are Bicep's operators, longest first.
var bicepPuncts = []string{"...", "??", "==", "!=", "=~", "!~", "<=", ">=", "&&", "||", "=>", "::",
	"{", "}", "[", "]", "(", ")", ",", ":", ".", "?", "!", "=", "<", ">", "+", "-", "*", "/", "%", "@", "|", ";"}

// lexBicep cuts a Bicep file into tokens; comments and directives
// (#disable-next-line) are left out.
func lexBicep(src string) ([]bicepToken, error) {
	var toks []bicepToken
	line := 1
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			toks = append(toks, bicepToken{kind: bNL, line: line, off: i, end: i + 1})
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(src[i:], "//"),
			// a directive (#disable-next-line) at a line's start
			c == '#' && (len(toks) == 0 || toks[len(toks)-1].kind == bNL):
			i = lineEnd(src, i)
		case strings.HasPrefix(src[i:], "/*"):
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				return nil, &bicepError{line, "an unterminated comment"}
			}
			line += strings.Count(src[i:i+2+j+2], "\n")
			i += 2 + j + 2
		case strings.HasPrefix(src[i:], "'''"):
			j := strings.Index(src[i+3:], "'''")
			if j < 0 {
				return nil, &bicepError{line, "an unterminated multi-line string"}
			}
			body := src[i+3 : i+3+j]
			// The closing quotes may be followed by more quotes that belong to the string.
			end := i + 3 + j + 3
			for end < len(src) && src[end] == '\'' {
				body += "'"
				end++
			}
			body = strings.TrimPrefix(strings.TrimPrefix(body, "\r"), "\n")
			toks = append(toks, bicepToken{kind: bMulti, text: body, line: line, off: i, end: end})
			line += strings.Count(src[i:end], "\n")
			i = end
		case c == '\'':
			start, startLine := i, line
			var b strings.Builder
			interp := false
			i++
			for {
				if i >= len(src) || src[i] == '\n' {
					return nil, &bicepError{startLine, "an unterminated string"}
				}
				if src[i] == '\\' && i+1 < len(src) {
					switch src[i+1] {
					case 'n':
						b.WriteByte('\n')
					case 'r':
						b.WriteByte('\r')
					case 't':
						b.WriteByte('\t')
					case 'u':
						// \u{...}
						k := strings.IndexByte(src[i:], '}')
						if k < 3 {
							return nil, &bicepError{line, "a bad escape"}
						}
						var r rune
						fmt.Sscanf(src[i+3:i+k], "%x", &r)
						b.WriteRune(r)
						i += k + 1
						continue
					default:
						b.WriteByte(src[i+1])
					}
					i += 2
					continue
				}
				if strings.HasPrefix(src[i:], "${") {
					interp = true
					// Skip the expression, balancing braces and nested strings.
					depth := 0
					i += 2
					for i < len(src) {
						if src[i] == '\'' {
							// a nested string
							i++
							for i < len(src) && src[i] != '\'' {
								if src[i] == '\\' {
									i++
								}
								i++
							}
							i++
							continue
						}
						if src[i] == '{' {
							depth++
						} else if src[i] == '}' {
							if depth == 0 {
								break
							}
							depth--
						} else if src[i] == '\n' {
							line++
						}
						i++
					}
					i++
					continue
				}
				if src[i] == '\'' {
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			if interp {
				toks = append(toks, bicepToken{kind: bInterp, text: src[start:i], line: startLine, off: start, end: i})
			} else {
				toks = append(toks, bicepToken{kind: bString, text: b.String(), line: startLine, off: start, end: i})
			}
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			toks = append(toks, bicepToken{kind: bNumber, text: src[i:j], line: line, off: i, end: j})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '$':
			j := i + 1
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, bicepToken{kind: bIdent, text: src[i:j], line: line, off: i, end: j})
			i = j
		default:
			ok := false
			for _, p := range bicepPuncts {
				if strings.HasPrefix(src[i:], p) {
					toks = append(toks, bicepToken{kind: bPunct, text: p, line: line, off: i, end: i + len(p)})
					i += len(p)
					ok = true
					break
				}
			}
			if !ok {
				return nil, &bicepError{line, fmt.Sprintf("an unexpected character %q", c)}
			}
		}
	}
	toks = append(toks, bicepToken{kind: bEOF, line: line, off: len(src), end: len(src)})
	return toks, nil
}

// bicepKind is what a value is to the compiled template: an expression
// (anything Trivy cannot see into) or a literal.
type bicepKind int

const (
	bExpr bicepKind = iota
	bStr
	bNum
	bBool
	bObject
	bArray
)

// bicepValue is a value with the line it starts on and its source span.
type bicepValue struct {
	kind     bicepKind
	s        string
	n        float64
	b        bool
	props    []bicepProp
	items    []bicepValue
	line     int
	endLine  int // of an object's or array's closing bracket
	off, end int
}

// bicepProp is an object's property.
type bicepProp struct {
	key  string
	line int
	v    bicepValue
}

// bicepResource is one resource a Bicep file declares, as its compiled ARM
// template holds it.
type bicepResource struct {
	typ, apiVersion string
	line            int
	body            bicepValue
	existing        bool
	child           bool // nested in, or with the parent property of, another resource
}

// bicepParser reads tokens by recursive descent; a statement it cannot
// read stops with a panic of *bicepError that statement recovers.
type bicepParser struct {
	toks  []bicepToken
	pos   int
	res   []bicepResource
	errs  []error
	depth int
}

func (p *bicepParser) peek() bicepToken { return p.toks[p.pos] }
func (p *bicepParser) next() bicepToken {
	t := p.toks[p.pos]
	if t.kind != bEOF {
		p.pos++
	}
	return t
}
func (p *bicepParser) is(text string) bool {
	t := p.peek()
	return t.kind == bPunct && t.text == text
}
func (p *bicepParser) isIdent(text string) bool {
	t := p.peek()
	return t.kind == bIdent && t.text == text
}
func (p *bicepParser) skipNL() {
	for p.peek().kind == bNL {
		p.pos++
	}
}

func (p *bicepParser) fail(msg string) {
	t := p.peek()
	what := t.text
	if t.kind == bNL {
		what = "a line break"
	} else if t.kind == bEOF {
		what = "the end of the file"
	}
	panic(&bicepError{t.line, fmt.Sprintf("%s, found %s", msg, what)})
}

func (p *bicepParser) expect(text string) bicepToken {
	if !p.is(text) {
		p.fail("expected " + text)
	}
	return p.next()
}

// readBicep reads the resources of a Bicep file, and the statements it
// could not read (left out).
func readBicep(src []byte) (res []bicepResource, errs []error) {
	defer func() {
		// A fault of the reader's own is this file's, not the scan's.
		if r := recover(); r != nil {
			res, errs = nil, []error{fmt.Errorf("the Bicep reader failed: %v", r)}
		}
	}()
	toks, err := lexBicep(string(src))
	if err != nil {
		return nil, []error{err}
	}
	p := &bicepParser{toks: toks}
	for {
		p.skipNL()
		if p.peek().kind == bEOF {
			break
		}
		p.statement()
	}
	return p.res, p.errs
}

// statement reads one top-level statement: a resource fully, any other
// declaration (param, var, module, output, type, func, import...) skipped.
func (p *bicepParser) statement() {
	start, had := p.pos, len(p.res)
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*bicepError)
			if !ok {
				panic(r)
			}
			p.errs = append(p.errs, pe)
			p.res = p.res[:had] // none of a statement that was not read
			p.pos = start
			p.skipStatement()
		}
	}()
	p.decorators()
	if p.isIdent("resource") {
		p.resourceDecl("", "")
		return
	}
	p.skipStatement()
}

// decorators skips the decorators (@description(...)) of what follows.
func (p *bicepParser) decorators() {
	for p.is("@") {
		p.next()
		p.expr()
		p.skipNL()
	}
}

// skipStatement skips to the end of a statement: a line break outside
// brackets that no continuation follows.
func (p *bicepParser) skipStatement() {
	depth := 0
	first := true
	for {
		t := p.peek()
		switch {
		case t.kind == bEOF:
			return
		case t.kind == bNL && depth == 0 && !first:
			save := p.pos
			p.skipNL()
			if n := p.peek(); n.kind == bPunct && bicepContinues(n.text) {
				continue
			}
			p.pos = save
			return
		case t.kind == bPunct && (t.text == "{" || t.text == "[" || t.text == "("):
			depth++
		case t.kind == bPunct && (t.text == "}" || t.text == "]" || t.text == ")"):
			depth--
		}
		first = false
		p.next()
	}
}

// bicepContinues tells whether a line that starts with s continues the
// expression of the line before (a ternary or an operator chain written
// over several lines).
func bicepContinues(s string) bool {
	switch s {
	case "?", ":", "??", "||", "&&", ".", "|":
		return true
	}
	return false
}

// resourceDecl reads "resource NAME 'TYPE@VERSION' [existing] = VALUE" and
// any resources nested in its body.
func (p *bicepParser) resourceDecl(parentType, parentAPI string) {
	kw := p.next() // resource
	if name := p.next(); name.kind != bIdent {
		p.pos--
		p.fail("expected the resource's name")
	}
	tt := p.next()
	if tt.kind != bString {
		p.pos--
		p.fail("expected the resource's type")
	}
	typ, api, _ := strings.Cut(tt.text, "@")
	r := bicepResource{typ: typ, apiVersion: api, line: kw.line}
	if parentType != "" {
		// A nested resource's type is relative, its version the parent's
		// unless it gives one.
		r.typ, r.child = parentType+"/"+typ, true
		if api == "" {
			r.apiVersion = parentAPI
		}
	}
	if p.isIdent("existing") {
		p.next()
		r.existing = true
	}
	p.expect("=")
	i := len(p.res)
	p.res = append(p.res, r)
	body := p.resourceBody(r.typ, r.apiVersion)
	p.res[i].body = body
	for _, pr := range body.props {
		if pr.key == "parent" {
			p.res[i].child = true
		}
	}
}

// resourceBody reads an object, "if (COND) OBJECT" or "[for ...: BODY]".
func (p *bicepParser) resourceBody(typ, api string) bicepValue {
	switch {
	case p.is("{"):
		return p.object(typ, api)
	case p.isIdent("if"):
		p.condition()
		return p.object(typ, api)
	case p.is("["):
		p.next()
		p.skipNL()
		if !p.isIdent("for") {
			p.fail("expected for")
		}
		p.forHead()
		p.skipNL()
		v := p.resourceBody(typ, api)
		p.skipNL()
		p.expect("]")
		return v
	}
	p.fail("expected the resource's body")
	return bicepValue{}
}

// condition reads "if (EXPR)".
func (p *bicepParser) condition() {
	p.next()
	p.expect("(")
	p.exprThen(")")
}

// exprThen reads an expression and the closing bracket after it (line
// breaks allowed around it).
func (p *bicepParser) exprThen(close string) bicepToken {
	p.skipNL()
	p.expr()
	p.skipNL()
	return p.expect(close)
}

// forHead reads "for ITEM in EXPR:" (ITEM: a name or "(item, index)").
func (p *bicepParser) forHead() {
	p.next() // for
	if p.is("(") {
		p.next()
		for !p.is(")") {
			if p.peek().kind == bEOF {
				p.fail("expected )")
			}
			p.next()
		}
		p.next()
	} else {
		p.next()
	}
	if !p.isIdent("in") {
		p.fail("expected in")
	}
	p.next()
	p.expr()
	p.skipNL()
	p.expect(":")
}

// object reads "{ ... }": properties separated by line breaks or commas;
// in a resource's body (typ set), nested resource declarations too.
func (p *bicepParser) object(typ, api string) bicepValue {
	open := p.expect("{")
	v := bicepValue{kind: bObject, line: open.line, off: open.off}
	expr := false
	for {
		p.skipNL()
		if p.is("}") {
			break
		}
		p.decorators()
		if typ != "" && p.isIdent("resource") && p.toks[p.pos+1].kind == bIdent {
			p.resourceDecl(typ, api)
			continue
		}
		if p.is("...") {
			p.next()
			p.expr()
			expr = true
		} else {
			kt := p.next()
			var key string
			switch kt.kind {
			case bIdent, bString:
				key = kt.text
			case bInterp:
				key = kt.text
				expr = true
			default:
				p.pos--
				p.fail("expected a property name")
			}
			p.expect(":")
			p.skipNL()
			val := p.expr()
			v.props = append(v.props, bicepProp{key: key, line: kt.line, v: val})
		}
		p.separator("}")
	}
	return p.closed(v, expr)
}

// separator reads what ends an item of an object or array: a comma, a
// line break, or (left for the caller) the closing bracket.
func (p *bicepParser) separator(close string) {
	if p.is(",") {
		p.next()
		return
	}
	if p.peek().kind != bNL && !p.is(close) {
		p.fail("expected a line break or " + close)
	}
}

// closed reads an object's or array's closing bracket into v; one with a
// spread in it is an expression.
func (p *bicepParser) closed(v bicepValue, expr bool) bicepValue {
	cl := p.next()
	v.end, v.endLine = cl.end, cl.line
	if expr {
		return bicepValue{kind: bExpr, line: v.line, off: v.off, end: v.end}
	}
	return v
}

// array reads "[ ... ]", or a loop "[for ...: BODY]" (an expression).
func (p *bicepParser) array() bicepValue {
	open := p.expect("[")
	v := bicepValue{kind: bArray, line: open.line, off: open.off}
	p.skipNL()
	if p.isIdent("for") {
		p.forHead()
		p.skipNL()
		if p.isIdent("if") {
			p.condition()
		}
		cl := p.exprThen("]")
		return bicepValue{kind: bExpr, line: open.line, off: open.off, end: cl.end}
	}
	expr := false
	for {
		p.skipNL()
		if p.is("]") {
			break
		}
		if p.is("...") {
			p.next()
			expr = true
		}
		v.items = append(v.items, p.expr())
		p.separator("]")
	}
	return p.closed(v, expr)
}

// bicepPrec are the binary operators by precedence (higher binds tighter);
// the ternary ?: binds loosest.
var bicepPrec = map[string]int{"??": 1, "||": 2, "&&": 3, "==": 4, "!=": 4, "=~": 4, "!~": 4, "<": 5, "<=": 5, ">": 5, ">=": 5, "+": 6, "-": 6, "*": 7, "/": 7, "%": 7}

// maxBicepDepth bounds how deep expressions nest (objects and arrays are
// expressions), so that a hostile file cannot exhaust the stack.
const maxBicepDepth = 200

// expr reads an expression: a literal keeps its value, anything else is
// an expression with its source span.
func (p *bicepParser) expr() bicepValue {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxBicepDepth {
		p.fail("an expression nested too deep")
	}
	start := p.peek()
	c := p.binary(1)
	if p.contOp("?") {
		p.next()
		p.skipNL()
		p.expr()
		p.skipNL()
		p.expect(":")
		p.skipNL()
		e := p.expr()
		return bicepValue{kind: bExpr, line: start.line, off: start.off, end: e.end}
	}
	return c
}

// contOp tells whether the next bicepToken, on this line or as a continuation
// line, is op; it moves past the line breaks only if so.
func (p *bicepParser) contOp(op string) bool {
	if p.is(op) {
		return true
	}
	if p.peek().kind != bNL {
		return false
	}
	save := p.pos
	p.skipNL()
	if p.is(op) {
		return true
	}
	p.pos = save
	return false
}

// binary reads operands joined by operators of precedence min or higher.
func (p *bicepParser) binary(min int) bicepValue {
	start := p.peek()
	left := p.unary()
	for {
		t := p.peek()
		if t.kind != bPunct {
			if t.kind == bNL {
				save := p.pos
				p.skipNL()
				n := p.peek()
				if n.kind == bPunct && (n.text == "??" || n.text == "||" || n.text == "&&") && bicepPrec[n.text] >= min {
					continue
				}
				p.pos = save
			}
			return left
		}
		prec, ok := bicepPrec[t.text]
		if !ok || prec < min {
			return left
		}
		p.next()
		p.skipNL()
		right := p.binary(prec + 1)
		left = bicepValue{kind: bExpr, line: start.line, off: start.off, end: right.end}
	}
}

// unary reads !x, -x, +x (a negative number stays a literal).
func (p *bicepParser) unary() bicepValue {
	t := p.peek()
	if t.kind == bPunct && (t.text == "!" || t.text == "-" || t.text == "+") {
		p.next()
		v := p.unary()
		if t.text == "-" && v.kind == bNum {
			v.n = -v.n
			v.off = t.off
			return v
		}
		return bicepValue{kind: bExpr, line: t.line, off: t.off, end: v.end}
	}
	return p.postfix()
}

// postfix reads member access (.name, .?name, ::name), indexing (x[i],
// x[?i]), calls and the non-null assertion (x!).
func (p *bicepParser) postfix() bicepValue {
	v := p.primary()
	for {
		switch {
		case p.is(".") || p.contOp("."):
			p.next()
			if p.is("?") {
				p.next()
			}
			id := p.next()
			if id.kind != bIdent {
				p.pos--
				p.fail("expected a name after .")
			}
			v = bicepValue{kind: bExpr, line: v.line, off: v.off, end: id.end}
		case p.is("::"):
			p.next()
			id := p.next()
			v = bicepValue{kind: bExpr, line: v.line, off: v.off, end: id.end}
		case p.is("["):
			p.next()
			if p.is("?") {
				p.next()
			}
			cl := p.exprThen("]")
			v = bicepValue{kind: bExpr, line: v.line, off: v.off, end: cl.end}
		case p.is("("):
			p.next()
			for {
				p.skipNL()
				if p.is(")") {
					break
				}
				p.expr()
				p.skipNL()
				if p.is(",") {
					p.next()
					continue
				}
				if !p.is(")") {
					p.fail("expected , or )")
				}
			}
			cl := p.next()
			v = bicepValue{kind: bExpr, line: v.line, off: v.off, end: cl.end}
		case p.is("!"):
			t := p.next()
			v = bicepValue{kind: bExpr, line: v.line, off: v.off, end: t.end}
		default:
			return v
		}
	}
}

// primary reads a literal, a name, a lambda, a parenthesized expression,
// an object or an array.
func (p *bicepParser) primary() bicepValue {
	t := p.peek()
	switch t.kind {
	case bString, bMulti:
		p.next()
		return bicepValue{kind: bStr, s: t.text, line: t.line, off: t.off, end: t.end}
	case bInterp:
		p.next()
		return bicepValue{kind: bExpr, line: t.line, off: t.off, end: t.end}
	case bNumber:
		p.next()
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return bicepValue{kind: bExpr, line: t.line, off: t.off, end: t.end}
		}
		return bicepValue{kind: bNum, n: n, line: t.line, off: t.off, end: t.end}
	case bIdent:
		p.next()
		switch t.text {
		case "true", "false":
			return bicepValue{kind: bBool, b: t.text == "true", line: t.line, off: t.off, end: t.end}
		}
		if p.is("=>") {
			p.next()
			p.skipNL()
			e := p.expr()
			return bicepValue{kind: bExpr, line: t.line, off: t.off, end: e.end}
		}
		return bicepValue{kind: bExpr, line: t.line, off: t.off, end: t.end}
	case bPunct:
		switch t.text {
		case "{":
			return p.object("", "")
		case "[":
			return p.array()
		case "(":
			// a lambda's parameters, or a parenthesized expression
			save := p.pos
			p.next()
			for p.peek().kind == bIdent || p.is(",") {
				p.next()
			}
			if p.is(")") && p.toks[p.pos+1].kind == bPunct && p.toks[p.pos+1].text == "=>" {
				p.next()
				p.next()
				p.skipNL()
				e := p.expr()
				return bicepValue{kind: bExpr, line: t.line, off: t.off, end: e.end}
			}
			p.pos = save
			p.next()
			p.skipNL()
			v := p.expr()
			p.skipNL()
			cl := p.expect(")")
			if v.kind == bExpr {
				v.off, v.end = t.off, cl.end
			}
			return v
		}
	}
	p.fail("expected a value")
	return bicepValue{}
}
