package bench

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// evictPageCache drops a file's clean pages from the page cache, so that
// every tool's binary starts from the same state. Peak RSS counts the
// binary's mapped pages, and how many a run maps depends on how the file
// got into the cache: a binary the linker has just written sits in large
// folios that are mapped whole (we measured tollgate's `version` at 172 MB
// right after a build and 108 MB after eviction), one read back from disk
// in readahead-sized pieces.
func evictPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("evict %s from the page cache: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("evict %s from the page cache: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("evict %s from the page cache: %w", path, err)
	}
	return nil
}
