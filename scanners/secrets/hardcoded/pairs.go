package hardcoded

import (
	"bytes"
	"regexp"
	"strings"
)

// pairValueKey maps the key that names a credential in a key/value pair
// list to the key of its value: Kubernetes, ECS and CI env lists
// (name/value), settings lists and Postman auth (key/value),
// CloudFormation parameters (ParameterKey/ParameterValue), Elastic
// Beanstalk option settings (OptionName/Value, option_name/value), Ansible
// and Helm name/value lists, Terraform's Helm set blocks. The same table
// serves YAML and the object formats (JSON, TOML, HCL).
var pairValueKey = map[string]string{
	"name": "value", "Name": "Value", "key": "value", "Key": "Value",
	"ParameterKey": "ParameterValue", "OptionName": "Value", "option_name": "value",
}

// valueKeyAt returns the offset after "vk:" (or "vk =", or "\"vk\":") at
// the start of text, or -1. seps are the separators the format allows; an
// unquoted key before ':' needs a blank or the line end after it, as a
// YAML mapping key does.
func valueKeyAt(text []byte, vk, seps string) int {
	i := 0
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	var q byte
	if i < len(text) && (text[i] == '"' || text[i] == '\'') {
		q = text[i]
		i++
	}
	if !bytes.HasPrefix(text[i:], []byte(vk)) {
		return -1
	}
	i += len(vk)
	if q != 0 {
		if i >= len(text) || text[i] != q {
			return -1
		}
		i++
	}
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	if i >= len(text) || strings.IndexByte(seps, text[i]) < 0 {
		return -1
	}
	if q == 0 && text[i] == ':' && i+1 < len(text) && text[i+1] != ' ' && text[i+1] != '\t' {
		return -1
	}
	return i + 1
}

// listClass is the credential class of a key whose value is a list of
// credentials (passwords, tokens, secrets, or the singular), or "".
func listClass(key string) string {
	return classifyKey(strings.TrimSuffix(strings.TrimSuffix(key, "s"), "S"))
}

// structLine handles a JSON, TOML or HCL line: what codeLine finds, the
// pairs of pairValueKey written as objects, inline tables or blocks
// ({"name": "DB_PASSWORD", "value": "x"}, [[credentials]] name = / value =,
// Helm set { name = / value = }), and the string items of a list under a
// credential key ("passwords": ["x", "y"], passwords = [ ... ]).
func (s *scanner) structLine(no, start int, line []byte) {
	toks := lexLine(line)
	s.codeToks(no, line, toks)
	for i := 0; i+2 < len(toks); i++ {
		k := toks[i]
		if k.kind != tString && k.kind != tIdent || !isPairSep(toks[i+1]) {
			continue
		}
		switch v := toks[i+2]; {
		case v.kind == tString && pairValueKey[k.text] != "":
			s.structPair(no, start, line, toks, i)
		case v.kind == tOp && v.text == "[":
			s.structList(no, start, line, toks, i)
		}
	}
}

// isPairSep reports the separator of a JSON member or a TOML/HCL
// assignment.
func isPairSep(t tok) bool {
	return t.kind == tOp && (t.text == ":" || t.text == "=")
}

// isObjectEdge reports a brace, where an object or block starts or ends.
func isObjectEdge(t tok) bool {
	return t.kind == tOp && (t.text == "{" || t.text == "}")
}

// structPair reports the value of the pair whose naming member is at
// toks[i] (toks[i+2] the credential's name): in the same object on this
// line, after or before the name, or on one of the next lines of the
// object when it spans several.
func (s *scanner) structPair(no, start int, line []byte, toks []tok, i int) {
	name := toks[i+2].text
	class := classifyKey(name)
	if class == "" {
		return
	}
	vk := pairValueKey[toks[i].text]
	isValue := func(j int) bool {
		return (toks[j].kind == tString || toks[j].kind == tIdent) && toks[j].text == vk &&
			isPairSep(toks[j+1]) && toks[j+2].kind == tString
	}
	j := i + 3
	for ; j < len(toks) && !isObjectEdge(toks[j]); j++ {
		if j+2 < len(toks) && isValue(j) {
			s.emitCredential(no, line, toks[j+2].vs, toks[j+2].ve, name, class)
			return
		}
	}
	for b := i - 1; b >= 2 && !isObjectEdge(toks[b]); b-- {
		if isValue(b - 2) {
			s.emitCredential(no, line, toks[b].vs, toks[b].ve, name, class)
			return
		}
	}
	if j < len(toks) {
		return // the object ends on this line without a value, or another opens
	}
	comments := "#"
	if s.kind.format == fmtJSON {
		comments = ""
	}
	for _, l := range s.following(no, start, 3) {
		t := bytes.TrimSpace(l.text)
		if len(t) > 0 && strings.IndexByte("{}[]", t[0]) >= 0 {
			return // the object, table or block ends
		}
		at := valueKeyAt(l.text, vk, ":=")
		if at < 0 {
			continue
		}
		if vs, ve, quoted, ok := scalar(l.text, at, comments); ok && quoted && ve > vs {
			s.emitCredential(l.no, l.text, vs, ve, name, class)
		}
		return
	}
}

// structList reports the string items of the list whose key is at toks[i]
// (toks[i+2] the opening bracket), on this line and, while the list is
// open, the next ones. A list holding anything but strings (objects,
// numbers, references) is not a list of credentials.
func (s *scanner) structList(no, start int, line []byte, toks []tok, i int) {
	key := toks[i].text
	class := listClass(key)
	if class == "" {
		return
	}
	if s.listItems(no, line, toks[i+3:], key, class) {
		return
	}
	for _, l := range s.following(no, start, 50) {
		if s.listItems(l.no, l.text, lexLine(l.text), key, class) {
			return
		}
	}
}

// listItems reports the string items of one line of a list, when the line
// holds only strings and commas (up to a closing bracket or a comment);
// done is true when the list ends or is not a list of plain strings.
func (s *scanner) listItems(no int, line []byte, toks []tok, key, class string) (done bool) {
	var items []tok
loop:
	for _, t := range toks {
		switch {
		case t.kind == tString && !t.interp:
			items = append(items, t)
		case t.kind == tOp && t.text == ",":
		case t.kind == tOp && t.text == "]":
			done = true
			break loop
		case t.kind == tOp && (t.text == "#" || t.text == "/"):
			break loop // a comment: the rest of the line
		default:
			return true
		}
	}
	for _, t := range items {
		s.emitItem(no, line, t.vs, t.ve, key, class)
	}
	return done
}

// emitItem records a list item under a credential key. Under tokens,
// secrets or keys, an item that reads as a name (IDENT, STRING_LITERAL,
// SENTRY_DSN, db-url, server-certificate) is what the list enumerates (a
// grammar's tokens, the secrets an app expects), not a value; under
// passwords a word is taken for a password.
func (s *scanner) emitItem(no int, line []byte, vs, ve int, key, class string) {
	if ve <= vs || class != classPassword && listName.Match(line[vs:ve]) {
		return
	}
	s.emit(no, line, vs, ve, key, class, prioKey)
}

// listName is an all-caps identifier or lowercase words joined by - _ or .
var listName = regexp.MustCompile(`^(?:[A-Z]+(?:_[A-Z0-9]+)*|[a-z]+(?:[-_.][a-z0-9]+)*)$`)
