package report

import (
	"strings"
	"unicode"
)

// Markdown escapes untrusted text (file names, messages, rule descriptions
// from a repository's own config) for a markdown line or table cell: it
// cannot open a link, an image or an autolink, emit HTML or an entity,
// mention a person, break out of a table cell, start a heading, list, quote
// or rule, format text, or open math (Azure DevOps renders $...$). Line
// breaks and runs of space become one space. It escapes what CommonMark,
// GFM and Azure DevOps read as markup and no more, so the raw text stays
// readable (app/keys.py:2, not app/keys\.py&#58;2): backslash escapes for
// punctuation, a character reference only for the '@' of a mention and the
// ':' of a URL scheme, where a backslash would not stop the autolinker.
func Markdown(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	b.Grow(len(s) + 8)
	escAt := lineStart(s)
	for i, r := range s {
		if i == escAt {
			b.WriteByte('\\')
		}
		switch r {
		case '\\', '`', '*', '_', '[', ']', '|', '~', '<', '&', '$', '^':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '@':
			// A mention (@name, @<id>, @[team]) or an e-mail autolink.
			if next := nextRune(s, i+1); unicode.IsLetter(next) || unicode.IsDigit(next) || strings.ContainsRune("<[_-.", next) {
				b.WriteString("&#64;")
			} else {
				b.WriteRune(r)
			}
		case ':':
			// A URL autolink (scheme://...).
			if strings.HasPrefix(s[i+1:], "//") {
				b.WriteString("&#58;")
			} else {
				b.WriteRune(r)
			}
		case '.':
			// A www. autolink.
			if i >= 3 && strings.EqualFold(s[i-3:i], "www") {
				b.WriteString(`\.`)
			} else {
				b.WriteRune(r)
			}
		default:
			b.WriteString(SafeText(string(r)))
		}
	}
	return b.String()
}

// lineStart returns where a backslash stops the text from opening a block
// when it starts a line: a heading (#), a list item (-, +, 1. or 1)), a
// quote (>), a setext underline or rule (=, -); -1 when nothing would.
// (An indented code block cannot start: the text is trimmed.)
func lineStart(s string) int {
	if s == "" {
		return -1
	}
	if strings.IndexByte("#-+>=", s[0]) >= 0 {
		return 0
	}
	digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
	if digits > 0 && digits < len(s) && (s[digits] == '.' || s[digits] == ')') {
		return digits
	}
	return -1
}

func nextRune(s string, i int) rune {
	for _, r := range s[i:] {
		return r
	}
	return 0
}
