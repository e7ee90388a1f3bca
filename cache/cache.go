// Package cache is Tollgate's result cache on disk: content-addressed
// entries (a key is a digest of everything a result depends on), written
// atomically, each authenticated with a keyed MAC, bounded in size with
// least-recently-used eviction, and safe to share between processes. A
// damaged, truncated, foreign, copied or forged entry is a miss, never an
// error and never a wrong result: the MAC's key is a secret of the cache
// directory (created on first use, readable by its owner alone), and it
// covers the entry's name, so an entry made anywhere else, or moved to
// another name, does not verify.
package cache

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultMaxBytes bounds the cache when no size is given (512 MiB).
const DefaultMaxBytes = 512 << 20

// magic starts every entry; a file without it is not an entry of this
// format (another tool's, an older Tollgate's) and reads as a miss.
const magic = "TOLLGATE-RESULT-CACHE-2\n"

// header is magic, the entry's MAC and the payload's length.
const headerSize = len(magic) + sha256.Size + 8

// keyFile holds the directory's MAC key.
const keyFile = "mac.key"

// maxEntry bounds one entry, so that a damaged length never makes a reader
// allocate more than this.
const maxEntry = 256 << 20

// Key names an entry: the digest of everything its result depends on.
type Key [sha256.Size]byte

// NewKey digests parts, each length-prefixed so that ("ab","c") and
// ("a","bc") differ.
func NewKey(parts ...[]byte) Key {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k Key
	h.Sum(k[:0])
	return k
}

// String is the key in hex.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// Cache is a directory of entries. Its methods are safe for concurrent use,
// within one process and across processes sharing the directory.
type Cache struct {
	dir    string
	max    int64
	log    *slog.Logger
	secret []byte // the MAC key

	hits, misses, puts atomic.Int64
}

// Stats counts what a Cache did.
type Stats struct {
	Hits, Misses, Puts int64
}

// Open uses (and creates) dir for entries, bounded to maxBytes (0:
// DefaultMaxBytes). log receives why an entry was a miss, at debug level.
func Open(dir string, maxBytes int64, log *slog.Logger) (*Cache, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("result cache %s: %w", dir, err)
	}
	secret, err := macKey(dir)
	if err != nil {
		return nil, fmt.Errorf("result cache %s: %w", dir, err)
	}
	return &Cache{dir: dir, max: maxBytes, log: log, secret: secret}, nil
}

// macKey reads the directory's MAC key, creating it on first use: 32
// random bytes, readable by the owner alone, written once (a process that
// loses the race to create it reads the winner's).
func macKey(dir string) ([]byte, error) {
	p := filepath.Join(dir, keyFile)
	for range 50 {
		b, err := os.ReadFile(p)
		if err == nil && len(b) == 32 {
			return b, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("its key: %w", err)
		}
		if err == nil { // being written by another process, or damaged
			if fi, serr := os.Stat(p); serr == nil && time.Since(fi.ModTime()) > time.Minute {
				return nil, fmt.Errorf("its key %s is damaged (%d bytes): remove the folder", p, len(b))
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("its key: %w", err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("its key: %w", err)
		}
		_, werr := f.Write(key)
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return nil, fmt.Errorf("its key: %w", err)
		}
		return key, nil
	}
	return nil, fmt.Errorf("its key %s could not be read", p)
}

// mac authenticates an entry: its key (name) and payload, under the
// directory's secret.
func (c *Cache) mac(k Key, payload []byte) []byte {
	m := hmac.New(sha256.New, c.secret)
	m.Write(k[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(payload)))
	m.Write(n[:])
	m.Write(payload)
	return m.Sum(nil)
}

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Stats returns the counts so far.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Puts: c.puts.Load()}
}

// path spreads entries over 256 folders by the key's first byte.
func (c *Cache) path(k Key) string {
	s := k.String()
	return filepath.Join(c.dir, s[:2], s+".entry")
}

// Get returns the payload stored under k. Anything but an intact entry of
// this format is a miss. A hit marks the entry used (for eviction).
func (c *Cache) Get(k Key) ([]byte, bool) {
	p := c.path(k)
	b, err := c.readEntry(k, p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Debug("result cache: entry ignored", "entry", p, "why", err)
		}
		c.misses.Add(1)
		return nil, false
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now) // best effort: an entry in use is evicted last
	c.hits.Add(1)
	return b, true
}

func (c *Cache) readEntry(k Key, p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() < int64(headerSize) || st.Size() > int64(headerSize)+maxEntry {
		return nil, fmt.Errorf("size %d is not an entry's", st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := readFull(f, b); err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, []byte(magic)) {
		return nil, errors.New("not an entry of this format")
	}
	sum := b[len(magic) : len(magic)+sha256.Size]
	n := binary.BigEndian.Uint64(b[len(magic)+sha256.Size : headerSize])
	payload := b[headerSize:]
	if uint64(len(payload)) != n {
		return nil, fmt.Errorf("truncated: %d of %d bytes", len(payload), n)
	}
	if !hmac.Equal(c.mac(k, payload), sum) {
		return nil, errors.New("its MAC does not verify (damaged, or not written with this folder's key)")
	}
	return payload, nil
}

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Put stores payload under k: written to a temporary file in the entry's
// folder, synced, and renamed over the entry, so a reader sees the old
// entry, the new one or none, never a part.
func (c *Cache) Put(k Key, payload []byte) error {
	if len(payload) > maxEntry {
		return fmt.Errorf("result cache: entry of %d bytes is over the %d limit", len(payload), maxEntry)
	}
	p := c.path(k)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("result cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("result cache: %w", err)
	}
	sum := c.mac(k, payload)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(payload)))
	buf := make([]byte, 0, headerSize+len(payload))
	buf = append(append(append(append(buf, magic...), sum[:]...), n[:]...), payload...)
	_, werr := tmp.Write(buf)
	if werr == nil {
		werr = tmp.Sync()
	}
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("result cache: writing %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("result cache: %w", err)
	}
	c.puts.Add(1)
	return nil
}

// Trim evicts the least recently used entries until the cache holds at
// most its bound, and removes temporary files older than an hour (left by
// a process that died while writing). It returns how many entries it
// removed. Entries another process removes meanwhile are skipped.
func (c *Cache) Trim() (int, error) {
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var entries []entry
	var total int64
	stale := time.Now().Add(-time.Hour)
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		switch {
		case strings.HasPrefix(d.Name(), ".tmp-"):
			if info.ModTime().Before(stale) {
				_ = os.Remove(p)
			}
		case strings.HasSuffix(d.Name(), ".entry"):
			entries = append(entries, entry{p, info.Size(), info.ModTime()})
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("result cache: %w", err)
	}
	if total <= c.max {
		return 0, nil
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.used.Compare(b.used) })
	removed := 0
	for _, e := range entries {
		if total <= c.max {
			break
		}
		if err := os.Remove(e.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= e.size
			removed++
		}
	}
	return removed, nil
}
