package hardcoded

import (
	"net/url"
	"path"
	"regexp"
	"strings"
	"unicode"
)

// Credential classes: what a key name says its value is. Each class maps to
// one rule ID for the key-based families.
const (
	classPassword = "password"
	classSecret   = "secret"
	classToken    = "token"
	classAPIKey   = "api-key"
	// classConnStr keys (connection_string) are never reported whole: the
	// connection-string rule reports the password inside them, and a
	// connection string without one is not a credential.
	classConnStr = "connstr"
	// classUserinfo is the password slot of a URI (scheme://user:PASS@host):
	// whatever stands there is the password, even a word that reads like a
	// key name (apppass), so the name-like filters do not apply.
	classUserinfo = "userinfo"
)

// passwordWords are the last words of a key that names a password.
var passwordWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true,
	"passphrase": true, "passcode": true,
}

// passPrefixes are the few prefixes seen glued to "pass"/"pwd" in one
// lowercase word (dbpass, smtppwd). A general suffix match on "pass" would
// take bypass, compass and surpass.
var passPrefixes = map[string]bool{
	"db": true, "user": true, "admin": true, "root": true, "smtp": true,
	"mail": true, "ftp": true, "sftp": true, "sql": true, "mysql": true,
	"pg": true, "redis": true, "imap": true, "pop": true, "ldap": true,
	"bind": true, "login": true, "master": true, "sa": true, "sys": true,
	"proxy": true, "wifi": true, "vnc": true, "rdp": true, "app": true,
	"api": true, "my": true, "auth": true, "ssh": true, "key": true,
}

// nginxPass are nginx directives ending in _pass whose value is an upstream.
var nginxPass = map[string]bool{
	"proxy": true, "fastcgi": true, "uwsgi": true, "scgi": true,
	"grpc": true, "memcached": true, "by": true,
}

// tokenDeny are qualifiers that turn "token" into a cursor or a lexer
// token rather than a credential (next_token, page_token, cancel_token).
var tokenDeny = map[string]bool{
	"next": true, "page": true, "continuation": true, "pagination": true,
	"cancel": true, "cancellation": true, "sync": true, "resume": true,
	"csrf": true, "xsrf": true, "max": true, "min": true, "start": true,
	"end": true, "eof": true, "last": true, "first": true, "prev": true,
	"previous": true, "current": true, "cur": true, "lexer": true,
	"parse": true, "parser": true, "syntax": true, "sep": true,
	"separator": true, "delimiter": true, "stop": true, "special": true,
	"bos": true, "pad": true, "unk": true, "mask": true, "cls": true,
	"is": true, "has": true, "use": true, "no": true, "token": true,
	"text": true, "word": true, "search": true, "query": true,
	"type": true,
}

// keyQualifiers are the words in front of "key" that make a *Key name a
// credential; without one, "key" is a map key, a primary key or a cache key.
var keyQualifiers = map[string]string{
	"api": classAPIKey, "access": classAPIKey, "slack": classAPIKey,
	"stripe": classAPIKey, "sendgrid": classAPIKey, "mailgun": classAPIKey,
	"twilio": classAPIKey, "google": classAPIKey, "maps": classAPIKey,
	"firebase": classAPIKey, "openai": classAPIKey, "github": classAPIKey,
	"gitlab": classAPIKey, "subscription": classAPIKey, "license": classAPIKey,
	"account": classAPIKey, "storage": classAPIKey, "service": classAPIKey,
	"consumer": classAPIKey, "app": classAPIKey, "application": classAPIKey,
	"client": classAPIKey, "developer": classAPIKey, "dev": classAPIKey,
	"bot": classAPIKey, "admin": classAPIKey, "sas": classAPIKey,
	"secret": classSecret, "private": classSecret, "encryption": classSecret,
	"signing": classSecret, "master": classSecret, "hmac": classSecret,
	"jwt": classSecret, "session": classSecret, "crypt": classSecret,
	"cipher": classSecret, "aes": classSecret, "auth": classSecret,
	"shared": classSecret, "webhook": classSecret, "decryption": classSecret,
}

// concatTokenDeny are one-word token names that are not credentials.
var concatTokenDeny = map[string]bool{
	"nexttoken": true, "pagetoken": true, "csrftoken": true, "xsrftoken": true,
	"canceltoken": true, "cancellationtoken": true, "synctoken": true,
	"continuationtoken": true, "maxtoken": true, "lasttoken": true,
	"firsttoken": true, "starttoken": true, "endtoken": true, "cleartoken": true,
	"parsetoken": true, "readtoken": true, "peektoken": true, "gettoken": true,
}

// splitKey lowercases a key and splits it into words on separators and
// camelCase boundaries, so DB_PASSWORD, dbPassword, db.password and
// DBPassword all end in the word "password". Trailing digits are dropped
// (password2) and numeric words skipped.
func splitKey(key string) []string {
	var words []string
	var cur []rune
	flush := func() {
		w := strings.TrimRightFunc(string(cur), unicode.IsDigit)
		if w != "" {
			words = append(words, strings.ToLower(w))
		}
		cur = cur[:0]
	}
	rs := []rune(key)
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if unicode.IsUpper(r) && len(cur) > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

// classifyKey returns the credential class a key names, or "" when it does
// not name a credential (password_policy, token_url, secret_name, bypass).
// Only the last word decides, so a key that merely mentions a credential
// before a noun of its own is not one.
func classifyKey(key string) string {
	if len(key) > 100 {
		return ""
	}
	words := splitKey(key)
	if len(words) == 0 {
		return ""
	}
	for _, w := range words[:len(words)-1] {
		// existingSecret, existingUserSecretKey, configFromSecret,
		// publicKeyToken: the name of a secret kept elsewhere (a Helm
		// chart's convention), or a public value.
		if w == "existing" || w == "from" || w == "public" {
			return ""
		}
	}
	last := words[len(words)-1]
	prev := ""
	if len(words) >= 2 {
		prev = words[len(words)-2]
	}
	switch {
	case passwordWords[last]:
		if last == "pass" && nginxPass[prev] {
			return ""
		}
		return classPassword
	case last == "secret":
		return classSecret
	case last == "token":
		if tokenDeny[prev] {
			return ""
		}
		return classToken
	case last == "key":
		return keyQualifiers[prev]
	case last == "credentials" || last == "credential" || last == "creds":
		return classSecret
	case last == "authorization":
		return classToken
	case last == "connectionstring" || last == "connstr" || last == "connstring" ||
		(last == "string" && (prev == "connection" || prev == "conn")) ||
		(last == "str" && prev == "conn"):
		return classConnStr
	case strings.HasSuffix(last, "apikey"):
		return classAPIKey
	case strings.HasSuffix(last, "password") || strings.HasSuffix(last, "passwd") ||
		strings.HasSuffix(last, "passphrase"):
		return classPassword
	case strings.HasSuffix(last, "secret") && last != "nosecret":
		return classSecret
	case strings.HasSuffix(last, "privatekey") || strings.HasSuffix(last, "secretkey"):
		return classSecret
	case strings.HasSuffix(last, "token") && !concatTokenDeny[last]:
		return classToken
	case strings.HasSuffix(last, "pass") && passPrefixes[strings.TrimSuffix(last, "pass")]:
		return classPassword
	case strings.HasSuffix(last, "pwd") && passPrefixes[strings.TrimSuffix(last, "pwd")]:
		return classPassword
	}
	return ""
}

// hashLike matches password hashes in crypt(3), phpass, Django and LDAP
// notation. They start with "$" or "{" but are values, not references.
var hashLike = regexp.MustCompile(`^(?:\$(?:1|2[abxy]?|5|6|7|y|gy|apr1|argon2(?:id|i|d)|P|H|md5|sha1|sha256|sha512|pbkdf2[\w-]*|scrypt)\$|(?:pbkdf2_sha\d+|sha1|md5|bcrypt|argon2|scrypt)\$|\{(?:SSHA|SHA|SSHA256|SSHA512|SHA256|SHA512|MD5|SMD5|CRYPT|bcrypt|BCRYPT|PBKDF2[\w-]*)\})`)

// hexHash matches bare digests (MD5, SHA-1, SHA-256, SHA-512 in hex).
var hexHash = regexp.MustCompile(`^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$`)

// isHashLike reports a stored password hash.
func isHashLike(v string) bool {
	return hashLike.MatchString(v) || hexHash.MatchString(v)
}

// isReference reports values that point at a credential kept elsewhere:
// environment and template references, CloudFormation intrinsics, vault
// and Key Vault references, calls and subscripts, encrypted blobs.
func isReference(v string) bool {
	if isHashLike(v) {
		return false
	}
	l := strings.ToLower(v)
	switch {
	case strings.HasPrefix(v, "$"):
		// $VAR, ${VAR}, $(VAR), $env:VAR, but not a lone "$".
		return len(v) > 1 && (v[1] == '{' || v[1] == '(' || v[1] == '_' || isLetter(v[1]))
	case strings.Contains(v, "${") || strings.Contains(v, "$(") || strings.Contains(v, "{{") ||
		strings.Contains(v, "}}") || strings.Contains(v, "#{") || strings.Contains(v, "<%") ||
		strings.Contains(v, "{%") || strings.Contains(v, "@{") || strings.Contains(v, "$env:"):
		return true
	case len(v) > 2 && v[0] == '%' && v[len(v)-1] == '%':
		return true // %VAR% (Windows, Azure Pipelines)
	case len(v) > 3 && v[0] == '[' && v[1] != '[' && v[len(v)-1] == ']' && strings.Contains(v, "("):
		return true // an ARM template expression: [listKeys(...).primarySharedKey], [parameters('pw')]
	case strings.HasPrefix(v, "!"):
		return true // YAML tags: !Ref, !Sub, !ImportValue, !GetAtt, !vault
	case strings.HasPrefix(l, "@microsoft.keyvault("), strings.HasPrefix(l, "vault:"),
		strings.HasPrefix(l, "secret:"), strings.HasPrefix(l, "ssm:"),
		strings.HasPrefix(l, "arn:aws:secretsmanager"), strings.HasPrefix(l, "arn:aws:ssm"),
		strings.HasPrefix(l, "projects/") && strings.Contains(l, "/secrets/"),
		strings.HasPrefix(l, "azurekeyvault") || strings.HasPrefix(l, "keyvault:"),
		strings.HasPrefix(l, "enc(") || strings.HasPrefix(l, "{cipher}") ||
			strings.HasPrefix(l, "encrypted:") || strings.HasPrefix(l, "env(") ||
			strings.HasPrefix(l, "env:") || strings.HasPrefix(l, "ref+") ||
			strings.HasPrefix(l, "op://") || strings.HasPrefix(l, "secretref:"):
		return true
	case strings.Contains(l, "process.env") || strings.Contains(l, "os.environ") ||
		strings.Contains(l, "os.getenv") || strings.Contains(l, "getenv(") ||
		strings.Contains(l, "env[") || strings.Contains(l, "secrets.") ||
		strings.Contains(l, "secrets[") || strings.Contains(l, "vars."):
		return true
	}
	return callOrSubscript.MatchString(v)
}

// callOrSubscript is an unquoted RHS that is code: get_password(),
// user.password, config['db'], settings.DB.PASSWORD.
var callOrSubscript = regexp.MustCompile(`^[A-Za-z_][\w]*(?:(?:\.|::|->)[A-Za-z_]\w*)*(?:\(.*\)|\[.*\])$|^[a-z_]\w*(?:\.[A-Za-z_]\w*)+$`)

func isLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// placeholderExact are whole values (lowercased, letters and digits only)
// that stand in for a credential.
var placeholderExact = map[string]bool{
	"password": true, "passwd": true, "pass": true, "pwd": true, "secret": true,
	"token": true, "apikey": true, "key": true, "none": true, "null": true,
	"nil": true, "undefined": true, "empty": true, "redacted": true,
	"hidden": true, "masked": true, "notset": true, "unset": true, "fixme": true,
	"tbd": true, "todo": true, "secretkey": true, "accesstoken": true,
	"authtoken": true, "clientsecret": true, "privatekey": true,
	"passphrase": true, "credentials": true, "credential": true, "value": true,
	"string": true, "str": true, "required": true, "optional": true,
	"default": true, "omitted": true, "removed": true, "censored": true,
	"sensitive": true, "confidential": true, "secretvalue": true,
	"tokenvalue": true, "pwhere": true, "na": true, "nope": true,
	"bearer": true, "basic": true, "xyz": true, "abc": true, "xoauthbasic": true,
	"sanitized": true, "sanitised": true, "scrubbed": true, "filtered": true,
	"unused": true, "notused": true, "ignored": true, "anonymous": true,
}

// placeholderParts are substrings of a placeholder value.
var placeholderParts = []string{
	"changeme", "changethis", "replaceme", "replace", "placeholder", "example",
	"dummy", "sample", "insert", "enteryour", "fillin", "notreal", "fake",
	"yourpassword", "yoursecret", "yourtoken", "yourkey", "yourapikey",
	"secrethere", "passwordhere", "tokenhere", "keyhere", "puthere", "goeshere",
	"template", "redacted", "obfuscated", "mask",
}

// documentedDefaults are well-known default passwords: reported as real
// weak credentials, except where the file or line says it is an example.
var documentedDefaults = map[string]bool{
	"changeit": true, "admin": true, "root": true, "guest": true,
	"postgres": true, "mysql": true, "sa": true, "letmein": true,
	"password1": true, "password123": true, "admin123": true, "root123": true,
	"secret123": true, "123456": true, "12345678": true, "pssw0rd": true,
	"passw0rd": true, "qwerty": true, "tomcat": true, "oracle": true,
	"hunter2": true, "opensesame": true, "foobared": true,
}

// normalize keeps the lowercased letters and digits of v.
func normalize(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		}
	}
	return b.String()
}

// isPlaceholder reports a stand-in value: <password>, ****, xxx, changeme,
// REPLACE_ME, your-token-here, [secret], a value that only names its class.
func isPlaceholder(v string) bool {
	if v == "" {
		return true
	}
	first, last := v[0], v[len(v)-1]
	// <password>, [secret], {token}: a name in brackets. Encrypted blobs in
	// braces ({AQAAABAAAAAQ...} in Jenkins, {COQLCE6...=} in Maven) carry
	// digits or base64 punctuation and stay values.
	if (first == '<' && last == '>') || (first == '[' && last == ']') ||
		(first == '(' && last == ')') || (first == '{' && last == '}') {
		if !strings.ContainsAny(v, "0123456789+/=") {
			return true
		}
	}
	if allSame(v) || strings.Contains(v, "***") || strings.Contains(v, "\u2022") ||
		strings.Contains(v, "...") || strings.Contains(strings.ToLower(v), "xxx") {
		return true
	}
	n := normalize(v)
	if n == "" || placeholderExact[n] {
		return true
	}
	for _, p := range placeholderParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	if strings.HasPrefix(n, "your") || strings.HasSuffix(n, "here") {
		return true
	}
	// mypassword, mysecret, my_api_key: the name of the thing, not the thing.
	if strings.HasPrefix(n, "my") && classifyKey(n[2:]) != "" {
		return true
	}
	return false
}

func allSame(v string) bool {
	for i := 1; i < len(v); i++ {
		if v[i] != v[0] {
			return false
		}
	}
	return true
}

// keyNameValue reports a value that is itself a credential key name
// (GITHUB_TOKEN, db.password): it names where the credential lives.
var keyNameValue = regexp.MustCompile(`^(?:[A-Z][A-Z0-9_]*|[a-z][a-z0-9_.:\-]*|[a-z]+(?:[A-Z][a-z0-9]*)+|(?:[A-Z][a-z]+)+)$`)

// formatVerb matches printf and .NET/Python format holes.
var formatVerb = regexp.MustCompile(`%[-+# 0]*\d*(?:\.\d+)?[sdvqxXfgtbpwe]|%\([\w.]+\)[sd]|\{\d*\}|\{[a-z_][\w.]*\}`)

// isBool reports flag values.
func isBool(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off", "null", "nil", "none", "~", "enabled", "disabled":
		return true
	}
	return false
}

// looksLikePath reports a file path: password_file values, PWD=/home/x.
func looksLikePath(v string) bool {
	if strings.ContainsAny(v, " \t") {
		return false
	}
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "../") ||
		strings.HasPrefix(v, "~/") || (len(v) > 2 && isLetter(v[0]) && v[1] == ':' && (v[2] == '\\' || v[2] == '/')) {
		return true
	}
	switch strings.ToLower(path.Ext(v)) {
	case ".json", ".pem", ".key", ".txt", ".p12", ".pfx", ".jks", ".crt", ".cer", ".keystore", ".yaml", ".yml", ".gpg", ".asc":
		return strings.ContainsAny(v, "/\\") || len(v) > len(path.Ext(v))+1
	}
	return false
}

// looksLikeProse reports UI text and messages ("Mot de passe", "Invalid
// token"): natural language rather than a chosen secret. A single space
// with a digit or symbol ("Summer 2024!") still counts as a password.
func looksLikeProse(v string) bool {
	spaces := strings.Count(v, " ")
	if spaces == 0 {
		return strings.HasSuffix(v, ":") || strings.HasSuffix(v, "?")
	}
	if spaces >= 2 {
		return true
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isLetter(c) || c == ' ' || c == '\'' || c == ',' || c == '.' || c >= 0x80) {
			return false
		}
	}
	return true
}

// commonGuesses are the values test suites use for credentials; in a test
// path they are fixtures, not leaks. Real-looking values stay findings.
var commonGuesses = map[string]bool{
	"test": true, "testing": true, "tester": true, "pass": true, "password": true,
	"passwd": true, "secret": true, "token": true, "foo": true, "bar": true,
	"baz": true, "foobar": true, "qux": true, "abc": true, "abcd": true,
	"abcdef": true, "qwerty": true, "letmein": true, "admin": true, "root": true,
	"user": true, "hunter": true, "sekret": true, "scrt": true, "pw": true,
	"pwd": true, "mypass": true, "asdf": true, "changeit": true, "guest": true,
	"demo": true, "sesame": true, "opensesame": true, "correct": true,
	"right": true, "good": true, "valid": true, "key": true, "apikey": true,
	"s": true, "p": true, "pa": true, "ssword": true, "passw": true,
	"passwor": true, "pas": true, "topsecret": true, "gopher": true, "shh": true, "supersecret": true,
	"mysecret": true, "mytoken": true, "mypassword": true, "hello": true,
	"world": true, "helloworld": true, "xyz": true, "bob": true, "alice": true,
	"pencil": true, "swordfish": true, "tiger": true, "scott": true,
	"wrong": true, "bad": true, "invalid": true, "other": true, "new": true,
	"old": true, "secretpassword": true, "passwordpassword": true,
	"pwpw": true, "passpass": true, "userpass": true, "adminpass": true,
}

// leet undoes the digit-for-letter spelling of fixture passwords (secr3t,
// p4ssw0rd) before they are compared with the common guesses.
var leet = strings.NewReplacer("0", "o", "1", "i", "3", "e", "4", "a", "5", "s", "7", "t", "@", "a", "$", "s")

// nearGuesses are the words test authors misspell on purpose (pasword).
var nearGuesses = []string{"password", "secret", "token", "passwd"}

// isCommonGuess reports a value a test would choose as a fixture.
func isCommonGuess(v string) bool {
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	l := leet.Replace(strings.ToLower(v))
	for _, w := range []string{"test", "fake", "mock", "wrong", "invalid", "bad", "fixture", "stub", "secret", "passw"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	letters := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r
		}
		return -1
	}, l)
	if letters == "" || commonGuesses[letters] || commonGuesses[lettersOf(strings.ToLower(v))] {
		return true
	}
	if fixtureShape.MatchString(v) {
		return true
	}
	for _, g := range nearGuesses {
		if oneDeletion(letters, g) || oneDeletion(g, letters) {
			return true
		}
	}
	return false
}

// fixtureShape is a value written to fill a field in a test rather than
// chosen as a password: one-case words with separators and an optional
// number (first-with-port, SESSION, key1), or digits only. Generated and
// human passwords mix cases, digits or symbols and stay findings.
var fixtureShape = regexp.MustCompile(`^(?:[a-z][a-z_\-. ]*|[A-Z][A-Z_\-. ]*)[0-9]*$|^[0-9]+$`)

func lettersOf(l string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r
		}
		return -1
	}, l)
}

// oneDeletion reports whether deleting one byte of long gives short.
func oneDeletion(long, short string) bool {
	if len(long) != len(short)+1 {
		return false
	}
	i := 0
	for i < len(short) && long[i] == short[i] {
		i++
	}
	return long[i+1:] == short[i:]
}

// isTestVector reports a long hexadecimal value: in a test path under a
// secret or key name it is a cryptographic known-answer vector (ECDH shared
// secrets, HPKE exporter secrets), not a chosen credential.
func isTestVector(v string) bool {
	if len(v) < 32 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// enumValues are the settings a credential-named option takes when it is
// a mode, not a secret: fetch's credentials: "same-origin".
var enumValues = map[string]bool{
	"same-origin": true, "include": true, "omit": true, "auto": true, "inherit": true,
	"strict": true, "lax": true, "allow": true, "deny": true, "public": true,
	"private": true, "internal": true, "readonly": true, "read-only": true,
	"required": true, "optional": true, "prompt": true, "never": true, "always": true,
	"read": true, "write": true, "read-all": true, "write-all": true,
}

// noTextOutsideEscapes reports a value made only of escape sequences and
// non-ASCII symbols ("\u3299\ufe0f"): an emoji table, not a password.
func noTextOutsideEscapes(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			switch v[i+1] {
			case 'u':
				i += 5
				continue
			case 'x':
				i += 3
				continue
			case 'U':
				i += 9
				continue
			}
			i++
			continue
		}
		if c < 0x80 && (isLetter(c) || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// testSegments are directory names that hold tests and fixtures.
var testSegments = map[string]bool{
	"test": true, "tests": true, "testdata": true, "fixtures": true,
	"fixture": true, "__tests__": true, "spec": true, "specs": true,
	"__mocks__": true, "mocks": true, "testing": true, "testutil": true,
	"testutils": true, "e2e": true, "it": true,
}

// isTestPath reports a path in a test tree or a test file.
func isTestPath(p string) bool {
	l := strings.ToLower(p)
	for _, seg := range strings.Split(path.Dir(l), "/") {
		if testSegments[seg] {
			return true
		}
	}
	base := path.Base(p)
	lb := strings.ToLower(base)
	ext := path.Ext(lb)
	stem := strings.TrimSuffix(lb, ext)
	return strings.HasSuffix(stem, "_test") || strings.HasPrefix(stem, "test_") ||
		strings.HasSuffix(stem, ".test") || strings.HasSuffix(stem, ".spec") ||
		strings.HasSuffix(stem, "_spec") || strings.HasSuffix(base, "Test"+ext) ||
		strings.HasSuffix(base, "Tests"+ext)
}

// isExamplePath reports documentation and sample files, where documented
// defaults (changeit, guest) are examples rather than deployed passwords.
func isExamplePath(p string) bool {
	l := strings.ToLower(p)
	for _, w := range []string{"example", "sample", "template", ".dist", "/doc/", "/docs/", "readme", "demo", "tutorial", "swagger", "openapi"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return strings.HasPrefix(l, "doc/") || strings.HasPrefix(l, "docs/")
}

// lineSaysExample reports a line that presents its value as an example.
func lineSaysExample(line []byte) bool {
	l := strings.ToLower(string(line))
	return strings.Contains(l, "example") || strings.Contains(l, "e.g.") ||
		strings.Contains(l, "default") || strings.Contains(l, "sample")
}
