package scan

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"

	"github.com/tollgate/tollgate/cache"
	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/internal/paths"
	"github.com/tollgate/tollgate/scanners"
)

// resultCache opens the result cache of a scan: DIR/results of the cache
// directory, unless it is off. A cache that cannot be used is a warning,
// and the scan runs without it. One inside the checkout (the scan root, or
// the repository it belongs to) is refused: the checkout is the pull
// request's, and entries it carried would be results it chose for itself.
func resultCache(opts config.Options, version string, log *slog.Logger) (*scanners.ResultCache, *scanners.Notification) {
	if opts.NoResultCache || opts.CacheDir == "" {
		return nil, nil
	}
	dir := filepath.Join(opts.CacheDir, "results")
	warn := func(msg string) *scanners.Notification {
		log.Warn(msg)
		return &scanners.Notification{Level: scanners.LevelWarning, Code: "result-cache", Message: msg}
	}
	for _, checkout := range []string{rootDir(opts.Path), opts.Repo.Top()} {
		if checkout != "" && inside(checkout, dir) {
			return nil, warn(fmt.Sprintf("the result cache %s is inside the checkout %s, whose files are not trusted to say what was found: it is not used (give --cache-dir outside it)", dir, checkout))
		}
	}
	store, err := cache.Open(dir, opts.ResultCacheSize, log)
	if err != nil {
		return nil, warn(fmt.Sprintf("the result cache is not used: %v", err))
	}
	build := buildID(version)
	if opts.Shard.Split() {
		// A shard's entries hold its own units: each shard keeps its own.
		build += " shard " + opts.Shard.String()
	}
	return &scanners.ResultCache{Store: store, Build: build, Log: log}, nil
}

// release is a released version: the version alone names the build.
var release = regexp.MustCompile(`^v?\d+\.\d+\.\d+$`)

// buildID names the build whose results the cache holds: a release by its
// version; any other build (a development build, a snapshot) also by its
// executable's size and time, so that rebuilding never reuses what the
// code before the rebuild found.
func buildID(version string) string {
	if release.MatchString(version) {
		return "tollgate " + version
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Sprintf("tollgate %s (unknown executable: %v)", version, err)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return fmt.Sprintf("tollgate %s (unknown executable: %v)", version, err)
	}
	return fmt.Sprintf("tollgate %s %s %d %d", version, exe, fi.Size(), fi.ModTime().UnixNano())
}

// inside reports whether p is root or lies under it, links resolved as far
// as they exist.
func inside(root, p string) bool {
	abs, err := filepath.Abs(p)
	if err != nil {
		return false
	}
	// Resolve the longest existing prefix.
	rest := ""
	for d := abs; ; d = filepath.Dir(d) {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			abs = filepath.Join(r, rest)
			break
		}
		if filepath.Dir(d) == d {
			break
		}
		rest = filepath.Join(filepath.Base(d), rest)
	}
	_, err = paths.Native().Rel(root, abs, "")
	return err == nil
}

// rootDir is the scan root as an absolute path with symbolic links
// resolved, as the walk sees it.
func rootDir(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		return resolved
	}
	return abs
}
