package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T, max int64) *Cache {
	t.Helper()
	c, err := Open(t.TempDir(), max, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTripAndStats(t *testing.T) {
	c := open(t, 0)
	k := NewKey([]byte("tollgate 1"), []byte("rules digest"), []byte("file content"))
	if _, ok := c.Get(k); ok {
		t.Fatal("a hit in an empty cache")
	}
	payload := []byte(`{"findings":[]}`)
	if err := c.Put(k, payload); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Get(k)
	if !ok || !bytes.Equal(got, payload) {
		t.Fatalf("Get = %q, %v", got, ok)
	}
	if err := c.Put(k, []byte("newer")); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(k); string(got) != "newer" {
		t.Fatalf("after a second Put: %q", got)
	}
	if empty := NewKey([]byte("empty")); c.Put(empty, nil) != nil {
		t.Fatal("an empty payload cannot be stored")
	} else if got, ok := c.Get(empty); !ok || len(got) != 0 {
		t.Fatalf("empty payload: %q %v", got, ok)
	}
	if s := c.Stats(); s.Hits != 3 || s.Misses != 1 || s.Puts != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestKeysSeparateTheirParts(t *testing.T) {
	if NewKey([]byte("ab"), []byte("c")) == NewKey([]byte("a"), []byte("bc")) {
		t.Fatal("length-prefixing does not separate the parts")
	}
	if NewKey([]byte("a")) != NewKey([]byte("a")) {
		t.Fatal("a key is not a function of its parts")
	}
}

// TestDamagedEntriesAreMisses: a flipped byte, a truncated file, a foreign
// file, an empty file and a length that lies all read as a miss.
func TestDamagedEntriesAreMisses(t *testing.T) {
	c := open(t, 0)
	payload := bytes.Repeat([]byte("result "), 100)
	damage := map[string]func(b []byte) []byte{
		"flipped payload byte": func(b []byte) []byte { b[len(b)-5] ^= 1; return b },
		"flipped checksum":     func(b []byte) []byte { b[len(magic)+3] ^= 1; return b },
		"truncated":            func(b []byte) []byte { return b[:len(b)-10] },
		"header only":          func(b []byte) []byte { return b[:headerSize] },
		"empty":                func([]byte) []byte { return nil },
		"foreign":              func([]byte) []byte { return []byte("{\"not\": \"an entry\"}\n") },
		"older format":         func(b []byte) []byte { b[len(magic)-2] = '0'; return b },
		"longer than it says":  func(b []byte) []byte { return append(b, 'x') },
		"length lies": func(b []byte) []byte {
			b[len(magic)+sha256Size] = 0x7f
			return b
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			k := NewKey([]byte(name))
			if err := c.Put(k, payload); err != nil {
				t.Fatal(err)
			}
			p := c.path(k)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f(b), 0o600); err != nil {
				t.Fatal(err)
			}
			if got, ok := c.Get(k); ok {
				t.Fatalf("a damaged entry was a hit: %q", got[:min(len(got), 40)])
			}
		})
	}
	// A folder where an entry should be is a miss too.
	k := NewKey([]byte("dir"))
	if err := os.MkdirAll(c.path(k), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(k); ok {
		t.Fatal("a directory was a hit")
	}
}

const sha256Size = 32

// TestTrimEvictsLeastRecentlyUsed: over its bound, the cache drops the
// entries used longest ago first, keeps one just read, and removes stale
// temporary files.
func TestTrimEvictsLeastRecentlyUsed(t *testing.T) {
	entry := int64(headerSize + 1000)
	c := open(t, 3*entry)
	payload := bytes.Repeat([]byte{'r'}, 1000)
	var keys []Key
	base := time.Now().Add(-time.Hour)
	for i := range 5 {
		k := NewKey([]byte{byte(i)})
		keys = append(keys, k)
		if err := c.Put(k, payload); err != nil {
			t.Fatal(err)
		}
		used := base.Add(time.Duration(i) * time.Minute) // 0 is the oldest
		if err := os.Chtimes(c.path(k), used, used); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.Get(keys[0]); !ok { // the oldest is read: now the newest
		t.Fatal("miss")
	}
	stale := filepath.Join(filepath.Dir(c.path(keys[0])), ".tmp-dead")
	if err := os.WriteFile(stale, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	removed, err := c.Trim()
	if err != nil || removed != 2 {
		t.Fatalf("Trim removed %d (%v), want 2", removed, err)
	}
	for i, want := range []bool{true, false, false, true, true} {
		if _, ok := c.Get(keys[i]); ok != want {
			t.Errorf("entry %d present = %v, want %v", i, ok, want)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("a stale temporary file was left")
	}
	if removed, _ := c.Trim(); removed != 0 {
		t.Errorf("a second Trim removed %d", removed)
	}
}

// payloadFor is the one payload a key may hold in the concurrency tests:
// any other content read back is a torn or mixed write.
func payloadFor(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("entry %d;", i)), 500+i*37)
}

func hammer(c *Cache, rounds int) error {
	for r := range rounds {
		i := r % 16
		k := NewKey([]byte(strconv.Itoa(i)))
		if got, ok := c.Get(k); ok && !bytes.Equal(got, payloadFor(i)) {
			return fmt.Errorf("entry %d read back as %d other bytes", i, len(got))
		}
		if err := c.Put(k, payloadFor(i)); err != nil {
			return err
		}
		if r%50 == 0 {
			if _, err := c.Trim(); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestConcurrentUse: goroutines of one process and a second process share
// one directory, reading, writing and trimming the same keys; every read is
// a miss or the exact payload.
func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	// A bound that forces eviction while the others write.
	const bound = 64 << 10
	c, err := Open(dir, bound, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	other.Env = append(os.Environ(), "TOLLGATE_CACHE_HELPER_DIR="+dir)
	var out bytes.Buffer
	other.Stdout, other.Stderr = &out, &out
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- hammer(c, 400)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if err := other.Wait(); err != nil {
		t.Fatalf("the other process: %v\n%s", err, out.String())
	}
	if s := c.Stats(); s.Hits == 0 || s.Puts == 0 {
		t.Fatalf("the test did not exercise the cache: %+v", s)
	}
}

// TestHelperProcess is the second process of TestConcurrentUse.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("TOLLGATE_CACHE_HELPER_DIR")
	if dir == "" {
		return // run as a test of its own: nothing to do
	}
	c, err := Open(dir, 64<<10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := hammer(c, 1600); err != nil {
		t.Fatal(err)
	}
}

// TestForgedAndCopiedEntriesAreMisses: an entry written without the
// folder's key (by whoever can write the folder, or carried in from
// elsewhere) is a miss: one forged with a plain SHA-256 of its payload
// (the format before the MAC), one copied from another cache folder, and
// one moved to another entry's name. The key is the owner's alone.
func TestForgedAndCopiedEntriesAreMisses(t *testing.T) {
	c, other := open(t, 0), open(t, 0)
	forged := []byte("no findings")
	k := NewKey([]byte("unit"))
	// Forged: the right format, a checksum anyone can compute.
	sum := sha256.Sum256(forged)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(forged)))
	entry := append(append(append([]byte(magic), sum[:]...), n[:]...), forged...)
	must(t, os.MkdirAll(filepath.Dir(c.path(k)), 0o700))
	must(t, os.WriteFile(c.path(k), entry, 0o600))
	if _, ok := c.Get(k); ok {
		t.Fatal("an entry forged with a plain checksum was a hit")
	}
	// Copied: a real entry of another cache folder.
	must(t, other.Put(k, forged))
	b, err := os.ReadFile(other.path(k))
	must(t, err)
	must(t, os.WriteFile(c.path(k), b, 0o600))
	if _, ok := c.Get(k); ok {
		t.Fatal("an entry copied from another cache folder was a hit")
	}
	// Moved: this folder's own entry under another name.
	k2 := NewKey([]byte("other unit"))
	must(t, c.Put(k2, []byte("findings: 3")))
	b, err = os.ReadFile(c.path(k2))
	must(t, err)
	must(t, os.WriteFile(c.path(k), b, 0o600))
	if _, ok := c.Get(k); ok {
		t.Fatal("an entry moved to another name was a hit")
	}
	// The key: the owner's alone, and the same for every process.
	fi, err := os.Stat(filepath.Join(c.Dir(), keyFile))
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the key file's mode is %v", fi.Mode().Perm())
	}
	again, err := Open(c.Dir(), 0, nil)
	must(t, err)
	if got, ok := again.Get(k2); !ok || string(got) != "findings: 3" {
		t.Errorf("another opening of the folder does not read its entries: %q %v", got, ok)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
