package secrets

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestFragmentsCoverTheFile: over contents of every shape (one long line,
// lines of every length, none at all), the windows' owned parts follow one
// another from the first byte to the last; each window holds the file's
// bytes from its start, knows the line and column it starts at, has a
// margin of context before its owned part and room after it for a match
// of the bound and a margin.
func TestFragmentsCoverTheFile(t *testing.T) {
	g := geometry{size: 64 << 10, bound: 4 << 10, margin: 256, align: 1 << 10}
	r := rand.New(rand.NewPCG(39, 2))
	for round := range 300 {
		content := make([]byte, r.IntN(400<<10))
		lineEvery := []int{0, 1 + r.IntN(80), 1 + r.IntN(3000), 1 + r.IntN(40<<10)}[round%4]
		for i := range content {
			content[i] = 'a' + byte(r.IntN(26))
			if lineEvery > 0 && r.IntN(lineEvery) == 0 {
				content[i] = '\n'
			}
		}
		var next int64
		last := false
		err := g.fragments(context.Background(), bytes.NewReader(content), make([]byte, g.size), func(w window) error {
			if last {
				t.Fatalf("round %d: a window after the last", round)
			}
			last = w.last
			end := w.start + int64(len(w.data))
			if !bytes.Equal(w.data, content[w.start:end]) {
				t.Fatalf("round %d: window at %d does not hold the file's bytes", round, w.start)
			}
			before := content[:w.start]
			if line, col0 := 1+bytes.Count(before, []byte{'\n'}), len(before)-bytes.LastIndexByte(before, '\n')-1; w.line != line || w.col0 != col0 {
				t.Fatalf("round %d: window at %d starts at %d:%d, want %d:%d", round, w.start, w.line, w.col0+1, line, col0+1)
			}
			if w.from != next || w.to <= w.from && len(content) > 0 {
				t.Fatalf("round %d: window at %d owns [%d, %d), want from %d", round, w.start, w.from, w.to, next)
			}
			if w.start > 0 && w.from-w.start < int64(g.margin) {
				t.Fatalf("round %d: window at %d owns from %d: less than a margin of context", round, w.start, w.from)
			}
			if !w.last && end-w.to < int64(g.bound+g.margin) {
				t.Fatalf("round %d: window [%d, %d) owns up to %d: no room for a match of %d and a margin", round, w.start, end, w.to, g.bound)
			}
			next = w.to
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(content) > 0 && (!last || next != int64(len(content))) {
			t.Fatalf("round %d: the windows own up to %d of %d bytes", round, next, len(content))
		}
	}
}

// TestFragmentsOfABinaryFormat: a file that starts with a binary format's
// magic number is not read (gitleaks' rule); a buffer too small for the
// overlap is an error, not a loop.
func TestFragmentsOfABinaryFormat(t *testing.T) {
	g := newGeometry(unboundedSecret)
	zip := append([]byte("PK\x03\x04"), bytes.Repeat([]byte{'x'}, 100)...)
	err := g.fragments(context.Background(), bytes.NewReader(zip), make([]byte, g.size), func(window) error {
		t.Fatal("a zip file was read")
		return nil
	})
	if !errors.Is(err, errBinary) {
		t.Errorf("zip: %v, want errBinary", err)
	}
	if err := g.fragments(context.Background(), bytes.NewReader(zip), make([]byte, 1000), func(window) error { return nil }); err == nil {
		t.Error("a 1,000-byte buffer was taken")
	}
}

// TestFragmentsStopWithTheContext: a context cancelled while a window is
// scanned stops the file before its next window.
func TestFragmentsStopWithTheContext(t *testing.T) {
	g := newGeometry(unboundedSecret)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	windows := 0
	err := g.fragments(ctx, bytes.NewReader(bytes.Repeat([]byte("var a=b+c; "), 400_000)), make([]byte, g.size), func(window) error {
		windows++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || windows != 1 {
		t.Errorf("%d windows, then %v; want 1, then context.Canceled", windows, err)
	}
}
