package scanners

import (
	"net/url"
	"regexp"
	"strings"
)

// urlInText finds the URLs with a scheme in free text (notifications, log
// lines): go-getter's forced forms such as git::https://... included, since
// the match starts at the scheme.
var urlInText = regexp.MustCompile("[A-Za-z0-9+.-]*://[^\\s\"'<>`]+")

// pathUserinfo is a path segment that reads as userinfo (user:pw@).
var pathUserinfo = regexp.MustCompile(`/[^/@]*:[^/@]*@`)

// RedactURLs removes the credentials of every URL in text: userinfo, the
// whole query string and the fragment (tokens travel in all three: SAS
// signatures, private_token=, #access_token=). Tollgate's notifications and
// every log line (ours and the engines') pass through it.
func RedactURLs(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return urlInText.ReplaceAllStringFunc(text, func(u string) string {
		// A URL quoted in quoted text (an error in a log line: "Get
		// \"https://host/v2/\": ...") ends in the backslash of the
		// escaped quote, which is not the URL's.
		trimmed := strings.TrimRight(u, `\`)
		return RedactURL(trimmed) + u[len(trimmed):]
	})
}

// RedactURL returns a URL-like string (a URL, an scp-like git remote, a
// Terraform module source) without userinfo, query string or fragment. A URL
// that does not parse is replaced, never returned as it was.
func RedactURL(raw string) string {
	if scheme, _, ok := strings.Cut(raw, "://"); ok {
		u, err := url.Parse(raw)
		if err != nil {
			return scheme + "://[unparsable URL removed]"
		}
		u.User = nil
		u.RawQuery, u.ForceQuery = "", false
		u.Fragment, u.RawFragment = "", ""
		// A URL whose authority is empty (git:////x://user:pw@host) keeps
		// what reads as userinfo in its path: cut it there too.
		return pathUserinfo.ReplaceAllString(u.String(), "/")
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	// user:pass@host/path and user@host:path: what precedes the last '@'
	// before the path is userinfo.
	end := len(raw)
	if i := strings.IndexByte(raw, '/'); i >= 0 {
		end = i
	}
	if at := strings.LastIndexByte(raw[:end], '@'); at >= 0 {
		raw = raw[at+1:]
	}
	return raw
}
