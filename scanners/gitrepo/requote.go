package gitrepo

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
)

// requote passes a patch (git diff, git log -p) through with one change,
// for the patch parser: in the names of its header lines, an escaped
// backslash (\\) is written as the octal escape \134, which reads back as
// the same backslash. The parser takes a quote after a backslash for an
// escaped one, so a quoted name ending in a backslash (a file odd\, quoted
// "a/odd\\") never ended, and the file was dropped with its lines. The
// lines of a hunk, which start with '+', '-', ' ' or '\' as some header
// lines do, are counted from the hunk's header and never changed.
func requote(r io.Reader) io.Reader {
	return &requoter{br: bufio.NewReaderSize(r, 64<<10)}
}

type requoter struct {
	br  *bufio.Reader
	out []byte // what is left to return of the line read
	// oldLeft and newLeft are the lines of the current hunk not yet read.
	oldLeft, newLeft int
	// midLine: the line being read is longer than the buffer; the rest of
	// it passes through.
	midLine bool
	err     error
}

// nameLines are the header lines that carry file names.
var nameLines = [][]byte{[]byte("diff --git "), []byte("--- "), []byte("+++ "), []byte("rename from "), []byte("rename to "), []byte("copy from "), []byte("copy to ")}

func (q *requoter) Read(p []byte) (int, error) {
	for len(q.out) == 0 {
		if q.err != nil {
			return 0, q.err
		}
		line, err := q.br.ReadSlice('\n')
		switch err {
		case nil:
		case bufio.ErrBufferFull:
			err = nil
		default:
			q.err = err
		}
		if len(line) == 0 {
			continue
		}
		full := line[len(line)-1] == '\n'
		if !q.midLine {
			line = q.classify(line, full)
		}
		q.midLine = !full
		q.out = line
	}
	n := copy(p, q.out)
	q.out = q.out[n:]
	return n, nil
}

// classify follows the patch's structure by the start of a line, and
// returns the line to pass on (whole when full).
func (q *requoter) classify(line []byte, full bool) []byte {
	if q.oldLeft > 0 || q.newLeft > 0 {
		switch line[0] {
		case '-':
			q.oldLeft--
			return line
		case '+':
			q.newLeft--
			return line
		case ' ':
			q.oldLeft--
			q.newLeft--
			return line
		case '\\': // "\ No newline at end of file"
			return line
		}
		q.oldLeft, q.newLeft = 0, 0 // the hunk is cut short: a header again
	}
	if bytes.HasPrefix(line, []byte("\\")) {
		return line // the marker after a hunk's last line
	}
	if bytes.HasPrefix(line, []byte("@@ -")) {
		q.oldLeft, q.newLeft = hunkCounts(line)
		return line
	}
	if !full || !bytes.Contains(line, []byte(`\\`)) {
		return line
	}
	for _, prefix := range nameLines {
		if bytes.HasPrefix(line, prefix) {
			return requoteNames(line)
		}
	}
	return line
}

// hunkCounts reads the lines a hunk header "@@ -a[,b] +c[,d] @@" announces
// (0, 0 when it does not parse: the lines after it are taken for headers).
func hunkCounts(line []byte) (oldN, newN int) {
	rest := line[len("@@ -"):]
	oldSpec, rest, ok := bytes.Cut(rest, []byte(" +"))
	if !ok {
		return 0, 0
	}
	newSpec, _, ok := bytes.Cut(rest, []byte(" @@"))
	if !ok {
		return 0, 0
	}
	count := func(spec []byte) int {
		_, c, ok := bytes.Cut(spec, []byte(","))
		if !ok {
			return 1
		}
		n, err := strconv.Atoi(string(c))
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	return count(oldSpec), count(newSpec)
}

// requoteNames writes every \\ inside the quoted names of a header line
// as \134. An unquoted name holds neither a quote nor a backslash (git
// quotes a name that does).
func requoteNames(line []byte) []byte {
	out := make([]byte, 0, len(line)+8)
	quoted := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted && i+1 < len(line):
			if line[i+1] == '\\' {
				out = append(out, `\134`...)
			} else {
				out = append(out, c, line[i+1])
			}
			i++
			continue
		}
		out = append(out, c)
	}
	return out
}
