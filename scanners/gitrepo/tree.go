package gitrepo

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/scanners/checkout"
)

// Tree reads files of one commit, by paths relative to the directory the
// Repo was opened on, with the checkout reader's rules: regular files only
// (a symbolic link in the tree is refused, never followed), no path out of
// the directory, a size cap. It implements checkout.Files.
type Tree struct {
	repo *Repo
	// Commit is the full commit ID.
	Commit string
	// Name is how messages name the commit, e.g. "main (1a2b3c4d)".
	Name string
	ctx  context.Context
	// prefix is prepended to every path: the directory the Repo was opened
	// on (Tree) or nothing (TopTree).
	prefix string
}

// Tree returns the files of commit, named name in messages. The context
// bounds every git command the tree runs.
func (r *Repo) Tree(ctx context.Context, commit, name string) *Tree {
	return &Tree{repo: r, Commit: commit, Name: name, ctx: ctx, prefix: r.Prefix()}
}

// TopTree is Tree with paths relative to the repository's top level, for
// files the pipeline names anywhere in the checkout.
func (r *Repo) TopTree(ctx context.Context, commit, name string) *Tree {
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
	if !isObjectName(t.Commit) {
		return nil, fmt.Errorf("%s in %s: %q is not a commit ID", rel, t.Name, t.Commit)
	}
	full := t.prefix + clean
	// ls-tree names the entry's mode and type without following anything;
	// literal pathspecs, so that no path is read as a pattern; from the top
	// of the tree, whatever directory git runs in.
	out, err := t.repo.output(t.ctx, "--literal-pathspecs", "ls-tree", "-z", "--full-tree", t.Commit, "--", full)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", rel, t.Name, err)
	}
	entry, _, _ := strings.Cut(out, "\x00")
	if entry == "" {
		return nil, &checkout.RefusedError{Path: rel, Reason: "not in " + t.Name, Err: fs.ErrNotExist}
	}
	meta, name, _ := strings.Cut(entry, "\t")
	f := strings.Fields(meta)
	if len(f) != 3 || name != full {
		return nil, &checkout.RefusedError{Path: rel, Reason: "not in " + t.Name, Err: fs.ErrNotExist}
	}
	mode, typ, oid := f[0], f[1], f[2]
	switch {
	case mode == "120000":
		return nil, &checkout.RefusedError{Path: rel, Reason: "a symbolic link in " + t.Name + " (not followed)"}
	case typ != "blob" || (mode != "100644" && mode != "100755"):
		return nil, &checkout.RefusedError{Path: rel, Reason: "not a regular file in " + t.Name}
	}
	size, err := t.repo.output(t.ctx, "cat-file", "-s", oid)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", rel, t.Name, err)
	}
	if n, err := strconv.ParseInt(size, 10, 64); err != nil || limit > 0 && n > limit {
		return nil, &checkout.RefusedError{Path: rel, Reason: fmt.Sprintf("larger than %d bytes in %s", limit, t.Name)}
	}
	return t.repo.bytes(t.ctx, "cat-file", "blob", oid)
}

// Files lists the regular files of the commit under dir (a file or a
// directory, relative like ReadFile's paths), relative to the tree's base,
// sorted as git sorts them; symbolic links and submodules are left out.
// A dir that is not in the commit gives an error satisfying
// errors.Is(err, fs.ErrNotExist).
func (t *Tree) Files(dir string) ([]string, error) {
	clean := path.Clean(dir)
	if dir == "" || clean == ".." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) || strings.ContainsRune(dir, 0) {
		return nil, &checkout.RefusedError{Path: dir, Reason: "outside the scan root", Err: checkout.ErrOutside}
	}
	if !isObjectName(t.Commit) {
		return nil, fmt.Errorf("%s in %s: %q is not a commit ID", dir, t.Name, t.Commit)
	}
	full := t.prefix + clean
	if clean == "." {
		full = strings.TrimSuffix(t.prefix, "/")
		if full == "" {
			full = "."
		}
	}
	out, err := t.repo.output(t.ctx, "--literal-pathspecs", "ls-tree", "-r", "-z", "--full-tree", t.Commit, "--", full)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", dir, t.Name, err)
	}
	var files []string
	for entry := range strings.SplitSeq(out, "\x00") {
		meta, name, ok := strings.Cut(entry, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 || f[1] != "blob" || (f[0] != "100644" && f[0] != "100755") {
			continue
		}
		if full != "." && name != full && !strings.HasPrefix(name, full+"/") {
			continue
		}
		files = append(files, strings.TrimPrefix(name, t.prefix))
	}
	if len(files) == 0 {
		return nil, &checkout.RefusedError{Path: dir, Reason: "no regular file under it in " + t.Name, Err: fs.ErrNotExist}
	}
	return files, nil
}
