package hardcoded

import (
	"bytes"
	"regexp"
	"strings"
)

// scanLine runs the matchers of the file's format, then the generic URI,
// connection-string, webhook and Authorization-header matchers, on one
// candidate line.
func (s *scanner) scanLine(no, start int, line []byte) {
	line = trimCR(line)
	if len(line) > maxLine {
		return
	}
	switch s.kind.format {
	case fmtYAML:
		s.yamlLine(no, start, line)
		s.cliLine(no, line)
	case fmtJSON, fmtTOML:
		s.structLine(no, start, line)
	case fmtXML:
		s.xmlLine(no, start, line)
	case fmtINI:
		s.kvLine(no, line, "=:")
	case fmtProperties:
		s.kvLine(no, line, "=:")
	case fmtEnv:
		s.kvLine(no, line, "=")
	case fmtHCL:
		s.hclLine(no, start, line)
		s.structLine(no, start, line)
	case fmtDockerfile:
		s.dockerLine(no, line)
	case fmtCode, fmtSQL:
		s.codeLine(no, line)
	case fmtShell:
		s.shellLine(no, line)
		s.cliLine(no, line)
		s.codeLine(no, line)
	case fmtHTML:
		s.htmlLine(no, line)
		s.xmlAttrs(no, line)
		s.codeLine(no, line)
	case fmtDirective:
		s.directiveLine(no, line)
	}
	lower := lowerASCII(line)
	s.uriLine(no, line)
	s.connStrLine(no, line, lower)
	s.webhookLine(no, line, lower)
	s.authHeaderLine(no, line, lower)
}

// scalar finds the value starting at line[i]: a quoted string (the span is
// its inside) or an unquoted scalar ending before an inline comment. ok is
// false for a value that does not end on this line.
func scalar(line []byte, i int, comments string) (vs, ve int, quoted, ok bool) {
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i >= len(line) {
		return i, i, false, true
	}
	q := line[i]
	if q == '"' || q == '\'' {
		j := i + 1
		for j < len(line) {
			if line[j] == '\\' && q == '"' {
				j += 2
				continue
			}
			if line[j] == q {
				if q == '\'' && j+1 < len(line) && line[j+1] == '\'' {
					j += 2 // YAML '' escape
					continue
				}
				break
			}
			j++
		}
		if j >= len(line) {
			return 0, 0, true, false
		}
		// After the closing quote only a separator or comment may follow.
		rest := bytes.TrimSpace(line[j+1:])
		if len(rest) > 0 && !strings.ContainsRune(comments+",;", rune(rest[0])) {
			return 0, 0, true, false
		}
		return i + 1, j, true, true
	}
	end := len(line)
	for k := i; k < len(line); k++ {
		if strings.IndexByte(comments, line[k]) >= 0 && k > i && (line[k-1] == ' ' || line[k-1] == '\t') {
			end = k
			break
		}
	}
	for end > i && (line[end-1] == ' ' || line[end-1] == '\t') {
		end--
	}
	return i, end, false, true
}

// yamlKey is a YAML mapping entry, possibly a list item, possibly quoted.
var yamlKey = regexp.MustCompile(`^\s*(?:-\s+)?(?:"([^"]{1,100})"|'([^']{1,100})'|([A-Za-z_$@][\w.\-$@/]{0,100}))\s*:(?:\s|$)`)

// composeEnv is a docker-compose / CI environment list item: - KEY=value.
var composeEnv = regexp.MustCompile(`^\s*-\s+(["']?)([A-Za-z_][\w.\-]{0,100})=`)

// yamlLine handles key: value, - KEY=value, the "- name: DB_PASSWORD /
// value: x" pairs and their kin (pairValueKey), and lists under a credential
// key.
func (s *scanner) yamlLine(no, start int, line []byte) {
	if m := composeEnv.FindSubmatchIndex(line); m != nil {
		key := string(line[m[4]:m[5]])
		vs, ve := m[1], len(line)
		for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
			ve--
		}
		if m[3] > m[2] && ve > vs && line[ve-1] == line[m[2]] {
			ve--
		}
		if class := classifyKey(key); class != "" {
			s.emit(no, line, vs, ve, key, class, prioKey)
		}
		return
	}
	m := yamlKey.FindSubmatchIndex(line)
	if m == nil {
		return
	}
	key := ""
	for g := 1; g <= 3; g++ {
		if m[2*g] >= 0 {
			key = string(line[m[2*g]:m[2*g+1]])
		}
	}
	vs, ve, quoted, ok := scalar(line, m[1], "#")
	if ok && vs >= ve {
		s.credentialList(no, start, key)
		return
	}
	if !ok {
		return
	}
	if !quoted && strings.ContainsRune("|>&*!{[", rune(line[vs])) {
		return // block scalar, anchor, alias, tag or flow collection
	}
	if vk := pairValueKey[key]; vk != "" {
		s.namedPair(no, start, line, vs, ve, vk)
		return
	}
	if class := classifyKey(key); class != "" && !s.inLabelMap(start, line) {
		s.emit(no, line, vs, ve, key, class, prioKey)
	}
}

// labelMaps are the YAML keys whose entries are Kubernetes labels (a
// Service's selector, a Deployment's matchLabels): a label key such as
// svc-token-053 names a workload, and a label value is at most 63
// characters of a name, never a credential.
var labelMaps = map[string]bool{"labels": true, "matchLabels": true, "selector": true, "nodeSelector": true}

// inLabelMap reports a YAML entry (the line at offset start) whose parent
// key, the nearest line above it indented less, is one of labelMaps. It
// runs only for an entry about to be reported, and looks up to 64 lines
// back.
func (s *scanner) inLabelMap(start int, line []byte) bool {
	indent := len(line) - len(bytes.TrimLeft(line, " "))
	if indent == 0 || line[indent] == '-' {
		return false
	}
	end := start - 1 // the newline ending the line above
	for n := 0; n < 64 && end > 0; n++ {
		from := bytes.LastIndexByte(s.content[:end], '\n') + 1
		above := trimCR(s.content[from:end])
		end = from - 1
		t := bytes.TrimLeft(above, " ")
		if len(t) == 0 || t[0] == '#' || len(above)-len(t) >= indent {
			continue
		}
		m := yamlKey.FindSubmatchIndex(above)
		if m == nil || m[6] < 0 {
			return false
		}
		return labelMaps[string(above[m[6]:m[7]])]
	}
	return false
}

// listItem is a YAML list item's value.
var listItem = regexp.MustCompile(`^\s*-\s+`)

// credentialList reports the items of a list under a credential key
// ("passwords:" then "- value" lines).
func (s *scanner) credentialList(no, start int, key string) {
	class := listClass(key)
	if class == "" {
		return
	}
	for _, l := range s.following(no, start, 50) {
		m := listItem.FindIndex(l.text)
		if m == nil {
			return
		}
		v0, v1, quoted, ok := scalar(l.text, m[1], "#")
		if !ok || v1 <= v0 || !quoted && strings.ContainsRune("|>&*!{[", rune(l.text[v0])) || yamlKey.Match(l.text) {
			return // not a list of plain values
		}
		s.emitItem(l.no, l.text, v0, v1, key, class)
	}
}

// namedPair reports "- name: DB_PASSWORD" (or key:, ParameterKey:)
// followed by its value line.
func (s *scanner) namedPair(no, start int, line []byte, vs, ve int, vk string) {
	name := string(line[vs:ve])
	class := classifyKey(name)
	if class == "" {
		return
	}
	for _, l := range s.following(no, start, 2) {
		at := valueKeyAt(l.text, vk, ":")
		if at < 0 {
			continue
		}
		v0, v1, _, ok := scalar(l.text, at, "#")
		if ok && v1 > v0 {
			s.emitCredential(l.no, l.text, v0, v1, name, class)
		}
		return
	}
}

// kvKey is an INI / properties / .env key at the start of a line.
var kvKey = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][\w.\-]{0,100}(?: [A-Za-z_][\w.\-]{0,40})?)\s*([=:])`)

// kvLine handles key=value (INI, .properties, .env, my.cnf, .pypirc,
// ~/.aws/credentials) with seps the allowed separators.
func (s *scanner) kvLine(no int, line []byte, seps string) {
	t := bytes.TrimLeft(line, " \t")
	if len(t) == 0 || t[0] == '#' || t[0] == ';' || t[0] == '!' || t[0] == '[' {
		return
	}
	m := kvKey.FindSubmatchIndex(line)
	if m == nil || strings.IndexByte(seps, line[m[4]]) < 0 {
		return
	}
	key := string(line[m[2]:m[3]])
	class := classifyKey(key)
	if s.kind.awsKeys {
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_security_token":
			class = classSecret
		}
	}
	if class == "" {
		return
	}
	comments := "#;"
	if s.kind.format == fmtProperties {
		comments = ""
	}
	vs, ve, _, ok := scalar(line, m[1], comments)
	if ok {
		s.emit(no, line, vs, ve, strings.TrimSpace(key), class, prioKey)
	}
}

// directive is a "key value" or "set key=value" line (msmtprc, esmtprc,
// muttrc, fetchmailrc).
var directive = regexp.MustCompile(`^\s*(?:set\s+)?([A-Za-z_][\w.\-]{0,60})(?:\s*=\s*|\s+)`)

func (s *scanner) directiveLine(no int, line []byte) {
	m := directive.FindSubmatchIndex(line)
	if m == nil {
		return
	}
	key := string(line[m[2]:m[3]])
	class := classifyKey(key)
	if class == "" {
		return
	}
	vs, ve, _, ok := scalar(line, m[1], "#")
	if ok {
		s.emit(no, line, vs, ve, key, class, prioKey)
	}
}

// dockerInstr is an ENV or ARG instruction.
var dockerInstr = regexp.MustCompile(`(?i)^\s*(ENV|ARG)\s+`)

// dockerPair is one KEY=value of an ENV/ARG instruction.
var dockerPair = regexp.MustCompile(`([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|'[^']*'|[^\s"']*)`)

// dockerLine handles ENV/ARG (both KEY=value pairs and the legacy
// "ENV KEY value" form) and the command-line flags of RUN.
func (s *scanner) dockerLine(no int, line []byte) {
	m := dockerInstr.FindSubmatchIndex(line)
	if m == nil {
		s.cliLine(no, line)
		s.shellLine(no, line)
		return
	}
	rest := line[m[1]:]
	sp := bytes.IndexAny(rest, " \t")
	eq := bytes.IndexByte(rest, '=')
	if eq < 0 || (sp >= 0 && sp < eq) {
		// Legacy: ENV KEY value...
		if sp < 0 {
			return
		}
		key := string(rest[:sp])
		if class := classifyKey(key); class != "" {
			vs, ve, _, ok := scalar(line, m[1]+sp, "")
			if ok {
				s.emit(no, line, vs, ve, key, class, prioKey)
			}
		}
		return
	}
	for _, p := range dockerPair.FindAllSubmatchIndex(rest, -1) {
		key := string(rest[p[2]:p[3]])
		class := classifyKey(key)
		if class == "" {
			continue
		}
		vs, ve := m[1]+p[4], m[1]+p[5]
		if ve > vs && (line[vs] == '"' || line[vs] == '\'') {
			vs, ve = vs+1, ve-1
		}
		s.emit(no, line, vs, ve, key, class, prioKey)
	}
}

// shellAssign is a shell variable assignment.
var shellAssign = regexp.MustCompile(`(?:^|[\s;&(])(?:export\s+|local\s+|readonly\s+|declare\s+(?:-\w+\s+)*|set\s+)?\$?([A-Za-z_]\w{0,100})=`)

// shellLine handles VAR=value, export VAR="value" and PowerShell/batch
// set VAR=value.
func (s *scanner) shellLine(no int, line []byte) {
	for _, m := range shellAssign.FindAllSubmatchIndex(line, -1) {
		key := string(line[m[2]:m[3]])
		class := classifyKey(key)
		if class == "" {
			continue
		}
		i := m[1]
		if i < len(line) && (line[i] == '"' || line[i] == '\'') {
			vs, ve, _, ok := scalar(line, i, "#")
			if ok {
				s.emit(no, line, vs, ve, key, class, prioKey)
			}
			continue
		}
		j := i
		for j < len(line) && !strings.ContainsRune(" \t;&|)`<>\"'", rune(line[j])) {
			j++
		}
		s.emit(no, line, i, j, key, class, prioKey)
	}
}

// cliFlag is a credential passed on a command line: --password=x,
// --db-password x, --token "x".
var cliFlag = regexp.MustCompile(`(?:^|\s)--([A-Za-z][\w-]{0,60})(?:=|\s+)("[^"]*"|'[^']*'|[^\s"'|;&<>)]+)`)

// mysqlFlag is mysql's glued -pPASSWORD; sshpass -p takes a password too.
var mysqlFlag = regexp.MustCompile(`\b(?:mysql(?:dump|admin|import|sh|slap|check)?|mariadb(?:-dump)?|sshpass)\b[^|;&]*?\s-p\s*("[^"]*"|'[^']*'|[^\s"'|;&<>]+)`)

// curlUser is curl -u user:password.
var curlUser = regexp.MustCompile(`\bcurl\b[^|;&]*?\s(?:-u|--user)\s+["']?[^\s:"']*:([^\s"'@]+)`)

// cliLine handles credentials on command lines in scripts, Dockerfile RUN
// instructions and CI YAML.
func (s *scanner) cliLine(no int, line []byte) {
	for _, m := range cliFlag.FindAllSubmatchIndex(line, -1) {
		key := string(line[m[2]:m[3]])
		class := classifyKey(key)
		if class == "" {
			continue
		}
		vs, ve := m[4], m[5]
		if line[vs] == '"' || line[vs] == '\'' {
			vs, ve = vs+1, ve-1
		}
		if ve > vs && line[vs] == '-' {
			continue // the next flag, not a value
		}
		s.emit(no, line, vs, ve, "--"+key, class, prioKey)
	}
	for _, m := range mysqlFlag.FindAllSubmatchIndex(line, -1) {
		vs, ve := m[2], m[3]
		if line[vs] == '"' || line[vs] == '\'' {
			vs, ve = vs+1, ve-1
		}
		if ve > vs && line[vs] == '-' {
			continue
		}
		s.emit(no, line, vs, ve, "-p", classPassword, prioKey)
	}
	for _, m := range curlUser.FindAllSubmatchIndex(line, -1) {
		s.emit(no, line, m[2], m[3], "-u", classPassword, prioKey)
	}
}

// hclVariable opens a Terraform variable block.
var hclVariable = regexp.MustCompile(`^\s*variable\s+"([^"]{1,100})"\s*\{`)

// hclDefault is the default of a variable.
var hclDefault = regexp.MustCompile(`\bdefault\s*=\s*"((?:[^"\\]|\\.)*)"`)

// hclLine reports the literal default of a credential-named variable
// (variable "db_password" { default = "..." }), on the same line or within
// the block's next lines.
func (s *scanner) hclLine(no, start int, line []byte) {
	m := hclVariable.FindSubmatchIndex(line)
	if m == nil {
		return
	}
	name := string(line[m[2]:m[3]])
	class := classifyKey(name)
	if class == "" {
		return
	}
	if d := hclDefault.FindSubmatchIndex(line[m[1]:]); d != nil {
		s.emit(no, line, m[1]+d[2], m[1]+d[3], name, class, prioKey)
		return
	}
	for _, l := range s.following(no, start, 30) {
		t := bytes.TrimSpace(l.text)
		if bytes.HasPrefix(l.text, []byte("}")) || bytes.HasPrefix(t, []byte("variable ")) {
			return
		}
		if d := hclDefault.FindSubmatchIndex(l.text); d != nil {
			s.emit(l.no, l.text, d[2], d[3], name, class, prioKey)
			return
		}
	}
}

// xmlElement is <key ...>value</...> on one line.
var xmlElement = regexp.MustCompile(`<([A-Za-z_][\w.\-:]{0,100})(\s[^<>]*)?>([^<>]+)</[\w.\-:]+\s*>`)

// xmlAttr is one attribute.
var xmlAttr = regexp.MustCompile(`(?:^|\s)([A-Za-z_][\w.\-:]{0,100})\s*=\s*(?:"([^"]*)"|'([^']*)')`)

// xmlNameValue is <add key="DbPassword" value="x"/>, <property
// name="password" value="x"/>, <entry key="password">x</entry>.
var xmlNameValue = regexp.MustCompile(`\b(?:key|name)\s*=\s*"([^"]{1,100})"`)

// xmlValueAttr is the value="..." attribute of the same element.
var xmlValueAttr = regexp.MustCompile(`\bvalue\s*=\s*"([^"]*)"`)

// xmlValueElem is the <value>x</value> child of a Spring property.
var xmlValueElem = regexp.MustCompile(`<value>([^<>]+)</value>`)

// xmlLine handles elements, attributes and the name/value idioms of
// .NET configuration and Spring bean files.
func (s *scanner) xmlLine(no, start int, line []byte) {
	for _, m := range xmlElement.FindAllSubmatchIndex(line, -1) {
		key := string(line[m[2]:m[3]])
		if i := strings.LastIndexByte(key, ':'); i >= 0 {
			key = key[i+1:]
		}
		class := classifyKey(key)
		if class == "" && m[4] >= 0 {
			// <entry key="password">x</entry>
			if n := xmlNameValue.FindSubmatchIndex(line[m[4]:m[5]]); n != nil {
				key = string(line[m[4]+n[2] : m[4]+n[3]])
				class = classifyKey(key)
			}
		}
		if class == "" {
			continue
		}
		vs, ve := trimSpan(line, m[6], m[7])
		s.emit(no, line, vs, ve, key, class, prioKey)
	}
	s.xmlAttrs(no, line)
	// <add key="X" value="Y"/> and <property name="X" value="Y"/>: the
	// value attribute belongs to the element whose key/name is X.
	for _, n := range xmlNameValue.FindAllSubmatchIndex(line, -1) {
		key := string(line[n[2]:n[3]])
		class := classifyKey(key)
		if class == "" {
			continue
		}
		tagEnd := bytes.IndexByte(line[n[1]:], '>')
		seg := line[n[1]:]
		if tagEnd >= 0 {
			seg = line[n[1] : n[1]+tagEnd]
		}
		if v := xmlValueAttr.FindSubmatchIndex(seg); v != nil {
			s.emit(no, line, n[1]+v[2], n[1]+v[3], key, class, prioKey)
			continue
		}
		if tagEnd >= 0 && bytes.Contains(line[n[1]:], []byte("<value>")) {
			if v := xmlValueElem.FindSubmatchIndex(line[n[1]:]); v != nil {
				s.emit(no, line, n[1]+v[2], n[1]+v[3], key, class, prioKey)
			}
			continue
		}
		if tagEnd >= 0 && bytes.HasSuffix(bytes.TrimSpace(line), []byte(">")) && !bytes.Contains(line[n[1]:], []byte("</")) {
			// Spring: <property name="password"> then <value>x</value>.
			for _, l := range s.following(no, start, 2) {
				if v := xmlValueElem.FindSubmatchIndex(l.text); v != nil {
					s.emit(l.no, l.text, v[2], v[3], key, class, prioKey)
					break
				}
			}
		}
	}
}

// xmlAttrs reports credential-named attributes: <user password="x"/>.
func (s *scanner) xmlAttrs(no int, line []byte) {
	for _, m := range xmlAttr.FindAllSubmatchIndex(line, -1) {
		key := string(line[m[2]:m[3]])
		if i := strings.LastIndexByte(key, ':'); i >= 0 {
			key = key[i+1:]
		}
		class := classifyKey(key)
		if class == "" {
			continue
		}
		vs, ve := m[4], m[5]
		if vs < 0 {
			vs, ve = m[6], m[7]
		}
		s.emit(no, line, vs, ve, key, class, prioKey)
	}
}

func trimSpan(line []byte, vs, ve int) (int, int) {
	for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
		vs++
	}
	for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
		ve--
	}
	return vs, ve
}

// htmlInput is an <input> element.
var htmlInput = regexp.MustCompile(`(?i)<input\b[^<>]*>`)

// htmlTypePassword and htmlValue are its attributes.
var (
	htmlTypePassword = regexp.MustCompile(`(?i)\btype\s*=\s*["']?password\b`)
	htmlValue        = regexp.MustCompile(`(?i)\svalue\s*=\s*(?:"([^"]*)"|'([^']*)')`)
)

// htmlLine reports a prefilled password field: <input type="password"
// value="x">.
func (s *scanner) htmlLine(no int, line []byte) {
	for _, m := range htmlInput.FindAllIndex(line, -1) {
		tag := line[m[0]:m[1]]
		if !htmlTypePassword.Match(tag) {
			continue
		}
		v := htmlValue.FindSubmatchIndex(tag)
		if v == nil {
			continue
		}
		vs, ve := v[2], v[3]
		if vs < 0 {
			vs, ve = v[4], v[5]
		}
		s.emit(no, line, m[0]+vs, m[0]+ve, "input[type=password]", classPassword, prioKey)
	}
}
