package report

import "strings"

// Markdown escapes untrusted text (file names, messages, rule descriptions
// from a repository's own config) for a markdown line or table cell: it
// cannot open a link or an image, emit HTML, mention a person, break out of
// a table cell, start a heading, list or quote, or format text. Line breaks
// and runs of space become one space.
func Markdown(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '-', '.', '!', '|', '~', '>', '=':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '&':
			b.WriteString("&amp;")
		case '@':
			// No mention, no e-mail autolink.
			b.WriteString("&#64;")
		case ':':
			// No bare-URL autolink (https://...).
			b.WriteString("&#58;")
		default:
			b.WriteString(SafeText(string(r)))
		}
	}
	return b.String()
}
