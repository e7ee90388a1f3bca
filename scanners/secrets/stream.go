package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/h2non/filetype"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/report"
)

// A file is read into fragments of at most fragmentSize bytes. A file that
// fits is one fragment, read whole: the hardcoded class parses its format
// (YAML, JSON, XML) from the top, multi-line secrets are whole, lines and
// columns are those of the file. A larger file is a stream of fragments
// that overlap, so memory is bounded by the fragment, not by the file, and
// a secret across a cut is whole in one fragment (gitleaks' own reader cuts
// a long line every 100-125 kB with no overlap and misses what straddles
// the cut).
const (
	fragmentSize = 1 << 20
	// unboundedSecret is the bound given to a rule whose pattern has no
	// longest match (an unbounded repeat: private keys, JWTs, generic
	// assignments): the longest such secret found across a cut. A PEM RSA
	// 8192-bit key is about 6.4 kB.
	unboundedSecret = 16 << 10
	// maxSecretBound caps what a configuration's rules can ask for, so
	// that a rule such as .{0,10000000} cannot make every fragment overlap
	// the next almost whole.
	maxSecretBound = 256 << 10
	// edgeMargin is the context kept on each side of a fragment's owned
	// part: a match that touches a cut (its start or end lost) lies within
	// it and is not reported from that fragment.
	edgeMargin = 1 << 10
	// lineContext is how much of a long line a finding of a streamed file
	// keeps on each side of its match (the line's text, the secret hashed,
	// is in its fingerprint; the whole of a 24 MiB line, or where a cut
	// fell in it, would be too, and would be held once per finding).
	lineContext = 256
	// lineAlign is how far back from the latest possible cut a line start
	// is looked for, so that a line shorter than this is never cut.
	lineAlign = 8 << 10
	// inFlight bounds the file bytes the workers hold at once.
	inFlight = 32 << 20
)

// geometry is how a file is cut: bound is the longest match reported
// across a cut (secretBound of the rules).
type geometry struct {
	size, bound, margin, align int
}

func newGeometry(bound int) geometry {
	return geometry{size: fragmentSize, bound: bound, margin: edgeMargin, align: lineAlign}
}

// secretBound is the longest match any rule of cfg can make, in bytes,
// from the rule's pattern, with unboundedSecret for a pattern that has
// none (or that Go's parser does not read), at least unboundedSecret and at
// most maxSecretBound.
func secretBound(cfg *config.Config) int {
	bound := unboundedSecret
	for _, r := range cfg.Rules {
		if r.Regex == nil {
			continue
		}
		re, err := syntax.Parse(r.Regex.String(), syntax.Perl)
		if err != nil {
			continue
		}
		if n, ok := longestMatch(re); ok {
			bound = max(bound, n)
		}
	}
	return min(bound, maxSecretBound)
}

// longestMatch is the most bytes re can match; ok is false when that has
// no bound (or exceeds maxSecretBound).
func longestMatch(re *syntax.Regexp) (n int, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return len(re.Rune) * utf8.UTFMax, true // a folded letter may be wider (K, the Kelvin sign)
		}
		for _, r := range re.Rune {
			n += utf8.RuneLen(r)
		}
		return n, true
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 0, true
		}
		return utf8.RuneLen(re.Rune[len(re.Rune)-1]), true
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax, true
	case syntax.OpCapture, syntax.OpQuest:
		return longestMatch(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		return 0, false
	case syntax.OpRepeat:
		n, ok := longestMatch(re.Sub[0])
		if re.Max < 0 || !ok || n*re.Max > maxSecretBound {
			return 0, false
		}
		return n * re.Max, true
	case syntax.OpConcat, syntax.OpAlternate:
		for _, s := range re.Sub {
			m, ok := longestMatch(s)
			if !ok {
				return 0, false
			}
			if re.Op == syntax.OpConcat {
				n += m
			} else {
				n = max(n, m)
			}
		}
		return min(n, maxSecretBound+1), n <= maxSecretBound
	}
	return 0, true // empty matches, anchors, word boundaries
}

// window is one fragment of a file: data starts at byte offset start of
// the file, on line (1-based) at column col0+1; the findings it reports
// are those that start in [from, to) (file offsets).
type window struct {
	data      []byte
	start     int64
	line      int
	col0      int
	from, to  int64
	last      bool
	streaming bool // the file is more than one fragment
}

// errBinary stops reading a file in a binary format.
var errBinary = errors.New("binary format")

// fragments reads r into windows of at most g.size bytes (buf's length),
// each passed to yield; buf is reused. Consecutive windows overlap by at
// least bound plus two margins: every match of at most bound bytes starts
// in the owned part of exactly one window and lies whole in it, with a
// margin of context on both sides. A cut is put at a line start when one
// lies within g.align bytes, so that the lines of ordinary text are whole
// in the window that reports their findings. A file that starts in a binary
// format (gitleaks' rule: a magic number of an "application/..." type) is
// not read.
func (g geometry) fragments(ctx context.Context, r io.Reader, buf []byte, yield func(window) error) error {
	var (
		n    int   // bytes held in buf
		from int64 // where the next window's owned part starts
		w    = window{line: 1}
	)
	minKeep := g.bound + 2*g.margin
	if len(buf) <= minKeep+g.align+g.margin {
		return fmt.Errorf("fragment buffer of %d bytes is too small for an overlap of %d", len(buf), minKeep+g.align)
	}
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := io.ReadFull(r, buf[n:])
		n += m
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return err
		}
		if first {
			if n == 0 {
				return nil
			}
			if t, err := filetype.Match(buf[:n]); err == nil && t.MIME.Type == "application" {
				return errBinary
			}
			w.streaming = !eof
		}
		w.data, w.from = buf[:n], from
		if eof {
			w.to, w.last = w.start+int64(n), true
			return yield(w)
		}
		// The owned part ends where a match of bound bytes still ends a
		// margin before the data does; at a line start if one is near.
		cut := n - g.bound - g.margin
		if i := bytes.LastIndexByte(buf[cut-g.align:cut], '\n'); i >= 0 {
			cut = cut - g.align + i + 1
		}
		w.to = w.start + int64(cut)
		if err := yield(w); err != nil {
			return err
		}
		// The next window starts a margin before its owned part.
		next := cut - g.margin
		if nl := bytes.Count(buf[:next], []byte{'\n'}); nl > 0 {
			w.line += nl
			w.col0 = next - bytes.LastIndexByte(buf[:next], '\n') - 1
		} else {
			w.col0 += next
		}
		n = copy(buf, buf[next:n])
		w.start += int64(next)
		from = w.start + int64(g.margin)
	}
}

// keep places the findings of a window in the file and keeps those it
// owns: lines and columns counted from the file's start (gitleaks counts a
// fragment's first line from the fragment's start), a path-only finding
// once. A finding on a line longer than its match and lineContext bytes on
// each side keeps only that much of the line, in a file read whole too:
// the line is hashed into its fingerprint and held by every finding on it
// (a minified line of 1 MiB with a token every 64 bytes held 16,000 copies
// of itself), and what lies farther away, or where a cut fell, is not what
// identifies the finding.
func (w window) keep(found []report.Finding) []report.Finding {
	var starts []int
	out := found[:0]
	for _, gf := range found {
		if strings.HasPrefix(gf.Match, "file detected: ") {
			if w.start == 0 {
				out = append(out, gf)
			}
			continue
		}
		if starts == nil {
			starts = lineStarts(w.data)
		}
		at := w.offset(starts, gf.StartLine, gf.StartColumn-1)
		if at < 0 {
			if !w.streaming {
				out = append(out, gf)
			}
			continue
		}
		if w.streaming && (w.start+int64(at) < w.from || w.start+int64(at) >= w.to) {
			continue
		}
		end := max(at, w.offset(starts, gf.EndLine, gf.EndColumn))
		switch {
		case len(gf.Line) > end-at+2*lineContext:
			gf.Line = string(w.clip(at, end))
		case w.streaming:
			gf.Line = strings.Clone(gf.Line)
		}
		if w.streaming {
			// Nothing kept refers to the fragment's text: it is let go.
			gf.Match, gf.Secret = strings.Clone(gf.Match), strings.Clone(gf.Secret)
			if gf.StartLine == w.line {
				gf.StartColumn += w.col0
			}
			if gf.EndLine == w.line {
				gf.EndColumn += w.col0
			}
		}
		out = append(out, gf)
	}
	return out
}

// exactColumns corrects gitleaks' columns on every line of a fragment
// but its first: gitleaks counts them from the line's preceding newline,
// one too many (a secret at the start of line 2 is at its column 2), where
// the hardcoded class and the first line count from 1.
func exactColumns(gf *report.Finding, first int) {
	if gf.StartLine > first && gf.StartColumn > 1 {
		gf.StartColumn--
	}
	if gf.EndLine > first && gf.EndColumn > 1 {
		gf.EndColumn--
	}
}

// offset is the window offset of column col (0-based) of file line line,
// or -1 when the line is not in the window.
func (w window) offset(starts []int, line, col int) int {
	i := line - w.line
	if i < 0 || i >= len(starts) {
		return -1
	}
	return starts[i] + col
}

// clip is the part of the line around data[at:end] within lineContext bytes
// of it.
func (w window) clip(at, end int) []byte {
	end = min(end, len(w.data))
	lo := max(0, at-lineContext)
	if i := bytes.LastIndexByte(w.data[lo:at], '\n'); i >= 0 {
		lo += i + 1
	}
	hi := min(len(w.data), end+lineContext)
	if i := bytes.IndexByte(w.data[end:hi], '\n'); i >= 0 {
		hi = end + i
	}
	return w.data[lo:hi]
}
