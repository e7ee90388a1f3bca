// Package checkout reads files of the scanned checkout, which is untrusted
// input: on a pull-request build every byte of it, file names and symbolic
// links included, was written by whoever opened the pull request.
//
// Root is the one reader for every file the checkout holds or names
// (configuration, ignore files, gitleaks configs and their [extend] files,
// value files, baselines, the files the engines scan): it never leaves the
// root (Go's os.Root: no path and no symbolic link, however chained, leads
// out; one that stays inside is followed), opens without blocking (a FIFO
// cannot hang a scan), reads only regular files (fstat after open, before
// any read), and stops at a size cap.
// A refusal is a *RefusedError that names the file and the reason.
package checkout

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/tollgate/tollgate/internal/paths"
)

// ErrOutside means a path leaves the scan root.
var ErrOutside = paths.ErrOutside

// RefusedError is a file the reader would not read, and why.
type RefusedError struct {
	// Path is the file as it was named (root-relative for checkout files).
	Path string
	// Reason says why, e.g. "not a regular file (named pipe)".
	Reason string
	// Err is the underlying cause, if any.
	Err error
}

func (e *RefusedError) Error() string { return e.Path + ": " + e.Reason }

// Unwrap returns the cause.
func (e *RefusedError) Unwrap() error { return e.Err }

// Root is a scan root opened for confined reads.
type Root struct {
	dir  string
	root *os.Root
}

// Open opens dir (resolving symbolic links in dir itself, once) for
// confined reads.
func Open(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("scan root %s: %w", dir, err)
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("scan root: %w", err)
	}
	return &Root{dir: abs, root: r}, nil
}

// Dir is the absolute, symlink-free root directory.
func (r *Root) Dir() string { return r.dir }

// Close releases the root.
func (r *Root) Close() error { return r.root.Close() }

// FS returns the root as an fs.FS confined to it.
func (r *Root) FS() fs.FS { return r.root.FS() }

// Rel turns a path as a user wrote it into a clean root-relative slash path:
// an absolute path must lie under the root; a relative one is taken against
// base, a root-relative slash directory ("" or "." for the root). A path that
// climbs out of the root is ErrOutside. Only the names are checked here;
// ReadFile and Open refuse symbolic links that leave the root.
func (r *Root) Rel(p, base string) (string, error) {
	rel, err := paths.Native().Rel(r.dir, p, base)
	switch {
	case err == nil:
		return rel, nil
	case errors.Is(err, paths.ErrOutside) && strings.ContainsRune(p, 0):
		return "", fmt.Errorf("%q: %w", p, ErrOutside)
	case errors.Is(err, paths.ErrOutside):
		return "", fmt.Errorf("%s: %w", p, ErrOutside)
	}
	return "", err
}

// Open opens a regular file of the root for reading. It never leaves the
// root and never blocks on a FIFO; anything but a regular file is refused.
func (r *Root) Open(rel string) (*os.File, error) {
	if rel == "" || rel == "." {
		return nil, &RefusedError{Path: rel, Reason: "not a file"}
	}
	f, err := r.root.OpenFile(filepath.FromSlash(rel), os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, refusal(rel, err)
	}
	if err := regular(f, rel); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads a regular file of the root, at most limit bytes: a larger
// file is refused. A missing file is an error satisfying
// errors.Is(err, fs.ErrNotExist).
func (r *Root) ReadFile(rel string, limit int64) ([]byte, error) {
	f, err := r.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, rel, limit)
}

// ReadTrusted reads a file the pipeline author named (a flag, an environment
// variable, a task input) anywhere on the machine, with the same care for
// the file's kind and size: regular files only, opened without blocking.
func ReadTrusted(p string, limit int64) ([]byte, error) {
	f, err := OpenTrusted(p, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, p, limit)
}

// OpenTrusted opens a file the pipeline author named as ReadTrusted reads
// it, for a reader that streams it: a regular file of at most limit bytes
// (as it is when opened; the reader should still bound what it reads).
func OpenTrusted(p string, limit int64) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|trustedFlags, 0)
	if err != nil {
		return nil, err
	}
	if err := regular(f, p); err != nil {
		_ = f.Close()
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && limit > 0 && fi.Size() > limit {
		_ = f.Close()
		return nil, &RefusedError{Path: p, Reason: fmt.Sprintf("larger than %s", humanSize(limit))}
	}
	return f, nil
}

func regular(f *os.File, name string) error {
	fi, err := f.Stat()
	if err != nil {
		return &RefusedError{Path: name, Reason: "cannot stat", Err: err}
	}
	if !fi.Mode().IsRegular() {
		return &RefusedError{Path: name, Reason: "not a regular file (" + DescribeMode(fi.Mode()) + ")"}
	}
	return nil
}

func readLimited(f io.Reader, name string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = 1 << 20
	}
	// A file that says its size is read into one buffer of that size (a
	// 20 MB log read by doubling allocates and copies several times that).
	var buf bytes.Buffer
	if st, ok := f.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Size() > 0 && fi.Size() <= limit {
			buf.Grow(int(fi.Size()) + bytes.MinRead)
		}
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b := buf.Bytes()
	if int64(len(b)) > limit {
		return nil, &RefusedError{Path: name, Reason: fmt.Sprintf("larger than %s", humanSize(limit))}
	}
	return b, nil
}

// refusal turns an open error into a RefusedError with a reason a user can
// act on; a missing file stays fs.ErrNotExist.
func refusal(rel string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &RefusedError{Path: rel, Reason: "file not found", Err: fs.ErrNotExist}
	case errors.Is(err, syscall.ELOOP):
		return &RefusedError{Path: rel, Reason: "a symbolic link (not followed)", Err: err}
	case isEscape(err):
		return &RefusedError{Path: rel, Reason: "leaves the scan root through a symbolic link", Err: err}
	case errors.Is(err, fs.ErrPermission):
		return &RefusedError{Path: rel, Reason: "permission denied", Err: err}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &RefusedError{Path: rel, Reason: pe.Err.Error(), Err: err}
	}
	return &RefusedError{Path: rel, Reason: err.Error(), Err: err}
}

// isEscape recognises os.Root's "path escapes from parent" error, which has
// no exported sentinel.
func isEscape(err error) bool {
	return strings.Contains(err.Error(), "escapes from parent")
}

// DescribeMode names what a non-regular file is, for messages.
func DescribeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	default:
		return "special file"
	}
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// Files reads repository policy files (.tollgate.yaml, ignore files,
// gitleaks configs, baselines) by root-relative slash path: from the
// checkout, or, in a pull-request build, from the target branch's commit.
type Files interface {
	// ReadFile reads a regular file, at most limit bytes; a missing file is
	// an error satisfying errors.Is(err, fs.ErrNotExist).
	ReadFile(rel string, limit int64) ([]byte, error)
	// Origin says where the files come from, for messages.
	Origin() string
}

// Origin implements Files.
func (r *Root) Origin() string { return "the checkout" }

// None is a policy source without files: the built-in defaults apply.
type None struct {
	// Why says why no files are read, for messages.
	Why string
}

// ReadFile implements Files: every file is missing.
func (n None) ReadFile(rel string, _ int64) ([]byte, error) {
	return nil, &RefusedError{Path: rel, Reason: "not read (" + n.Why + ")", Err: fs.ErrNotExist}
}

// Origin implements Files.
func (n None) Origin() string { return "the built-in defaults (" + n.Why + ")" }
