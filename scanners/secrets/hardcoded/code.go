package hardcoded

import "strings"

// token kinds of the line lexer.
const (
	tIdent = iota + 1
	tString
	tNumber
	tOp
)

// tok is one token of a source line.
type tok struct {
	kind   int
	s, e   int // span of the token in the line
	vs, ve int // inside of a string
	text   string
	interp bool // f"{x}", $"{x}": an interpolated string (without a hole it is a constant)
}

// stringPrefixes may stand right before a quote without being identifiers.
var stringPrefixes = map[string]bool{
	"r": true, "b": true, "u": true, "rb": true, "br": true, "R": true, "B": true,
	"U": true, "L": true, "u8": true, "@": true, "f": true, "F": true, "fr": true,
	"rf": true, "$": true, "$@": true, "@$": true,
}

// lexLine splits a source line into identifiers, string literals, numbers
// and operators. It is deliberately forgiving: an unterminated quote (an
// apostrophe in a comment) becomes an operator and lexing goes on.
func lexLine(line []byte) []tok {
	var toks []tok
	n := len(line)
	for i := 0; i < n; {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < n && line[j] != c {
				if line[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= n {
				toks = append(toks, tok{kind: tOp, s: i, e: i + 1, text: string(c)})
				i++
				continue
			}
			t := tok{kind: tString, s: i, e: j + 1, vs: i + 1, ve: j, text: string(line[i+1 : j])}
			if k := len(toks) - 1; k >= 0 && toks[k].kind == tIdent && toks[k].e == i && stringPrefixes[toks[k].text] {
				t.interp = strings.ContainsAny(toks[k].text, "fF$") && strings.IndexByte(t.text, '{') >= 0
				t.s = toks[k].s
				toks = toks[:k]
			}
			toks = append(toks, t)
			i = j + 1
		case isIdentStart(c):
			j := i + 1
			for j < n && isIdentChar(line[j]) {
				j++
			}
			toks = append(toks, tok{kind: tIdent, s: i, e: j, text: string(line[i:j])})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < n && (isIdentChar(line[j]) || line[j] == '.') {
				j++
			}
			toks = append(toks, tok{kind: tNumber, s: i, e: j})
			i = j
		default:
			l := 1
			for _, op := range []string{"===", "!==", "??=", "||=", "==", "!=", ":=", "=>", "->", "::", "?.", "+=", "<=", ">="} {
				if strings.HasPrefix(string(line[i:min(n, i+3)]), op) {
					l = len(op)
					break
				}
			}
			toks = append(toks, tok{kind: tOp, s: i, e: i + l, text: string(line[i : i+l])})
			i += l
		}
	}
	return toks
}

func isIdentStart(c byte) bool {
	return isLetter(c) || c == '_' || c == '$' || c == '@'
}

func isIdentChar(c byte) bool {
	return isLetter(c) || c == '_' || c == '$' || c >= '0' && c <= '9'
}

// pairFuncs take a credential name and its value as their first two
// arguments: define('DB_PASSWORD', 'x'), props.put("password", "x"),
// os.Setenv("API_TOKEN", "x"), localStorage.setItem("token", "x").
var pairFuncs = map[string]bool{
	"define": true, "put": true, "set": true, "setproperty": true, "setenv": true,
	"putenv": true, "setenvironmentvariable": true, "setheader": true, "header": true,
	"add": true, "addheader": true, "append": true, "setdefault": true, "setitem": true,
	"put_env": true, "setattr": true, "withcredentials": true, "setparameter": true,
	"addparameter": true, "setsecret": true, "config": true, "setconfig": true,
}

// equalsFuncs compare a receiver with their argument: password.equals("x").
var equalsFuncs = map[string]bool{
	"equals": true, "equalsignorecase": true, "compare": true, "eq": true,
}

// codeLine finds string literals assigned to, compared with, or passed
// under a credential-named key: password = "x", PASSWORD := "x",
// $db_pass = 'x', { password: "x" }, 'PASSWORD': 'x', "password" => "x",
// login(password="x"), setPassword("x"), define('DB_PASSWORD', 'x').
//
// Comparisons (if password == "x", password.equals("x")) are reported, as
// CredScan does: a literal a credential is checked against is a credential
// written into the code (often a backdoor or a default).
func (s *scanner) codeLine(no int, line []byte) {
	s.codeToks(no, line, lexLine(line))
}

// codeToks is codeLine on a line already lexed.
func (s *scanner) codeToks(no int, line []byte, toks []tok) {
	for i, t := range toks {
		if t.kind != tString || i == 0 || t.interp || t.ve <= t.vs {
			continue
		}
		// The operand is toks[a..b]: the literal, or the format call
		// that only wraps it ("{}".format("x")).
		a, b := i, i
		if formatArg(toks, i) {
			a, b = i-4, i+1
		}
		key := ""
		if a > 0 {
			key = codeKey(toks, a)
		}
		reversed := false
		if key == "" {
			// "x" == password, "x" != PASSWORD: the literal on the left.
			if key = keyAfter(toks, b); key == "" {
				continue
			}
			reversed = true
		}
		class := classifyKey(key)
		if class == "" {
			continue
		}
		if !reversed && b+1 < len(toks) && toks[b+1].kind == tOp {
			switch toks[b+1].text {
			case "+", "%", "[", "..":
				continue // concatenation, formatting, indexing: not the whole value
			case ".":
				// PHP concatenation, or a method on the literal; allow
				// the conversions that keep the literal whole.
				if b+2 >= len(toks) || !literalMethods[strings.ToLower(toks[b+2].text)] {
					continue
				}
			}
		}
		vs, ve := t.vs, t.ve
		if (reversed || a > 0 && isComparison(toks, a)) && lowerWord(line[vs:ve]) {
			continue // if token == "func": a lexer keyword, not a password
		}
		s.emitCredential(no, line, vs, ve, strings.TrimLeft(key, "$@:"), class)
	}
}

// formatArg reports a literal that is the only argument of str.format on
// a template that is one replacement field ("{}".format("x"),
// "{0}".format("x")): the formatted value is the literal itself. A
// template with text of its own, or an argument that is not a literal,
// makes a value the code computes, which is not reported.
func formatArg(toks []tok, i int) bool {
	if i < 4 || i+1 >= len(toks) || toks[i-1].text != "(" || toks[i-2].text != "format" ||
		toks[i-3].text != "." || toks[i-4].kind != tString || toks[i+1].text != ")" {
		return false
	}
	f := toks[i-4].text
	return len(f) >= 2 && f[0] == '{' && f[len(f)-1] == '}' && !strings.ContainsAny(f[1:len(f)-1], "{}")
}

// literalMethods keep a literal whole: "x".encode(), "x".toCharArray().
var literalMethods = map[string]bool{
	"encode": true, "getbytes": true, "tochararray": true, "strip": true,
	"trim": true, "as_bytes": true, "to_string": true, "into": true, "to_owned": true,
	"freeze": true, "bytes": true,
}

// emitCredential records the literal at line[vs:ve] bound to the
// credential key; an Authorization value loses its scheme ("Bearer "), so
// that the match is the credential itself, and a signed request's header
// (OAuth, Digest, AWS4-HMAC-SHA256) is not one: its signature and nonce
// serve once.
func (s *scanner) emitCredential(no int, line []byte, vs, ve int, key, class string) {
	if class == classToken && strings.EqualFold(key, "authorization") {
		v := strings.ToLower(string(line[vs:ve]))
		for _, p := range []string{"bearer ", "basic ", "token ", "bot "} {
			if strings.HasPrefix(v, p) {
				vs += len(p)
				break
			}
		}
		for _, p := range []string{"oauth ", "digest ", "aws4-hmac-sha256 ", "signature ", "hawk "} {
			if strings.HasPrefix(v, p) {
				return
			}
		}
	}
	s.emit(no, line, vs, ve, key, class, prioKey)
}

// keyAfter returns the name a string literal at toks[i] is compared with
// when the literal comes first ("x" == password), or "". The name is the
// whole operand: "x" == password.strip() is not one.
func keyAfter(toks []tok, i int) string {
	if i+2 >= len(toks) || toks[i+1].kind != tOp || toks[i+2].kind != tIdent {
		return ""
	}
	switch toks[i+1].text {
	case "==", "===", "!=", "!==":
	default:
		return ""
	}
	// this.adminPassword, cfg.db.password: the last name of the chain.
	j := i + 2
	for j+2 < len(toks) && toks[j+1].text == "." && toks[j+2].kind == tIdent {
		j += 2
	}
	if j+1 < len(toks) && (toks[j+1].text == "(" || toks[j+1].text == "[" || toks[j+1].text == ".") {
		return "" // a call, an index: not the variable itself
	}
	return toks[j].text
}

// codeKey returns the name a string literal at toks[i] is bound to, or "".
func codeKey(toks []tok, i int) string {
	op := toks[i-1]
	if op.kind != tOp {
		return ""
	}
	switch op.text {
	case "=", ":=", "==", "===", "!=", "!==", "??=", "||=", ":", "=>", "<-":
		return keyBefore(toks, i-1)
	case ",":
		// define('KEY', 'value') and friends.
		if i >= 4 && toks[i-2].kind == tString && toks[i-3].text == "(" && toks[i-4].kind == tIdent &&
			pairFuncs[strings.ToLower(toks[i-4].text)] {
			return unquote(toks[i-2])
		}
	case "(":
		if i < 2 || toks[i-2].kind != tIdent {
			return ""
		}
		fn := toks[i-2].text
		lf := strings.ToLower(fn)
		// setPassword("x"), withApiKey("x"), set_password("x").
		for _, p := range []string{"set_", "set", "with_", "with"} {
			if strings.HasPrefix(lf, p) && len(fn) > len(p) {
				rest := fn[len(p):]
				if p == "set" || p == "with" {
					if rest[0] < 'A' || rest[0] > 'Z' {
						continue // settings(), without(): not a setter
					}
				}
				return rest
			}
		}
		// password.equals("x")
		if equalsFuncs[lf] && i >= 4 && toks[i-3].text == "." && toks[i-4].kind == tIdent {
			return toks[i-4].text
		}
	}
	return ""
}

// keyBefore returns the key left of the operator at toks[j].
func keyBefore(toks []tok, j int) string {
	k := j - 1
	if k < 0 {
		return ""
	}
	t := toks[k]
	switch t.kind {
	case tString:
		// 'PASSWORD': 'x', "password" => "x", "password" = "x" (TOML)
		return unquote(t)
	case tIdent:
		if toks[j].text != "=" && toks[j].text != ":=" {
			return t.text
		}
		// TypeScript / Python annotations: password: string = "x".
		if k >= 2 && toks[k-1].text == ":" && toks[k-2].kind == tIdent {
			if classifyKey(toks[k-2].text) != "" {
				return toks[k-2].text
			}
		}
		// Two identifiers before "=": Java's String password = "x" names
		// the variable second; Go's var password string = "x" and its
		// typed constants (ModeToken TokenMode = "full") name it first.
		if k >= 1 && toks[k-1].kind == tIdent && !typeWords[toks[k-1].text] {
			return toks[k-1].text
		}
		return t.text
	case tOp:
		switch t.text {
		case "}":
			// C#: public string Password { get; set; } = "x";
			for b := k - 1; b > 0 && b >= k-8; b-- {
				if toks[b].text == "{" {
					if toks[b-1].kind == tIdent {
						return toks[b-1].text
					}
					break
				}
			}
		case "]":
			// config["password"] = "x"; char password[] = "x".
			if k >= 2 && toks[k-1].kind == tString && toks[k-2].text == "[" {
				return unquote(toks[k-1])
			}
			if k >= 2 && toks[k-1].text == "[" && toks[k-2].kind == tIdent {
				return toks[k-2].text
			}
		}
	}
	return ""
}

// typeWords are the keywords and types that precede a variable name.
var typeWords = map[string]bool{
	"var": true, "let": true, "const": true, "val": true, "final": true, "static": true,
	"public": true, "private": true, "protected": true, "internal": true, "readonly": true,
	"String": true, "string": true, "str": true, "char": true, "auto": true, "byte": true,
	"bytes": true, "volatile": true, "def": true, "local": true, "export": true,
	"declare": true, "my": true, "our": true, "Dim": true, "dim": true,
	"CharSequence": true, "Object": true, "object": true, "dynamic": true, "SecureString": true,
	"secret": true, "global": true, "fileprivate": true, "lazy": true, "mut": true,
	"override": true, "open": true, "new": true, "unsigned": true, "wchar_t": true,
	"NSString": true, "int": true, "long": true, "Integer": true, "Any": true,
	// SQL: UPDATE users SET password = '...' AND token = '...'.
	"SET": true, "set": true, "AND": true, "and": true, "OR": true, "or": true,
	"WHERE": true, "where": true,
}

// unquote returns the inside of a string token's text.
func unquote(t tok) string {
	return t.text
}

// isComparison reports a literal compared with the key (==, !=, equals()).
func isComparison(toks []tok, i int) bool {
	switch toks[i-1].text {
	case "==", "===", "!=", "!==":
		return true
	case "(":
		return i >= 2 && equalsFuncs[strings.ToLower(toks[i-2].text)]
	}
	return false
}

// lowerWord reports a value of lowercase letters only.
func lowerWord(v []byte) bool {
	for _, c := range v {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
