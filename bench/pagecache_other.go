//go:build !linux

package bench

// evictPageCache is a no-op where posix_fadvise is not available.
func evictPageCache(string) error { return nil }
