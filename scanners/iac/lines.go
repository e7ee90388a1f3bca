package iac

import (
	"io"
	"strings"
	"sync"

	tg "github.com/tollgate/tollgate/scanners"
)

// lineCache splits each file with findings into lines once, for
// fingerprints: from the contents classify read, else from the target.
type lineCache struct {
	t        *tg.Target
	contents map[string][]byte
	mu       sync.Mutex
	files    map[string][]string
}

func newLineCache(t *tg.Target, contents map[string][]byte) *lineCache {
	return &lineCache{t: t, contents: contents, files: map[string][]string{}}
}

// all returns every line of a file (nil when it cannot be read).
func (c *lineCache) all(p string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ls, ok := c.files[p]
	if !ok {
		if b, ok := c.contents[p]; ok {
			ls = strings.Split(string(b), "\n")
		} else if c.t == nil {
			// A worker has the unit's files only.
		} else if b, err := readFile(c.t, p); err == nil {
			ls = strings.Split(string(b), "\n")
		}
		c.files[p] = ls
	}
	return ls
}

// content returns a file's bytes (nil when they cannot be read).
func (c *lineCache) content(p string) []byte {
	if b, ok := c.contents[p]; ok {
		return b
	}
	return []byte(strings.Join(c.all(p), "\n"))
}

// lines returns lines [start, end] (1-based, inclusive), at most 50.
func (c *lineCache) lines(p string, start, end int) []string {
	if start <= 0 {
		return nil
	}
	all := c.all(p)
	if end < start {
		end = start
	}
	end = min(end, start+49, len(all))
	if start > end {
		return nil
	}
	return all[start-1 : end]
}

func readFile(t *tg.Target, p string) ([]byte, error) {
	f, err := t.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
