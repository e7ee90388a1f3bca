// Package hardcoded finds human-chosen credentials written into
// configuration files and code: passwords under credential-named keys,
// credentials in URIs and connection strings, webhook URLs and the
// well-known client credential stores. These are the CredScan /
// detect-secrets KeywordDetector / SonarQube S2068 class of finding, which
// entropy- and shape-based detectors such as gitleaks miss because a
// password like "Summer2024!" has neither.
//
// The detector is pure: it reads bytes and returns matches with their
// positions. It never logs a value; the caller hashes and redacts them.
package hardcoded

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"path"
	"sort"
	"strings"
)

// Rule is one detection rule, shown by `tollgate explain`.
type Rule struct {
	ID          string   // e.g. "tollgate-hardcoded-password"
	Title       string   // one line
	Description string   // what it finds and what it deliberately does not
	Keys        []string // the key names / file names it looks at, may be empty
	Pattern     string   // the regular expression or a short description of the matcher
	Examples    []string // a few true-positive lines with obviously fake values
}

// Match is one hardcoded credential.
type Match struct {
	RuleID   string
	Line     int    // 1-based line of the value
	StartCol int    // 1-based byte column where the value starts in that line
	EndCol   int    // 1-based byte column of the value's last byte (inclusive)
	Key      string // the key/attribute/variable naming the credential ("" when none)
	Value    string // the credential itself: the caller hashes and redacts it
}

// Detector finds hardcoded credentials. It holds no mutable state, so one
// Detector may scan from many goroutines at once.
type Detector struct{}

// New returns a Detector. The regular expressions are compiled once at
// package initialisation and only read afterwards.
func New() *Detector { return &Detector{} }

const (
	// maxLine is the longest line examined: longer lines are minified code,
	// data or embedded blobs, where key/value heuristics only produce noise.
	maxLine = 4000
	// minValue is the shortest value reported outside credential stores.
	minValue = 4
	// maxValue is the longest: longer values are certificates or blobs that
	// the shape-based rules handle.
	maxValue = 512
)

// Match priorities: when two families report overlapping spans on a line,
// the lower number (the more specific rule) wins.
const (
	prioStore = iota
	prioKey
	prioGeneric
)

// needles are the case-insensitive words that make a line worth the
// regular expressions. A file without any is dismissed after one pass.
var needles = []string{
	"pass", "pwd", "secret", "token", "key", "auth", "cred", "://",
	"hook", "mysql", "curl",
}

// lowerTab lowercases ASCII letters and leaves other bytes alone.
var lowerTab = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// needlePairs marks the lowercased byte pairs at offsets 0 and 1 of every
// needle. Every needle is at least three bytes long, so a needle starting at
// i puts one of its pairs at an even offset (i or i+1): the prefilter can
// look at every other position only. Built once; only read afterwards.
var needlePairs = func() *[1 << 16]bool {
	var t [1 << 16]bool
	for _, n := range needles {
		t[uint16(n[0])<<8|uint16(n[1])] = true
		t[uint16(n[1])<<8|uint16(n[2])] = true
	}
	return &t
}()

// needleAt reports a needle at content[i:], ignoring ASCII case.
func needleAt(content []byte, i int) bool {
	for _, n := range needles {
		if len(content)-i < len(n) {
			continue
		}
		ok := true
		for j := 0; j < len(n); j++ {
			if lowerTab[content[i+j]] != n[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Scan finds hardcoded credentials in one file; path is the repository-
// relative slash path, used to pick the format by extension or file name.
func (d *Detector) Scan(p string, content []byte) []Match {
	if len(content) == 0 || looksBinary(content) {
		return nil
	}
	k := classify(p)
	if k.skip {
		return nil
	}
	s := &scanner{
		kind:     k,
		path:     p,
		testPath: isTestPath(p),
		example:  isExamplePath(p),
		minLen:   minValue,
		content:  content,
	}
	if k.store != "" && k.explicit {
		s.minLen = 1
	}
	switch k.format {
	case fmtPgpass, fmtHtpasswd, fmtNetrc, fmtGitCredentials:
		// Credential stores whose format needs no keyword on the line.
		s.scanStoreFile()
		return s.finish()
	case fmtSQL:
		s.scanSQL()
	}
	s.scanCandidateLines()
	return s.finish()
}

// looksBinary reports content with a NUL byte in its first 8 KiB.
func looksBinary(content []byte) bool {
	head := content
	if len(head) > 8192 {
		head = head[:8192]
	}
	return bytes.IndexByte(head, 0) >= 0
}

// lowerASCII returns a lowercased copy of b (ASCII only, same length, so
// offsets carry over).
func lowerASCII(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// scanCandidateLines examines only the lines that hold a needle. One
// forward pass finds the first needle of a line, hands the line over and
// resumes after it; lines are counted between hits, so the scan is linear
// in the file size and allocates nothing for a file without candidates.
func (s *scanner) scanCandidateLines() {
	content := s.content
	pos, lineNo := 0, 1 // pos: start of the first line not yet counted
	for j := 0; j+1 < len(content); j += 2 {
		if !needlePairs[uint16(lowerTab[content[j]])<<8|uint16(lowerTab[content[j+1]])] {
			continue
		}
		i := j
		if j > 0 && needleAt(content, j-1) {
			i = j - 1
		} else if !needleAt(content, j) {
			continue
		}
		if i < pos {
			continue // the needle starts in a line already examined
		}
		start := bytes.LastIndexByte(content[pos:i], '\n') + 1 + pos
		lineNo += bytes.Count(content[pos:start], []byte{'\n'})
		end := bytes.IndexByte(content[i:], '\n')
		if end < 0 {
			end = len(content)
		} else {
			end += i
		}
		s.scanLine(lineNo, start, content[start:end])
		pos = end + 1
		lineNo++
		j = end - end%2 // resume at the even offset at or before the line end
	}
}

// lineAt is one line of the file with its number and start offset.
type lineAt struct {
	no    int
	start int
	text  []byte
}

// following returns up to n lines after the line starting at offset start
// (numbered no), without their line ends. Used by the few formats whose
// value sits on a later line than its key (HCL variable defaults,
// Kubernetes name/value pairs, Spring <value> elements).
func (s *scanner) following(no, start, n int) []lineAt {
	var out []lineAt
	content := s.content
	i := bytes.IndexByte(content[start:], '\n')
	if i < 0 {
		return nil
	}
	i += start + 1
	for len(out) < n && i < len(content) {
		j := bytes.IndexByte(content[i:], '\n')
		end := len(content)
		if j >= 0 {
			end = i + j
		}
		no++
		out = append(out, lineAt{no: no, start: i, text: trimCR(content[i:end])})
		i = end + 1
	}
	return out
}

func trimCR(line []byte) []byte {
	return bytes.TrimSuffix(line, []byte{'\r'})
}

// scanner is the state of one Scan call.
type scanner struct {
	kind     fileKind
	path     string
	testPath bool
	example  bool
	minLen   int
	content  []byte
	matches  []cand
}

// cand is a match before de-duplication.
type cand struct {
	Match
	prio int
}

// emit records a credential at line[vs:ve] after the value filters.
// class picks the rule ID unless the file is a credential store.
func (s *scanner) emit(no int, line []byte, vs, ve int, key, class string, prio int) {
	if vs < 0 || ve > len(line) || vs >= ve {
		return
	}
	v := string(line[vs:ve])
	if !s.accept(line, key, class, v) {
		return
	}
	s.add(no, vs, ve, key, ruleForClass(class), v, prio)
}

// add records a match without filtering, overriding the rule with the
// credential store's when the file is one.
func (s *scanner) add(no, vs, ve int, key, rule, v string, prio int) {
	// In an explicit store every match is the store's; in a file that is
	// a store only by convention (settings.py, database.yml, a .sql dump)
	// the key-based matches are, and a URI keeps its own rule.
	if s.kind.store != "" && (s.kind.explicit || prio != prioGeneric) {
		rule, prio = s.kind.store, prioStore
	}
	s.matches = append(s.matches, cand{Match: Match{
		RuleID: rule, Line: no, StartCol: vs + 1, EndCol: ve, Key: key, Value: v,
	}, prio: prio})
}

// accept applies the "not a finding" filters shared by every family.
func (s *scanner) accept(line []byte, key, class, v string) bool {
	if len(v) < s.minLen || len(v) > maxValue || class == classConnStr {
		return false
	}
	if strings.ContainsAny(v, "\n\r") || isBool(v) || isReference(v) || isPlaceholder(v) {
		return false
	}
	if strings.Contains(v, "://") || looksLikePath(v) || looksLikeProse(v) ||
		enumValues[strings.ToLower(v)] || noTextOutsideEscapes(v) {
		return false
	}
	if strings.HasPrefix(v, "//") || strings.HasPrefix(v, "/*") || strings.HasPrefix(v, "<!--") || strings.HasPrefix(v, "# ") {
		return false // a comment marker: a lexer's token, not a credential
	}
	if u, err := url.PathUnescape(v); err == nil && u != v && isPlaceholder(u) {
		return false // pa%73sword
	}
	if formatVerb.MatchString(v) && !isHashLike(v) {
		return false
	}
	if key != "" && normalize(v) == normalize(key) {
		return false // DB_PASSWORD: DB_PASSWORD
	}
	if class != classUserinfo && keyNameValue.MatchString(v) && (classifyKey(v) != "" || namesCredential(v)) && !weakPassword(v) {
		return false // token: GITHUB_TOKEN names the credential
	}
	if kn, vn := normalize(key), normalize(v); len(kn) > len(vn) &&
		(strings.HasSuffix(kn, vn) && len(vn) >= 4 || strings.Contains(kn, vn) && len(vn) >= 6) {
		return false // MockEc2MetadataAccessKey = "Ec2MetadataAccessKey": the value is a name
	}
	if strings.Contains(v, "\\x1b") || strings.Contains(v, "\\033") || strings.Contains(v, "\\e[") ||
		strings.HasPrefix(v, "urn:") {
		return false // terminal escapes, URNs
	}
	if dec, ok := decodeBase64Text(v); ok && (isPlaceholder(dec) || looksLikeProse(dec) || s.testPath && isCommonGuess(dec)) {
		return false // base64 of "password", "this is not a real value"
	}
	if (s.testPath || s.example) && (isCommonGuess(v) || isTestVector(v) || class == classToken && basicFixture(line, v)) {
		return false
	}
	if documentedDefaults[normalize(v)] && (s.example || lineSaysExample(line)) {
		return false
	}
	return true
}

// weakPassword reports a lowercase word with digits after it (pass123,
// secret2024): a weak password, not the name of a key, though the two
// split into the same words.
func weakPassword(v string) bool {
	i := 0
	for i < len(v) && v[i] >= 'a' && v[i] <= 'z' {
		i++
	}
	if i == 0 || i == len(v) {
		return false
	}
	for ; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false // encryptionKey1024, db_pass2: names
		}
	}
	return true
}

// finish drops overlapping duplicates (the more specific rule wins) and
// returns the matches in file order.
func (s *scanner) finish() []Match {
	if len(s.matches) == 0 {
		return nil
	}
	ms := s.matches
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.prio != b.prio {
			return a.prio < b.prio
		}
		return a.StartCol < b.StartCol
	})
	var out []Match
	lineStart := 0 // index in out of the first match on the current line
	for _, m := range ms {
		if len(out) == 0 || out[len(out)-1].Line != m.Line {
			lineStart = len(out)
		}
		dup := false
		for _, o := range out[lineStart:] {
			if m.StartCol <= o.EndCol && o.StartCol <= m.EndCol {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, m.Match)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].StartCol < out[j].StartCol
	})
	return out
}

// format is how a file's lines are read.
type format int

const (
	fmtUnknown format = iota
	fmtYAML
	fmtJSON
	fmtXML
	fmtINI
	fmtProperties
	fmtEnv
	fmtTOML
	fmtHCL
	fmtDockerfile
	fmtCode
	fmtShell
	fmtHTML
	fmtSQL
	fmtDirective // "key value" / "set key=value" lines: msmtprc, muttrc
	fmtNetrc
	fmtPgpass
	fmtHtpasswd
	fmtGitCredentials
)

// fileKind is what classify decides about a path.
type fileKind struct {
	format format
	// store is the credential-store rule ID, "" for ordinary files.
	store string
	// explicit stores have a credential format of their own: short values
	// are reported and every match takes the store rule.
	explicit bool
	// awsKeys marks ~/.aws/credentials, whose key ID is reported too.
	awsKeys bool
	skip    bool
}

// sampleSuffixes mark a copy of a configuration file kept as a template,
// a sample or a backup (beans.xml.dist, config.yml.template,
// settings.json.sample, application.properties.orig): the file is in the
// format before the suffix, and a real value in it is a committed
// credential all the same (placeholders stay excluded by their values).
var sampleSuffixes = map[string]bool{".dist": true, ".template": true, ".example": true, ".sample": true, ".orig": true, ".bak": true, ".default": true}

// classify picks the format, and the credential store rule, for a path.
func classify(p string) fileKind {
	l := strings.ToLower(p)
	base := path.Base(l)
	ext := path.Ext(base)
	if sampleSuffixes[ext] && path.Ext(strings.TrimSuffix(base, ext)) != "" {
		return classify(strings.TrimSuffix(p, p[len(p)-len(ext):]))
	}
	store := func(f format, rule string) fileKind {
		return fileKind{format: f, store: rule, explicit: true}
	}
	switch {
	case strings.HasSuffix(base, ".min.js") || strings.HasSuffix(base, ".min.css") || ext == ".map" ||
		ext == ".lock" || base == "package-lock.json" || base == "go.sum" || base == "yarn.lock" ||
		ext == ".svg" || ext == ".pdf" || ext == ".ipynb":
		return fileKind{skip: true}
	case base == "credentials-config.json":
		// DBeaver encrypts this file with a fixed key; its content is not
		// a readable credential and the engine's entropy rules see it.
		return fileKind{skip: true}
	case base == ".pgpass" || base == "pgpass.conf" || base == "pgpass":
		return store(fmtPgpass, "tollgate-hardcoded-db-client")
	case base == ".htpasswd" || base == "htpasswd" || ext == ".htpasswd":
		return store(fmtHtpasswd, "tollgate-hardcoded-htpasswd")
	case base == ".git-credentials" || base == "git-credentials":
		return store(fmtGitCredentials, "tollgate-hardcoded-git-credentials")
	case base == ".netrc" || base == "_netrc" || base == "netrc":
		return store(fmtNetrc, "tollgate-hardcoded-netrc")
	case base == ".my.cnf" || base == "my.cnf" || base == "my.ini":
		return store(fmtINI, "tollgate-hardcoded-db-client")
	case base == ".esmtprc" || base == ".msmtprc" || base == "msmtprc" || base == ".muttrc" ||
		base == "muttrc" || base == ".fetchmailrc" || strings.HasSuffix(l, "/.mutt/muttrc"):
		return store(fmtDirective, "tollgate-hardcoded-mail-client")
	case base == ".pypirc":
		return store(fmtINI, "tollgate-hardcoded-pypirc")
	case base == "pip.conf" || base == "pip.ini":
		return store(fmtINI, "tollgate-hardcoded-pip-config")
	case base == "credentials" && (strings.HasSuffix(l, ".aws/credentials") || l == "credentials"):
		k := store(fmtINI, "tollgate-hardcoded-aws-credentials")
		k.awsKeys = true
		return k
	case base == "sftp-config.json" || base == ".ftpconfig" || base == ".remote-sync.json" ||
		strings.HasSuffix(l, ".vscode/sftp.json") || base == "ftp-config.json":
		return store(fmtJSON, "tollgate-hardcoded-ftp-client")
	case base == "sitemanager.xml" || base == "recentservers.xml" || base == "filezilla.xml":
		return store(fmtXML, "tollgate-hardcoded-ftp-client")
	case base == "winscp.ini":
		return store(fmtINI, "tollgate-hardcoded-ftp-client")
	case strings.Contains(l, ".idea/") && ext == ".xml":
		return store(fmtXML, "tollgate-hardcoded-ide-config")
	case base == "credentials.xml":
		return store(fmtXML, "tollgate-hardcoded-jenkins-credentials")
	case base == "settings.xml" || base == "settings-security.xml":
		return store(fmtXML, "tollgate-hardcoded-maven-settings")
	case base == "nuget.config":
		return store(fmtXML, "tollgate-hardcoded-nuget-config")
	case base == "wp-config.php" || base == "wp-config-sample.php":
		return fileKind{format: fmtCode, store: "tollgate-hardcoded-wordpress-config"}
	case ext == ".py" && (base == "settings.py" || strings.Contains(l, "/settings/")):
		return fileKind{format: fmtCode, store: "tollgate-hardcoded-django-settings"}
	case base == "database.yml" || base == "database.yaml":
		return fileKind{format: fmtYAML, store: "tollgate-hardcoded-rails-database"}
	case ext == ".sql":
		return fileKind{format: fmtSQL, store: "tollgate-hardcoded-sql-dump"}
	case base == "dockerfile" || strings.HasPrefix(base, "dockerfile.") || ext == ".dockerfile" ||
		base == "containerfile":
		return fileKind{format: fmtDockerfile}
	case base == ".env" || strings.HasPrefix(base, ".env.") || ext == ".env" || base == "env" ||
		base == "config" || base == "configuration" || base == "secrets" || base == "vars" ||
		base == ".envrc":
		return fileKind{format: fmtEnv}
	}
	switch ext {
	case ".yml", ".yaml":
		return fileKind{format: fmtYAML}
	case ".json", ".jsonc", ".json5":
		return fileKind{format: fmtJSON}
	case ".xml", ".config", ".props", ".targets", ".pubxml", ".csproj", ".vbproj", ".xaml", ".plist", ".xsl", ".wsdl", ".jelly", ".launch":
		return fileKind{format: fmtXML}
	case ".ini", ".cfg", ".conf", ".cnf", ".inf", ".desktop", ".service":
		return fileKind{format: fmtINI}
	case ".properties":
		return fileKind{format: fmtProperties}
	case ".toml":
		return fileKind{format: fmtTOML}
	case ".tf", ".hcl", ".tfvars", ".nomad":
		return fileKind{format: fmtHCL}
	case ".py", ".pyw", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".go",
		".java", ".kt", ".kts", ".scala", ".groovy", ".gradle", ".cs", ".vb", ".php", ".phtml",
		".rb", ".rake", ".swift", ".rs", ".c", ".h", ".cc", ".cpp", ".hpp", ".cxx", ".m", ".mm",
		".dart", ".lua", ".pl", ".pm", ".r", ".jl", ".ex", ".exs", ".clj", ".fs", ".fsx":
		return fileKind{format: fmtCode}
	case ".sh", ".bash", ".zsh", ".ksh", ".ps1", ".psm1", ".bat", ".cmd", ".fish":
		return fileKind{format: fmtShell}
	case ".html", ".htm", ".xhtml", ".jsp", ".cshtml", ".razor", ".erb", ".vue", ".svelte", ".hbs", ".twig", ".ejs", ".aspx", ".asp":
		return fileKind{format: fmtHTML}
	}
	switch base {
	case ".bashrc", ".zshrc", ".profile", ".bash_profile", ".zprofile", ".kshrc":
		return fileKind{format: fmtShell}
	}
	return fileKind{format: fmtUnknown}
}

// ruleForClass maps a credential class to its key-based rule ID.
func ruleForClass(class string) string {
	switch class {
	case classPassword:
		return "tollgate-hardcoded-password"
	case classSecret:
		return "tollgate-hardcoded-secret"
	case classToken:
		return "tollgate-hardcoded-token"
	case classAPIKey:
		return "tollgate-hardcoded-api-key"
	}
	return "tollgate-hardcoded-password"
}

// basicFixture reports, in a test, an HTTP Basic credential that is either
// not valid base64 of user:password (a malformed-header test case) or whose
// password is a common guess (Aladdin:open sesame).
func basicFixture(line []byte, v string) bool {
	if !bytes.Contains(bytes.ToLower(line), []byte("basic "+strings.ToLower(v))) {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return true
	}
	_, pw, ok := strings.Cut(string(dec), ":")
	return !ok || isCommonGuess(pw) || isPlaceholder(pw) || looksLikeProse(pw)
}

// decodeBase64Text decodes a standard or URL base64 value whose content is
// printable ASCII text.
func decodeBase64Text(v string) (string, bool) {
	if len(v) < 8 || len(v)%4 != 0 {
		return "", false
	}
	dec, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		if dec, err = base64.URLEncoding.DecodeString(v); err != nil {
			return "", false
		}
	}
	for _, c := range dec {
		if c < 0x20 || c > 0x7e {
			return "", false
		}
	}
	return string(dec), true
}

// namesCredential reports an identifier that has a credential word among
// its words (x-ms-authorization-auxiliary): a header or setting name.
func namesCredential(v string) bool {
	for _, w := range splitKey(v) {
		switch w {
		case "password", "passwd", "secret", "token", "authorization", "credentials", "credential", "apikey":
			return true
		}
	}
	return false
}
