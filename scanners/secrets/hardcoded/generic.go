package hardcoded

import (
	"bytes"
	"regexp"
	"strings"
)

// Rule IDs of the format-independent families.
const (
	ruleURI        = "tollgate-hardcoded-uri-password"
	ruleConnString = "tollgate-hardcoded-connection-string"
	ruleWebhook    = "tollgate-hardcoded-webhook"
)

// uriUserinfo is scheme://user:password@host. The password stops at
// characters that cannot appear unencoded in userinfo; the host must
// start like a host name or an IPv6 literal.
var uriUserinfo = regexp.MustCompile("\\b([A-Za-z][A-Za-z0-9+.\\-]{1,30})://([^\\s:/?#@\"'<>`\\[\\]{}()|\\\\]*):([^\\s/?#@\"'<>`|\\\\]+)@([A-Za-z0-9_\\-~%]|\\[[0-9A-Fa-f:.]+\\])")

// uriLine reports the password of every URI with userinfo. The scheme is
// not restricted: mongodb, postgres, redis, amqp, ftp, https, smtp, ldap
// and the rest all carry the password the same way.
func (s *scanner) uriLine(no int, line []byte) {
	if !bytes.Contains(line, []byte("://")) {
		return
	}
	for _, m := range uriUserinfo.FindAllSubmatchIndex(line, -1) {
		vs, ve := m[6], m[7]
		v := string(line[vs:ve])
		if strings.HasPrefix(v, "%") || strings.Contains(v, "{") || strings.HasPrefix(v, "$") {
			continue // %s, {password}, $PASS: format holes and references
		}
		if s.accept(line, "", classUserinfo, v) {
			s.add(no, vs, ve, "", ruleURI, v, prioGeneric)
		}
	}
}

// connParam is a password parameter of a JDBC URL, an ADO.NET, ODBC or
// Azure Storage connection string, or a URL query.
var connParam = regexp.MustCompile(`(?i)(?:^|[;?&\s"'(,])(password|pwd|passwd|userpass|user password|accountkey|sharedaccesskey)\s*=\s*(\{[^}]*\}|"[^"]*"|'[^']*'|[^;&"'\s<>)]+)`)

// connContext are the parameters that show a line holds a connection
// string, so that a lone "password=" in prose or code is left alone.
var connContext = []string{
	"server=", "data source=", "host=", "hostname=", "uid=", "user id=", "userid=",
	"username=", "user=", "database=", "initial catalog=", "dsn=", "driver=",
	"jdbc:", "accountname=", "endpoint=", "defaultendpointsprotocol=", "port=",
	"dbname=", "sslmode=", "provider=", "addr=", "address=",
}

// connStrLine reports passwords in connection strings.
func (s *scanner) connStrLine(no int, line, lower []byte) {
	if !bytes.Contains(lower, []byte("pass")) && !bytes.Contains(lower, []byte("pwd")) &&
		!bytes.Contains(lower, []byte("key=")) {
		return
	}
	ctx := false
	for _, c := range connContext {
		if bytes.Contains(lower, []byte(c)) {
			ctx = true
			break
		}
	}
	for _, m := range connParam.FindAllSubmatchIndex(line, -1) {
		lead := m[0]
		if !ctx && !(lead < len(line) && (line[lead] == '?' || line[lead] == '&')) {
			continue
		}
		vs, ve := m[4], m[5]
		switch line[vs] {
		case '{', '"', '\'':
			vs, ve = vs+1, ve-1
		}
		s.emitRule(no, line, vs, ve, string(line[m[2]:m[3]]), ruleConnString, prioGeneric)
	}
}

// webhooks are incoming-webhook URLs: whoever holds one can post to the
// channel. The reported value is the token path after the host.
var webhooks = []*regexp.Regexp{
	regexp.MustCompile(`https?://hooks\.slack\.com/((?:services|workflows|triggers)/[A-Za-z0-9_\-/]{20,})`),
	regexp.MustCompile(`https?://[A-Za-z0-9\-]+\.webhook\.office\.com/((?:webhookb2|webhook)/[A-Za-z0-9_\-@/.]{30,})`),
	regexp.MustCompile(`https?://outlook\.office(?:365)?\.com/(webhook/[A-Za-z0-9_\-@/.]{30,})`),
	regexp.MustCompile(`https?://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/(api/webhooks/\d{5,}/[A-Za-z0-9_\-]{20,})`),
	// Generic hooks.<host>/<token path>.
	regexp.MustCompile(`https?://hooks\.(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,}/([A-Za-z0-9_\-/]{20,})`),
}

// webhookLine reports webhook URLs whose token path is not a placeholder.
func (s *scanner) webhookLine(no int, line, lower []byte) {
	if !bytes.Contains(lower, []byte("hooks.")) && !bytes.Contains(lower, []byte("webhook")) {
		return
	}
	for _, re := range webhooks {
		for _, m := range re.FindAllSubmatchIndex(line, -1) {
			vs, ve := m[2], m[3]
			for ve > vs && line[ve-1] == '/' {
				ve--
			}
			v := string(line[vs:ve])
			if bytes.Contains(lowerASCII(line[m[0]:vs]), []byte("hooks.slack.com/")) && !slackHookPath(v) {
				continue // /app/ response URLs expire within minutes
			}
			if strings.Count(v, "/") < 1 || strings.Contains(strings.ToLower(v), "xxxx") ||
				strings.Contains(v, "00000000") || strings.Contains(strings.ToLower(v), "your") {
				continue
			}
			s.emitRule(no, line, vs, ve, "", ruleWebhook, prioKey)
		}
	}
}

// authHeader is an Authorization header value written into a string or a
// curl -H argument: "Authorization: Bearer x".
var authHeader = regexp.MustCompile(`(?i)\bauthorization\s*:\s*(?:bearer|basic|token|bot)\s+([A-Za-z0-9._~+/=\-]{8,})`)

// authHeaderLine reports the credential of an Authorization header.
func (s *scanner) authHeaderLine(no int, line, lower []byte) {
	if !bytes.Contains(lower, []byte("authorization")) {
		return
	}
	for _, m := range authHeader.FindAllSubmatchIndex(line, -1) {
		s.emit(no, line, m[2], m[3], "Authorization", classToken, prioGeneric)
	}
}

// emitRule is emit for the families whose rule does not come from a key.
func (s *scanner) emitRule(no int, line []byte, vs, ve int, key, rule string, prio int) {
	if vs < 0 || ve > len(line) || vs >= ve {
		return
	}
	v := string(line[vs:ve])
	if !s.accept(line, key, "", v) {
		return
	}
	s.add(no, vs, ve, key, rule, v, prio)
}

// slackHookPath reports the token paths of Slack incoming webhooks and
// workflow triggers.
func slackHookPath(v string) bool {
	return strings.HasPrefix(v, "services/") || strings.HasPrefix(v, "workflows/") || strings.HasPrefix(v, "triggers/")
}
