// Package utf16text tells a UTF-16 text file by its first bytes and decodes
// it to UTF-8. Windows tools write PowerShell scripts, .reg and .config
// files so; git and gitleaks see their NUL bytes and take them for binary.
// The secrets engine scans them decoded, and the lines a pull request adds
// to them are counted decoded, by the same rule.
package utf16text

import (
	"bytes"
	"io"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Head is how many bytes Is needs to decide.
const Head = 8 << 10

// Is reports whether a file that starts with head is UTF-16 text: a
// byte-order mark, and the NUL bytes every UTF-16 file with a line break or
// an ASCII character has (a Latin-1 file may start with the same two bytes,
// and has none). Only the contents decide, never a name.
func Is(head []byte) bool {
	if len(head) > Head {
		head = head[:Head]
	}
	return len(head) >= 4 && (head[0] == 0xff && head[1] == 0xfe || head[0] == 0xfe && head[1] == 0xff) &&
		bytes.IndexByte(head[2:], 0) >= 0
}

// NewReader decodes a UTF-16 file (the byte-order mark says which order)
// into UTF-8. Line breaks survive decoding, so lines are the file's own.
func NewReader(r io.Reader) io.Reader {
	return transform.NewReader(r, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder())
}

// Decode is NewReader for a whole file in memory.
func Decode(b []byte) ([]byte, error) {
	return io.ReadAll(NewReader(bytes.NewReader(b)))
}
