package scanners

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/tollgate/tollgate/scanners/checkout"
)

// Walk limits. A pull request is attacker-controlled input: every limit
// turns into a notification naming what was skipped, never a silent gap.
const (
	DefaultMaxFileSize = 50 << 20 // bytes
	DefaultMaxDepth    = 128      // directory levels below the root
)

// File is one regular file of the scan root.
type File struct {
	// Path is relative to the root, with forward slashes.
	Path string
	Size int64
}

// Skipped is something the walk saw and did not hand to the engines.
type Skipped struct {
	Path    string
	Code    string
	Message string
	// AllEngines is false for things that only the secrets engine, which reads
	// every file, would have read (symlinks it never follows anyway).
	AllEngines bool
}

// Target is the walked scan root that every engine reads from: one walk,
// shared, so no engine lists the tree again.
type Target struct {
	// Root is the absolute, cleaned scan root.
	Root string
	// Files are the regular files, in lexical path order.
	Files   []File
	Skipped []Skipped
	// Excluded counts the files and directories --exclude left out.
	Excluded int
	// Shard is the part of the scan this run does (zero: all of it): each
	// engine scans only the units the shard owns.
	Shard Shard
	// Meter, when set, counts the engines' work for a progress display.
	Meter *Meter

	root *checkout.Root
}

// WalkOptions bound the walk.
type WalkOptions struct {
	MaxFileSize int64
	MaxDepth    int
	// Exclude, when set, drops paths (files, or whole directories) from every engine.
	Exclude func(path string, dir bool) bool
}

// Walk lists the regular files under root without following symlinks. Git
// metadata directories are never entered.
func Walk(ctx context.Context, root string, opt WalkOptions) (*Target, error) {
	if opt.MaxFileSize <= 0 {
		opt.MaxFileSize = DefaultMaxFileSize
	}
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = DefaultMaxDepth
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("scan root %s: %w", root, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("scan root: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("scan root %s: not a directory", root)
	}
	// The root itself may be a symlink (e.g. /tmp on macOS); resolved once.
	r, err := checkout.Open(abs)
	if err != nil {
		return nil, err
	}
	abs = r.Dir()
	t := &Target{Root: abs, root: r}

	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, walkErr error) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(abs, p)
		if err != nil {
			return fmt.Errorf("relative path of %s: %w", p, err)
		}
		rel = filepath.ToSlash(rel)
		if walkErr != nil {
			if rel == "." {
				return fmt.Errorf("scan root: %w", walkErr)
			}
			t.Skipped = append(t.Skipped, Skipped{Path: rel, Code: "unreadable", AllEngines: true,
				Message: fmt.Sprintf("cannot read %s: %v", rel, Cause(walkErr))})
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "." {
			return nil
		}
		mode := d.Type()
		switch {
		case mode.IsDir():
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			if opt.Exclude != nil && opt.Exclude(rel, true) {
				t.Excluded++
				return filepath.SkipDir
			}
			if depth := strings.Count(rel, "/") + 1; depth > opt.MaxDepth {
				t.Skipped = append(t.Skipped, Skipped{Path: rel, Code: "too-deep", AllEngines: true,
					Message: fmt.Sprintf("directory %s is nested deeper than %d levels; not scanned", rel, opt.MaxDepth)})
				return filepath.SkipDir
			}
			return nil
		case mode&fs.ModeSymlink != 0:
			if s, ok := classifySymlink(abs, p, rel); ok {
				t.Skipped = append(t.Skipped, s)
			}
			return nil
		case !mode.IsRegular():
			t.Skipped = append(t.Skipped, Skipped{Path: rel, Code: "not-regular", AllEngines: true,
				Message: fmt.Sprintf("%s is a %s, not a regular file; not scanned", rel, checkout.DescribeMode(mode))})
			return nil
		}
		if opt.Exclude != nil && opt.Exclude(rel, false) {
			t.Excluded++
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			t.Skipped = append(t.Skipped, Skipped{Path: rel, Code: "unreadable", AllEngines: true,
				Message: fmt.Sprintf("cannot stat %s: %v", rel, Cause(err))})
			return nil
		}
		if fi.Size() > opt.MaxFileSize {
			t.Skipped = append(t.Skipped, Skipped{Path: rel, Code: "file-too-large", AllEngines: true,
				Message: fmt.Sprintf("%s is %s, over the %s file size limit; not scanned", rel, HumanBytes(fi.Size()), HumanBytes(opt.MaxFileSize))})
			return nil
		}
		t.Files = append(t.Files, File{Path: rel, Size: fi.Size()})
		return nil
	})
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	return t, nil
}

// Open opens a file of the target for reading through the checkout's one
// confined reader: it never leaves the root and never blocks on a FIFO
// swapped in after the walk (the walk itself lists no symbolic link).
func (t *Target) Open(rel string) (*os.File, error) { return t.root.Open(rel) }

// Checkout is the confined reader of the scan root.
func (t *Target) Checkout() *checkout.Root { return t.root }

// FS returns the root as an fs.FS confined to it.
func (t *Target) FS() fs.FS { return t.root.FS() }

// Close releases the root handle.
func (t *Target) Close() error { return t.root.Close() }

func classifySymlink(root, p, rel string) (Skipped, bool) {
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return Skipped{Path: rel, Code: "symlink-unresolvable",
			Message: fmt.Sprintf("symlink %s cannot be resolved (a loop or a missing target); not followed", rel)}, true
	}
	if resolved != root && !strings.HasPrefix(resolved, root+string(filepath.Separator)) {
		return Skipped{Path: rel, Code: "symlink-outside-root",
			Message: fmt.Sprintf("symlink %s points outside the scan root; not followed", rel)}, true
	}
	return Skipped{}, false
}

// Cause strips the path from a *fs.PathError, for messages that name the
// repository-relative path themselves instead of an absolute one.
func Cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// HumanBytes writes a byte count in binary units: 512 B, 1.5 KiB, 2.0 MiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// UnderDir reports whether p (root-relative, slash-separated) lies under one
// of dirs, such as the directories of Helm charts.
func UnderDir(p string, dirs map[string]bool) bool {
	for d := path.Dir(p); ; d = path.Dir(d) {
		if dirs[d] {
			return true
		}
		if d == "." || d == "/" {
			return false
		}
	}
}
