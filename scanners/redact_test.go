package scanners

import (
	"strings"
	"testing"
)

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		"module x has source git::https://user:tok3n@dev.azure.com/org/p/_git/m?ref=v1 (not fetched)": "module x has source git::https://dev.azure.com/org/p/_git/m (not fetched)",
		"GET https://acct.blob.core.windows.net/c/b?sv=2022&sig=S3CR3T failed":                        "GET https://acct.blob.core.windows.net/c/b failed",
		"https://gitlab.example.com/api/v4/x?private_token=glpat-AAAA#access_token=BBBB":              "https://gitlab.example.com/api/v4/x",
		"s3::https://s3.amazonaws.com/b/m.zip?aws_access_key_secret=xyz":                              "s3::https://s3.amazonaws.com/b/m.zip",
		"no url here":                      "no url here",
		"http://%zz:pw@host/":              "http://[unparsable URL removed]",
		"two: https://a:b@h1/x, ftp://h2/": "two: https://h1/x, ftp://h2/",
		// A quoted error in a log line: the escaped quote's backslash is
		// not the URL's (it read .../v2/%5C).
		`error="Get \"https://127.0.0.1:5000/v2/\": tls"`: `error="Get \"https://127.0.0.1:5000/v2/\": tls"`,
		`error="Get \"https://u:p@h/v2/?t=x\\\": tls"`:    `error="Get \"https://h/v2/\\\": tls"`,
	} {
		if got := RedactURLs(in); got != want {
			t.Errorf("RedactURLs(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"git@github.com:org/repo.git?ref=v2":         "github.com:org/repo.git",
		"user:pass@github.com/org/repo?token=x":      "github.com/org/repo",
		"registry.terraform.io/hashicorp/consul/aws": "registry.terraform.io/hashicorp/consul/aws",
		"bitbucket.org/org/mod#frag":                 "bitbucket.org/org/mod",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRedactURLs: whatever surrounds it, a URL's password, query values and
// fragment never survive redaction.
func FuzzRedactURLs(f *testing.F) {
	f.Add("see ", "https", "u", "host.example", "/p", " end")
	f.Add("", "git::ssh", "git", "h:22", "/a/b.git", "")
	f.Add("x(", "http", "", "[::1]:80", "", ")y")
	f.Fuzz(func(t *testing.T, before, scheme, user, host, path, after string) {
		const pw, qv, fr = "PWsecretVALUE1", "QUERYsecretVALUE2", "FRAGsecretVALUE3"
		in := before + scheme + "://" + user + ":" + pw + "@" + host + path + "?k=" + qv + "#" + fr + after
		if strings.ContainsAny(scheme+user+host+path, " \t\n\f\r\"'<>`") {
			return // the URL ends there: what follows is text, not its query
		}
		if strings.ContainsAny(user+host, "/?#@") || strings.ContainsAny(path, "?#") || path != "" && path[0] != '/' {
			return // then the "password" is part of the path, not userinfo
		}
		out := RedactURLs(in)
		for _, secret := range []string{pw, qv, fr} {
			if strings.Count(out, secret) > strings.Count(before+after+scheme+user+host+path, secret) {
				t.Fatalf("RedactURLs(%q) = %q keeps %s", in, out, secret)
			}
		}
	})
}
