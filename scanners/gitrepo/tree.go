package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path"
	"strconv"
	"strings"

	"github.com/gitleaks/go-gitdiff/gitdiff"

	"github.com/tollgate/tollgate/scanners/checkout"
)

// Tree reads files of one commit, by paths relative to the repository
// directory the Repo was opened on, with the checkout reader's rules: regular
// files only (a symbolic link in the tree is refused, never followed), no
// path out of the directory, a size cap. It implements checkout.Files.
type Tree struct {
	repo *Repo
	// Commit is the full commit ID.
	Commit string
	// Name is how messages name the commit, e.g. "main (1a2b3c4d)".
	Name string
	ctx  context.Context
}

// Tree returns the files of commit, named name in messages. The context
// bounds every git command the tree runs.
func (r *Repo) Tree(ctx context.Context, commit, name string) *Tree {
	return &Tree{repo: r, Commit: commit, Name: name, ctx: ctx}
}

// Origin implements checkout.Files.
func (t *Tree) Origin() string { return "the target branch " + t.Name }

// ReadFile implements checkout.Files.
func (t *Tree) ReadFile(rel string, limit int64) ([]byte, error) {
	clean := path.Clean(rel)
	if rel == "" || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) || strings.ContainsRune(rel, 0) {
		return nil, &checkout.RefusedError{Path: rel, Reason: "outside the scan root", Err: checkout.ErrOutside}
	}
	// ls-tree names the entry's mode and type without following anything;
	// literal pathspecs, so that no path is read as a pattern.
	out, err := t.repo.git(t.ctx, "--literal-pathspecs", "ls-tree", "-z", t.Commit, "--", clean)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", rel, t.Name, err)
	}
	entry, _, _ := strings.Cut(out, "\x00")
	if entry == "" {
		return nil, &checkout.RefusedError{Path: rel, Reason: "not in " + t.Name, Err: fs.ErrNotExist}
	}
	meta, name, _ := strings.Cut(entry, "\t")
	f := strings.Fields(meta)
	if len(f) != 3 || name != clean {
		return nil, &checkout.RefusedError{Path: rel, Reason: "not in " + t.Name, Err: fs.ErrNotExist}
	}
	mode, typ, oid := f[0], f[1], f[2]
	switch {
	case mode == "120000":
		return nil, &checkout.RefusedError{Path: rel, Reason: "a symbolic link in " + t.Name + " (not followed)"}
	case typ != "blob" || (mode != "100644" && mode != "100755"):
		return nil, &checkout.RefusedError{Path: rel, Reason: "not a regular file in " + t.Name}
	}
	size, err := t.repo.git(t.ctx, "cat-file", "-s", oid)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", rel, t.Name, err)
	}
	if n, err := strconv.ParseInt(size, 10, 64); err != nil || limit > 0 && n > limit {
		return nil, &checkout.RefusedError{Path: rel, Reason: fmt.Sprintf("larger than %d bytes in %s", limit, t.Name)}
	}
	return t.repo.gitBytes(t.ctx, "cat-file", "blob", oid)
}

// gitBytes runs a git command and returns its stdout as it is.
func (r *Repo) gitBytes(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", r.Dir}, args...)...)
	cmd.Env = Env(cmd.Environ())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// LineRange is an inclusive range of 1-based line numbers.
type LineRange struct{ Start, End int }

// Added is what a change adds: for each path (relative to the repository
// directory, slash-separated), the lines of the new version that are new.
type Added map[string][]LineRange

// Has reports whether line of file p is an added line.
func (a Added) Has(p string, line int) bool {
	for _, r := range a[p] {
		if line >= r.Start && line <= r.End {
			return true
		}
	}
	return false
}

// AddedLines lists the lines head adds against base (git diff base head;
// with -U0 every changed line of the new side counts as added); head ""
// is the working tree. Paths are relative to the repository directory.
func (r *Repo) AddedLines(ctx context.Context, base, head string) (Added, error) {
	added := Added{}
	err := r.Diff(ctx, []string{"--relative", "--no-renames"}, base, head, func(f *gitdiff.File) {
		if f.IsDelete || f.IsBinary {
			return
		}
		for _, tf := range f.TextFragments {
			if tf.NewLines > 0 {
				added[f.NewName] = append(added[f.NewName], LineRange{Start: int(tf.NewPosition), End: int(tf.NewPosition + tf.NewLines - 1)})
			}
		}
	})
	return added, err
}

// Diff runs `git diff -U0` between base and head (head "": the working
// tree) with the extra options, external diff and text conversion off (a
// checkout's .gitattributes must not run programs), and calls each for every
// file of the patch, in order. The patch is read to its end either way.
func (r *Repo) Diff(ctx context.Context, opts []string, base, head string, each func(*gitdiff.File)) error {
	if strings.HasPrefix(base, "-") || strings.HasPrefix(head, "-") {
		return errors.New("a revision must not start with '-'")
	}
	args := append([]string{"-C", r.Dir, "diff", "-U0", "--no-ext-diff", "--no-textconv", "--no-color"}, opts...)
	args = append(args, base)
	if head != "" {
		args = append(args, head)
	}
	cmd := exec.CommandContext(ctx, "git", append(args, "--")...)
	cmd.Env = Env(cmd.Environ())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("git diff: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git diff: %w", err)
	}
	files, parseErr := gitdiff.Parse(stdout)
	for f := range files {
		if ctx.Err() == nil {
			each(f)
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case parseErr != nil:
		return fmt.Errorf("git diff %s %s: %w", base, head, parseErr)
	case waitErr != nil:
		return fmt.Errorf("git diff %s %s: %w: %s", base, head, waitErr, strings.TrimSpace(stderr.String()))
	}
	return nil
}
