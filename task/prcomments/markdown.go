// Package prcomments decides what Tollgate writes on an Azure Repos pull
// request: the text of a finding's review thread and of the summary comment,
// escaped (report.Markdown) so that text from the checkout renders as text,
// and the changes that bring the pull request's threads in step with a
// scan's findings.
//
// It holds no client: the caller reads the threads, asks Reconcile for a plan
// and carries it out.
package prcomments

import (
	"net/url"
	"strings"

	"github.com/tollgate/tollgate/report"
)

// Code returns s as inline code: a span whose fence is longer than any run of
// backticks in s, on one line.
func Code(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || s == "" {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

// Block returns s as a fenced code block in language lang whose fence no line
// of s can close.
func Block(lang, s string) string {
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	s = strings.TrimRight(strings.ReplaceAll(s, "\r", ""), "\n")
	return fence + lang + "\n" + s + "\n" + fence
}

// Link returns a markdown link to target with the escaped label, or the label
// alone when target is not an absolute https URL (a link from a repository's
// configuration must not run script or point at a relative path).
func Link(label, target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return report.Markdown(label)
	}
	// The target is percent-encoded so that no character of it closes the
	// link or starts a title.
	esc := u.String()
	esc = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E", `"`, "%22", "'", "%27").Replace(esc)
	return "[" + report.Markdown(label) + "](" + esc + ")"
}

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}
