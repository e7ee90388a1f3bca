package hardcoded

import (
	"bytes"
	"strings"
)

// scanStoreFile reads the credential stores whose lines carry no keyword:
// .pgpass, .htpasswd, .netrc and .git-credentials.
func (s *scanner) scanStoreFile() {
	content := s.content
	inMacro := false
	expectPassword := false // .netrc: the previous token was "password"
	no := 0
	for start := 0; start < len(content); {
		end := bytes.IndexByte(content[start:], '\n')
		if end < 0 {
			end = len(content)
		} else {
			end += start
		}
		no++
		line := trimCR(content[start:end])
		start = end + 1
		if len(line) > maxLine {
			continue
		}
		t := bytes.TrimSpace(line)
		if len(t) == 0 {
			inMacro = false
			continue
		}
		if t[0] == '#' {
			continue
		}
		switch s.kind.format {
		case fmtPgpass:
			s.pgpassLine(no, line)
		case fmtHtpasswd:
			if i := bytes.LastIndexByte(line, ':'); i > 0 {
				vs, ve := trimSpan(line, i+1, len(line))
				s.emit(no, line, vs, ve, "", classPassword, prioStore)
			}
		case fmtGitCredentials:
			// One URL a line. Git percent-encodes the user and password it
			// stores, but hand-written files hold raw ones
			// (https://me@example.com:pa#ss@host): the userinfo ends at the
			// last "@", the password starts after the first ":" in it.
			if i := bytes.Index(line, []byte("://")); i >= 0 {
				ui := line[i+3:]
				if at := bytes.LastIndexByte(ui, '@'); at > 0 {
					if c := bytes.IndexByte(ui[:at], ':'); c >= 0 && c+1 < at {
						s.emitRule(no, line, i+3+c+1, i+3+at, "", s.kind.store, prioStore)
					}
				}
			}
		case fmtNetrc:
			if inMacro {
				continue
			}
			for _, f := range fields(line) {
				w := strings.ToLower(string(line[f[0]:f[1]]))
				switch {
				case expectPassword:
					s.emit(no, line, f[0], f[1], "password", classPassword, prioStore)
					expectPassword = false
				case w == "password" || w == "passwd":
					expectPassword = true
				case w == "macdef":
					inMacro = true
				}
				if inMacro {
					break
				}
			}
		}
	}
}

// fields returns the spans of the whitespace-separated words of line.
func fields(line []byte) [][2]int {
	var out [][2]int
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			out = append(out, [2]int{i, j})
		}
		i = j
	}
	return out
}

// pgpassLine reports the password of hostname:port:database:username:password;
// "\:" escapes a colon inside a field.
func (s *scanner) pgpassLine(no int, line []byte) {
	colons := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case ':':
			colons++
			if colons == 4 {
				vs, ve := trimSpan(line, i+1, len(line))
				s.emit(no, line, vs, ve, "", classPassword, prioStore)
				return
			}
		}
	}
}

// lineIndex maps increasing offsets to line numbers and line starts in a
// single forward pass.
type lineIndex struct {
	content   []byte
	pos, no   int
	lineStart int
}

func (li *lineIndex) at(off int) (no, lineStart int) {
	if off > li.pos {
		seg := li.content[li.pos:off]
		if n := bytes.Count(seg, []byte{'\n'}); n > 0 {
			li.no += n
			li.lineStart = li.pos + bytes.LastIndexByte(seg, '\n') + 1
		}
		li.pos = off
	}
	return li.no, li.lineStart
}

// sqlHashWords end a column name that holds a password digest:
// password_hash, pwd_digest.
var sqlHashWords = map[string]bool{
	"hash": true, "digest": true, "hashed": true, "crypt": true, "encrypted": true,
	"enc": true, "md5": true, "sha1": true, "sha256": true, "bcrypt": true, "salted": true,
}

// sqlCredColumn reports a column that stores a password, a secret or a
// token (or a hash of one).
func sqlCredColumn(name string) bool {
	if c := classifyKey(name); c != "" && c != classConnStr {
		return true
	}
	words := splitKey(name)
	if len(words) < 2 || !sqlHashWords[words[len(words)-1]] {
		return false
	}
	for _, w := range words[:len(words)-1] {
		if passwordWords[w] || strings.HasSuffix(w, "password") {
			return true
		}
	}
	return false
}

// scanSQL reports the values of credential columns in INSERT statements of
// SQL dumps. The columns come from the INSERT's own column list or from
// the CREATE TABLE earlier in the dump (mysqldump's extended inserts name
// none). Dump lines are often far longer than maxLine; this parser is a
// single linear pass without regular expressions, so it reads them all.
func (s *scanner) scanSQL() {
	c := s.content
	lower := lowerASCII(c)
	if !bytes.Contains(lower, []byte("insert")) {
		return
	}
	tables := map[string][]string{}
	li := &lineIndex{content: c, no: 1}
	i := 0
	for i < len(c) {
		ci := bytes.Index(lower[i:], []byte("create table"))
		ii := bytes.Index(lower[i:], []byte("insert "))
		if ci < 0 && ii < 0 {
			return
		}
		if ci >= 0 && (ii < 0 || ci < ii) {
			i = s.sqlCreate(c, i+ci+len("create table"), tables)
			continue
		}
		i = s.sqlInsert(c, lower, i+ii+len("insert "), tables, li)
	}
}

// sqlSkipSpace skips blanks and newlines.
func sqlSkipSpace(c []byte, i int) int {
	for i < len(c) && (c[i] == ' ' || c[i] == '\t' || c[i] == '\n' || c[i] == '\r') {
		i++
	}
	return i
}

// sqlName reads an identifier, possibly quoted with `, " or [ ], possibly
// schema-qualified; it returns the last part, lowercased.
func sqlName(c []byte, i int) (string, int) {
	name := ""
	for {
		i = sqlSkipSpace(c, i)
		if i >= len(c) {
			return name, i
		}
		switch c[i] {
		case '`', '"', '[':
			closer := c[i]
			if closer == '[' {
				closer = ']'
			}
			j := bytes.IndexByte(c[i+1:], closer)
			if j < 0 {
				return name, len(c)
			}
			name = string(c[i+1 : i+1+j])
			i += j + 2
		default:
			j := i
			for j < len(c) && (isIdentChar(c[j])) {
				j++
			}
			if j == i {
				return strings.ToLower(name), i
			}
			name = string(c[i:j])
			i = j
		}
		if i < len(c) && c[i] == '.' {
			i++
			continue
		}
		return strings.ToLower(name), i
	}
}

// sqlCreate reads the column names of CREATE TABLE [IF NOT EXISTS] t (...).
func (s *scanner) sqlCreate(c []byte, i int, tables map[string][]string) int {
	j := sqlSkipSpace(c, i)
	if j+13 < len(c) && strings.EqualFold(string(c[j:j+13]), "if not exists") {
		i = j + 13
	}
	name, i := sqlName(c, i)
	i = sqlSkipSpace(c, i)
	if name == "" || i >= len(c) || c[i] != '(' {
		return i
	}
	var cols []string
	depth := 0
	partStart := i + 1
	for k := i; k < len(c); k++ {
		switch c[k] {
		case '\'':
			if e := bytes.IndexByte(c[k+1:], '\''); e >= 0 {
				k += e + 1
			}
		case '(':
			depth++
		case ')', ',':
			if c[k] == ')' {
				depth--
			}
			if depth == 0 && c[k] == ')' || depth == 1 && c[k] == ',' {
				col, _ := sqlName(c, partStart)
				switch col {
				case "primary", "key", "unique", "constraint", "index", "foreign", "check", "fulltext", "spatial", "":
				default:
					cols = append(cols, col)
				}
				partStart = k + 1
			}
			if depth == 0 {
				tables[name] = cols
				return k + 1
			}
		}
	}
	return len(c)
}

// sqlInsert reads INSERT [IGNORE] INTO t [(cols)] VALUES (...), (...);
func (s *scanner) sqlInsert(c, lower []byte, i int, tables map[string][]string, li *lineIndex) int {
	i = sqlSkipSpace(c, i)
	if bytes.HasPrefix(lower[i:], []byte("ignore")) {
		i = sqlSkipSpace(c, i+len("ignore"))
	}
	if !bytes.HasPrefix(lower[i:], []byte("into")) {
		return i
	}
	name, i := sqlName(c, i+len("into"))
	i = sqlSkipSpace(c, i)
	cols := tables[name]
	if i < len(c) && c[i] == '(' {
		cols = nil
		for i < len(c) && c[i] != ')' {
			var col string
			col, i = sqlName(c, i+1)
			cols = append(cols, col)
			i = sqlSkipSpace(c, i)
			if i < len(c) && c[i] != ',' && c[i] != ')' {
				return i
			}
		}
		i = sqlSkipSpace(c, i+1)
	}
	if !bytes.HasPrefix(lower[i:], []byte("values")) {
		return i
	}
	i += len("values")
	var want []int
	for k, col := range cols {
		if sqlCredColumn(col) {
			want = append(want, k)
		}
	}
	for {
		i = sqlSkipSpace(c, i)
		if i >= len(c) || c[i] != '(' {
			return i
		}
		i++
		field := 0
		for i < len(c) {
			i = sqlSkipSpace(c, i)
			if i >= len(c) {
				return i
			}
			vs, ve, quoted := i, i, false
			if c[i] == '\'' {
				quoted = true
				j := i + 1
				for j < len(c) {
					if c[j] == '\\' {
						j += 2
						continue
					}
					if c[j] == '\'' {
						if j+1 < len(c) && c[j+1] == '\'' {
							j += 2
							continue
						}
						break
					}
					j++
				}
				vs, ve = i+1, min(j, len(c))
				i = j + 1
			} else {
				depth := 0
				for i < len(c) && (depth > 0 || c[i] != ',' && c[i] != ')') {
					if c[i] == '(' {
						depth++
					} else if c[i] == ')' {
						depth--
					}
					i++
				}
				ve = i
			}
			if quoted && ve > vs && containsInt(want, field) && bytes.IndexByte(c[vs:ve], '\n') < 0 {
				no, ls := li.at(vs)
				line := c[ls:ve]
				s.emit(no, line, vs-ls, ve-ls, cols[field], classPassword, prioStore)
			}
			field++
			i = sqlSkipSpace(c, i)
			if i < len(c) && c[i] == ',' {
				i++
				continue
			}
			if i < len(c) && c[i] == ')' {
				i++
			}
			break
		}
		i = sqlSkipSpace(c, i)
		if i < len(c) && c[i] == ',' {
			i++
			continue
		}
		return i
	}
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
