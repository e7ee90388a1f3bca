package secrets

import (
	"bytes"
	"context"
	"testing"
)

// SingleLineCuts are where the default rules' fragments of a file of size
// bytes on one line end, and where each one's owned part ends (the next
// one's begins).
func SingleLineCuts(t testing.TB, size int) (ends, owned []int64) {
	t.Helper()
	cfg, _, err := New(Options{}, nil).loadConfig(configSource{})
	if err != nil {
		t.Fatal(err)
	}
	g := newGeometry(secretBound(&cfg))
	err = g.fragments(context.Background(), bytes.NewReader(bytes.Repeat([]byte{'x'}, size)), make([]byte, g.size), func(w window) error {
		if !w.last {
			ends = append(ends, w.start+int64(len(w.data)))
			owned = append(owned, w.to)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ends, owned
}
