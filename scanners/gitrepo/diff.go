package gitrepo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gitleaks/go-gitdiff/gitdiff"
	"github.com/h2non/filetype"

	"github.com/tollgate/tollgate/internal/utf16text"
)

// EmptyTree is git's empty tree: the parent of a root commit.
const EmptyTree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// LineRange is an inclusive range of 1-based line numbers.
type LineRange struct{ Start, End int }

// Added is what a change adds: for each path (relative to the directory
// the Repo was opened on, slash-separated), the lines of the new version
// that are new.
type Added map[string][]LineRange

// Touches reports whether the change adds lines to the file p, or to a
// file under p when p is a directory.
func (a Added) Touches(p string) bool {
	if _, ok := a[p]; ok {
		return true
	}
	prefix := strings.TrimSuffix(p, "/") + "/"
	if p == "." || p == "" {
		return len(a) > 0
	}
	for f := range a {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// Has reports whether line of file p is an added line.
func (a Added) Has(p string, line int) bool {
	for _, r := range a[p] {
		if line >= r.Start && line <= r.End {
			return true
		}
	}
	return false
}

// AddedLines lists the lines head adds against base (commits; git diff -U0
// base head, every changed line of the new side counting as added), in the
// directory the Repo was opened on. No attribute of the checkout changes
// what counts, and the lines are the ones the engines read: a file git takes
// for binary by a NUL byte is compared as text all the same (TextChange),
// a UTF-16 text file decoded; only a binary format (an image, an archive, an
// executable: what gitleaks skips too) has none.
//
// No file name is read from the patch: a name git quotes can be misread
// there (a file named "odd\", ending in a backslash, was dropped by the patch
// parser with its lines). The names come NUL-separated, as they are, from
// `git diff --raw -z`, with each file's blob IDs; the patch is read for its
// hunk headers alone, each file's known by the blob IDs of its index line
// (the same pair of blobs has the same changes, whatever the file's name).
func (r *Repo) AddedLines(ctx context.Context, base, head string) (Added, error) {
	if head == "HEAD" {
		// One commit for both commands, should HEAD move between them.
		h, err := r.Head(ctx)
		if err != nil {
			return nil, fmt.Errorf("git rev-parse HEAD: %w", err)
		}
		head = h
	}
	files, err := r.rawDiff(ctx, base, head)
	if err != nil {
		return nil, err
	}
	changes, err := r.hunks(ctx, base, head)
	if err != nil {
		return nil, err
	}
	added := Added{}
	for _, f := range files {
		if f.status == 'D' {
			continue
		}
		old := f.oldOID
		if f.status == 'T' {
			// A change of type (a file, a symbolic link, a submodule) is
			// patched as a deletion and a creation.
			old = ""
		}
		c, ok := changes[blobPair{oidKey(old), oidKey(f.newOID)}]
		if !ok {
			continue // no change of content (a mode, an empty file)
		}
		if !c.binary {
			added[f.name] = append(added[f.name], c.ranges...)
			continue
		}
		frags, err := r.TextChange(ctx, old, f.newOID)
		if err != nil {
			return added, fmt.Errorf("%s: %w", f.name, err)
		}
		for _, tf := range frags {
			added.add(f.name, tf)
		}
	}
	return added, nil
}

// rawFile is one file of `git diff --raw -z`.
type rawFile struct {
	name           string
	oldOID, newOID string
	status         byte
}

// rawDiff lists the files head changes against base, with their names as
// git has them (NUL-separated: nothing quoted, nothing to misread).
func (r *Repo) rawDiff(ctx context.Context, base, head string) ([]rawFile, error) {
	args, err := r.diffArgs([]string{"--raw", "-z", "--no-abbrev", "--no-renames"}, base, head, nil)
	if err != nil {
		return nil, err
	}
	var files []rawFile
	err = r.stream(ctx, func(rd io.Reader) error {
		br := bufio.NewReader(rd)
		for {
			meta, err := br.ReadString(0)
			if err == io.EOF && meta == "" {
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading the raw diff: %w", err)
			}
			// :OLDMODE NEWMODE OLDOID NEWOID STATUS[SCORE]
			fields := strings.Fields(strings.TrimSuffix(meta, "\x00"))
			if len(fields) != 5 || !strings.HasPrefix(fields[0], ":") || fields[4] == "" {
				return fmt.Errorf("unexpected raw diff entry %q", meta)
			}
			name, err := br.ReadString(0)
			if err != nil {
				return fmt.Errorf("reading the raw diff: %w", err)
			}
			f := rawFile{name: strings.TrimSuffix(name, "\x00"), oldOID: fields[2], newOID: fields[3], status: fields[4][0]}
			if f.status == 'R' || f.status == 'C' { // not with --no-renames; the new name follows
				if name, err = br.ReadString(0); err != nil {
					return fmt.Errorf("reading the raw diff: %w", err)
				}
				f.name = strings.TrimSuffix(name, "\x00")
			}
			files = append(files, f)
		}
	}, args...)
	return files, err
}

// blobPair is a change's blobs, old and new ("" for a side that does not
// exist).
type blobPair struct{ old, new string }

func oidKey(oid string) string {
	if zeroOID(oid) {
		return ""
	}
	return oid
}

// blobChange is what the patch says of one pair of blobs: the new side's
// changed lines, or that git took them for binary.
type blobChange struct {
	ranges []LineRange
	binary bool
}

// hunks reads `git diff -U0` of base and head for its structure alone: a
// file's patch starts at a "diff --git" line, names its blobs on its index
// line, says "Binary files ... differ" or has hunks "@@ -a,b +c,d @@". Every
// line of a hunk starts with '+', '-', ' ' or '\', so none of those lines
// can be mistaken for one of the hunk's; the names on the header lines are
// never parsed.
func (r *Repo) hunks(ctx context.Context, base, head string) (map[blobPair]*blobChange, error) {
	args, err := r.diffArgs([]string{"-U0", "--no-renames", "--full-index"}, base, head, nil)
	if err != nil {
		return nil, err
	}
	out := map[blobPair]*blobChange{}
	err = r.stream(ctx, func(rd io.Reader) error {
		br := bufio.NewReaderSize(rd, 64<<10)
		var cur *blobChange // the current file's, nil before its index line
		for {
			line, err := lineHead(br, 512)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			switch {
			case strings.HasPrefix(line, "diff --git "):
				cur = nil
			case strings.HasPrefix(line, "index ") && cur == nil:
				ids, _, _ := strings.Cut(strings.TrimSpace(line[len("index "):]), " ")
				o, n, ok := strings.Cut(ids, "..")
				if !ok {
					return fmt.Errorf("unexpected index line %q", line)
				}
				key := blobPair{oidKey(o), oidKey(n)}
				cur = &blobChange{}
				if out[key] == nil {
					out[key] = cur
				} // else the same blobs again (files of the same contents): the same changes, read once
			case cur == nil:
			case strings.HasPrefix(line, "Binary files "):
				cur.binary = true
			case strings.HasPrefix(line, "@@ "):
				start, n, err := newSide(line)
				if err != nil {
					return err
				}
				if n > 0 {
					cur.ranges = append(cur.ranges, LineRange{Start: start, End: start + n - 1})
				}
			}
		}
	}, args...)
	return out, err
}

// lineHead reads one line and returns at most its first n bytes; the rest
// of the line (a changed line may be megabytes long) is skipped.
func lineHead(br *bufio.Reader, n int) (string, error) {
	var head []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(head) < n {
			head = append(head, chunk[:min(len(chunk), n-len(head))]...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(head) > 0:
			return strings.TrimSuffix(string(head), "\n"), nil
		case err != nil:
			return "", err
		}
		return strings.TrimSuffix(string(head), "\n"), nil
	}
}

// newSide reads the new side of a hunk header, "@@ -a[,b] +c[,d] @@":
// its first line and its number of lines (1 when d is left out).
func newSide(line string) (start, n int, err error) {
	rest, ok := strings.CutPrefix(line, "@@ -")
	if ok {
		_, rest, ok = strings.Cut(rest, " +")
	}
	var spec string
	if ok {
		spec, _, ok = strings.Cut(rest, " @@")
	}
	if !ok {
		return 0, 0, fmt.Errorf("unexpected hunk header %q", line)
	}
	s, c, hasCount := strings.Cut(spec, ",")
	if start, err = strconv.Atoi(s); err != nil {
		return 0, 0, fmt.Errorf("unexpected hunk header %q", line)
	}
	n = 1
	if hasCount {
		if n, err = strconv.Atoi(c); err != nil {
			return 0, 0, fmt.Errorf("unexpected hunk header %q", line)
		}
	}
	return start, n, nil
}

func (a Added) add(name string, tf *gitdiff.TextFragment) {
	if tf.NewLines > 0 {
		a[name] = append(a[name], LineRange{Start: int(tf.NewPosition), End: int(tf.NewPosition + tf.NewLines - 1)})
	}
}

// zeroOID is how a diff names the blob of a side that does not exist.
func zeroOID(oid string) bool { return strings.Trim(oid, "0") == "" }

// TextChange compares two blobs that git called binary (by their contents:
// no attribute is read) as the engines read them: a UTF-16 text file
// decoded, any other file that is not a binary format split at its line
// breaks as it is. It returns the new side's changes as text fragments of
// git's own diff (their added lines are the new blob's), none for a binary
// format or a blob larger than 64 MiB. oldOID may be zeros (a new file).
func (r *Repo) TextChange(ctx context.Context, oldOID, newOID string) ([]*gitdiff.TextFragment, error) {
	head, err := r.blobHead(ctx, newOID)
	if err != nil {
		return nil, err
	}
	if !utf16text.Is(head) && binaryFormat(head) {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "tollgate-text-")
	if err != nil {
		return nil, fmt.Errorf("comparing as text: %w", err)
	}
	defer os.RemoveAll(dir)
	write := func(oid, name string) (string, error) {
		p := filepath.Join(dir, name)
		var b []byte
		if !zeroOID(oid) {
			var err error
			if b, err = r.blob(ctx, oid, maxText); err != nil {
				return "", err
			}
			if utf16text.Is(b) {
				if b, err = utf16text.Decode(b); err != nil {
					return "", fmt.Errorf("decoding UTF-16: %w", err)
				}
			}
		}
		return p, os.WriteFile(p, b, 0o600)
	}
	a, err := write(oldOID, "old")
	if err != nil {
		return nil, err
	}
	b, err := write(newOID, "new")
	if err != nil {
		return nil, err
	}
	var frags []*gitdiff.TextFragment
	err = r.stream(ctx, func(rd io.Reader) error {
		files, err := gitdiff.Parse(rd)
		if err != nil {
			return err
		}
		for f := range files {
			frags = append(frags, f.TextFragments...)
		}
		return nil
	}, "diff", "--no-index", "-U0", "--text", "--no-ext-diff", "--no-textconv", "--no-color", "--", a, b)
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) && exit.ExitCode() == 1 {
		err = nil // --no-index exits 1 when the files differ
	}
	if errors.Is(err, errTooLarge) {
		return nil, nil
	}
	return frags, err
}

// binaryFormat reports whether a file that starts with head is in a binary
// format the engines never read as text (gitleaks' rule: a known magic
// number of an "application/..." type: archives, executables, documents),
// as opposed to text that holds a NUL byte.
func binaryFormat(head []byte) bool {
	t, err := filetype.Match(head)
	return err == nil && t != filetype.Unknown && (t.MIME.Type == "application" || t.MIME.Type == "image" || t.MIME.Type == "video" || t.MIME.Type == "audio" || t.MIME.Type == "font")
}

// maxText bounds a blob compared as text.
const maxText = 64 << 20

// errTooLarge is a blob over the limit of what is read whole.
var errTooLarge = errors.New("blob too large")

// blob reads a blob whole, up to limit bytes.
func (r *Repo) blob(ctx context.Context, oid string, limit int64) ([]byte, error) {
	if !isObjectName(oid) {
		return nil, fmt.Errorf("%q is not an object ID", oid)
	}
	var buf bytes.Buffer
	err := r.stream(ctx, func(rd io.Reader) error {
		n, err := io.Copy(&buf, io.LimitReader(rd, limit+1))
		if err == nil && n > limit {
			return fmt.Errorf("blob %s is larger than %d bytes: %w", oid, limit, errTooLarge)
		}
		return err
	}, "cat-file", "blob", oid)
	return buf.Bytes(), err
}

// BlobReader streams a blob (an archive a commit adds, for the secrets
// engine); Close waits for git.
func (r *Repo) BlobReader(ctx context.Context, oid string) (io.ReadCloser, error) {
	if !isObjectName(oid) {
		return nil, fmt.Errorf("%q is not an object ID", oid)
	}
	cmd := r.command(ctx, "cat-file", "blob", oid)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	return &blobReader{ReadCloser: out, wait: cmd.Wait}, nil
}

type blobReader struct {
	io.ReadCloser
	wait func() error
}

func (b *blobReader) Close() error {
	_, _ = io.Copy(io.Discard, b.ReadCloser)
	return errors.Join(b.ReadCloser.Close(), b.wait())
}

// Diff runs `git diff -U0` between the commits base and head with the extra
// options (external diff and text conversion off, and no attribute of the
// checkout read: see the package comment), limited to paths (literal,
// relative to the top; nil: the directory the Repo was opened on), and
// calls each for every file of the patch, in order, with names relative to
// the directory opened. The patch is read to its end either way.
func (r *Repo) Diff(ctx context.Context, opts []string, base, head string, paths []string, each func(*gitdiff.File)) error {
	args, err := r.diffArgs(append([]string{"-U0"}, opts...), base, head, paths)
	if err != nil {
		return err
	}
	return r.patch(ctx, each, args...)
}

// diffArgs are the arguments of `git diff` between the commits base
// and head with the extra options, limited to paths (see Diff).
func (r *Repo) diffArgs(opts []string, base, head string, paths []string) ([]string, error) {
	if !isObjectName(base) && base != EmptyTree || !isObjectName(head) {
		return nil, fmt.Errorf("git diff: %q and %q must be commit IDs or HEAD", base, head)
	}
	args := append([]string{"--literal-pathspecs", "diff", "--no-ext-diff", "--no-textconv", "--no-color"}, opts...)
	if r.prefix != "" {
		args = append(args, "--relative="+r.prefix)
	}
	return append(append(args, "--end-of-options", base, head, "--"), paths...), nil
}

// Log runs `git log -p -U0` with the extra options (a range, filters)
// and calls each for every file of every commit's patch, in order: the
// changes in the directory the Repo was opened on, named relative to it.
// No attribute of the checkout applies (see the package comment).
func (r *Repo) Log(ctx context.Context, opts []string, each func(*gitdiff.File)) error {
	for _, o := range opts {
		if !strings.HasPrefix(o, "-") && !isObjectName(o) && !isRange(o) {
			return fmt.Errorf("git log: %q is neither an option nor a commit range", o)
		}
	}
	args := append([]string{"log", "-p", "-U0", "--no-ext-diff", "--no-textconv", "--no-color", "--full-index"}, opts...)
	if r.prefix != "" {
		// The scan root's changes alone, named relative to it.
		args = append(args, "--relative="+r.prefix)
	}
	return r.patch(ctx, each, append(args, "--")...)
}

// patch runs git with args and calls each for every file of the patch it
// prints, until ctx ends; the patch is read to its end either way. Its
// quoted names are given to the parser in a form it reads right (requote).
func (r *Repo) patch(ctx context.Context, each func(*gitdiff.File), args ...string) error {
	return r.stream(ctx, func(rd io.Reader) error {
		files, err := gitdiff.Parse(requote(rd))
		if err != nil {
			return err
		}
		for f := range files {
			if ctx.Err() == nil {
				each(f)
			}
		}
		return nil
	}, args...)
}

// isRange reports whether s is BASE..HEAD of object names.
func isRange(s string) bool {
	a, b, ok := strings.Cut(s, "..")
	return ok && isObjectName(a) && isObjectName(b)
}

// blobHead is the start of a blob: enough for utf16text.Is and
// binaryFormat. git is stopped once it has been read.
func (r *Repo) blobHead(ctx context.Context, oid string) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := r.BlobReader(ctx, oid)
	if err != nil {
		return nil, err
	}
	head, err := io.ReadAll(io.LimitReader(rc, utf16text.Head))
	cancel()
	_ = rc.Close() // git is killed when the blob is longer than its head
	if err != nil {
		return nil, fmt.Errorf("git cat-file blob %s: %w", oid, err)
	}
	return head, nil
}
