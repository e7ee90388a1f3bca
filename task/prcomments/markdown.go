// Package prcomments decides what Tollgate writes on an Azure Repos pull
// request: the text of a finding's review thread and of the summary comment,
// escaped so that text from the checkout renders as text, and the changes that
// bring the pull request's threads in step with a scan's findings.
//
// It holds no client: the caller reads the threads, asks Reconcile for a plan
// and carries it out.
package prcomments

import (
	"fmt"
	"net/url"
	"strings"
)

// Text escapes s for Azure DevOps markdown so that it renders as the same
// characters and nothing else: no emphasis, heading, list, table, link,
// image, autolink, HTML element or @mention. Line breaks become spaces: a
// message must not open a block of its own.
func Text(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for _, r := range s {
		switch r {
		case '\r', '\n', '\t', '\v', '\f', '\u2028', '\u2029':
			b.WriteByte(' ')
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '@':
			// Mentions are @<GUID> or @name; an entity renders the sign
			// without either.
			b.WriteString("&#64;")
		case ':':
			// Breaks autolinks (https://, www., mailto:) and emoji shortcodes.
			b.WriteString("&#58;")
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '-', '.', '!', '|', '~', '=', '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\ufeff' || (r >= '\u200b' && r <= '\u200f') || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
				// Control, zero-width and bidirectional characters would let a
				// path read as something it is not.
				fmt.Fprintf(&b, "&#x%X;", r)
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

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
		return Text(label)
	}
	// The target is percent-encoded so that no character of it closes the
	// link or starts a title.
	esc := u.String()
	esc = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E", `"`, "%22", "'", "%27").Replace(esc)
	return "[" + Text(label) + "](" + esc + ")"
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
