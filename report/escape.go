package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tollgate/tollgate/scanners"
)

// The Azure Pipelines agent executes a logging command ("##vso[...]") found
// anywhere in a line of a task's output, and treats "##[" as formatting. A
// file name or a line of a scanned file is attacker-controlled, so nothing
// from a scan reaches the console without passing through SafeText: it never
// contains "##", a line break, a terminal escape or a bidi override.

// SafeText returns s made safe to print as part of one console line.
func SafeText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	writeSafe(&b, s, false, new(byte))
	return b.String()
}

// writeSafe escapes s onto b. keepNewlines lets '\n' through (for whole log
// records); last carries the previous byte written across calls.
func writeSafe(b *strings.Builder, s string, keepNewlines bool, last *byte) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(b, `\x%02x`, s[i])
			*last = 'x'
		case r == '\n' && keepNewlines:
			b.WriteByte('\n')
			*last = '\n'
		case r == '#':
			if *last == '#' {
				b.WriteByte('\\')
			}
			b.WriteByte('#')
			*last = '#'
		case r == '\t':
			b.WriteByte(' ')
			*last = ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(b, `\x%02x`, r)
			*last = 'x'
		case invisible(r):
			fmt.Fprintf(b, `\u%04x`, r)
			*last = 'x'
		default:
			b.WriteString(s[i : i+size])
			*last = s[i+size-1]
		}
		i += size
	}
}

// SafeWriter escapes everything written through it, keeping line breaks,
// and removes credentials from URLs (scanners.RedactURLs). It guards log
// output (ours and the engines') the way SafeText guards a value.
type SafeWriter struct {
	mu   sync.Mutex
	w    io.Writer
	last byte
	// keepURLs leaves URLs whole: the text is Tollgate's own, not data.
	keepURLs bool
}

// NewSafeWriter wraps w.
func NewSafeWriter(w io.Writer) *SafeWriter { return &SafeWriter{w: w} }

// NewEscapeWriter wraps w like NewSafeWriter, without the URL redaction:
// for text that is a rule's own (its pattern and examples name URLs with
// credentials on purpose), never for scanned data or logs.
func NewEscapeWriter(w io.Writer) *SafeWriter { return &SafeWriter{w: w, keepURLs: true} }

// Write implements io.Writer; it reports len(p) on success.
func (s *SafeWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	// Log lines (ours, Trivy's, gitleaks') may carry URLs with tokens.
	text := string(p)
	if !s.keepURLs {
		text = scanners.RedactURLs(text)
	}
	writeSafe(&b, text, true, &s.last)
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SARIFText encodes s as a SARIF plain-text message (SARIF 2.1.0
// §3.11.3-3.11.6): a literal '{' or '}' doubled, so that "{0}" in a
// Kubernetes name is not a placeholder; '[', ']' and '\' escaped with '\',
// so that "[Approve](https://evil.example)" in a module name is not an
// embedded link a viewer renders; control characters other than a line
// break or tab, and the bidi and invisible characters, written as \uXXXX
// (a backslash that is not one of these is itself escaped, so the form is
// unambiguous). SARIFPlain reverses it.
func SARIFText(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch {
		case r == '{':
			b.WriteString("{{")
		case r == '}':
			b.WriteString("}}")
		case r == '[' || r == ']' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || invisible(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// SARIFPlain decodes a message SARIFText encoded (and any plain-text
// message a SARIF producer wrote: its escapes mean the same).
func SARIFPlain(s string) string {
	if !strings.ContainsAny(s, "{}\\") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case (c == '{' || c == '}') && i+1 < len(s) && s[i+1] == c:
			b.WriteByte(c)
			i++
		case c == '\\' && i+1 < len(s) && (s[i+1] == '[' || s[i+1] == ']' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case c == '\\' && i+5 < len(s) && s[i+1] == 'u':
			if v, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil {
				b.WriteRune(rune(v))
				i += 5
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// invisible reports the format characters that reorder or hide text: the
// bidi controls, zero-width characters, word joiners and invisible
// operators, the Arabic letter mark, the soft hyphen, the byte-order mark
// and the tag characters.
func invisible(r rune) bool {
	return r == 0xad || r == 0x61c || (r >= 0x200b && r <= 0x200f) || r == 0x2028 || r == 0x2029 ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2060 && r <= 0x2064) || (r >= 0x2066 && r <= 0x206f) ||
		r == 0xfeff || (r >= 0xe0000 && r <= 0xe007f)
}
