package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/checkout"
	"github.com/tollgate/tollgate/scanners/gitrepo"
)

// Files the pipeline names inside the checkout (--config, --baseline,
// --secrets-config, --iac-checks, --tf-vars, --helm-values, --cf-params, and
// their variables and task inputs): in a pull-request build the checkout's
// copies are the pull request's, which could regenerate a baseline with its
// own secret in it or drop a check. They are policy like .tollgate.yaml:
// read from the target branch's commit, or refused when it cannot be read.
// A file the pipeline names outside the checkout (a secure file, an
// artifact) is the pipeline's own and read as named.

// pinned holds the target branch's copies of the pipeline's files.
type pinned struct {
	// dir is a private directory the copies are written to, by their path
	// relative to the repository's top level; removed by Options.Close.
	dir string
}

// pipelineSettings returns the settings with every input path (a Path
// setting Tollgate reads) checked, and in a pull-request build going
// through pin: the pipeline's values, not the checkout's own .tollgate.yaml,
// which names files of the policy source already. A file the pipeline names
// that does not exist is a usage error naming the setting (a typo in
// --tf-vars would otherwise leave the engine partial and the run passing).
func (o *Options) pipelineSettings(ctx context.Context, root *checkout.Root, all []scanners.Setting) []scanners.Setting {
	out := slices.Clone(all)
	for i, s := range out {
		if !s.Path || s.Writes {
			continue
		}
		set, setRepo, name := s.Set, s.SetRepo, settingName(s)
		out[i].Set = func(v string) error {
			if !o.Policy.PullRequest {
				for _, p := range scanners.SplitList(v) {
					if _, err := os.Stat(p); err != nil {
						return fmt.Errorf("%s: %w", p, errors.Unwrap(err))
					}
				}
				return set(v)
			}
			var kept []string
			for _, p := range scanners.SplitList(v) {
				// A file of the scan root, for a setting that reads repository
				// files from the policy source: named root-relative, read as
				// the repository's own are (a gitleaks config's [extend] too).
				if rel, err := root.Rel(p, ""); err == nil && setRepo != nil {
					if _, _, _, err := o.target(ctx, root, name, p); err != nil {
						return err
					}
					if err := setRepo(rel, func(string) {}); err != nil {
						return err
					}
					continue
				}
				q, err := o.pin(ctx, root, name, p)
				if err != nil {
					return err
				}
				kept = append(kept, q)
			}
			if len(kept) == 0 {
				return nil
			}
			return set(strings.Join(kept, ","))
		}
	}
	return out
}

// settingName names a setting the way the pipeline sets it.
func settingName(s scanners.Setting) string {
	if s.Flag == "" {
		return s.FileKey()
	}
	return "--" + s.Flag
}

// inCheckout returns p relative to the repository's top level (or the scan
// root when there is no repository), slash-separated, and whether it lies
// there at all. Symbolic links in p are resolved as far as p exists, so a
// link from outside into the checkout is inside.
func (o *Options) inCheckout(root *checkout.Root, p string) (string, bool) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", false
	}
	abs = resolveExisting(abs)
	base := resolveExisting(o.topDir(root))
	rel, err := filepath.Rel(base, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// resolveExisting resolves the symbolic links of the longest part of p that
// exists, keeping the rest as written.
func resolveExisting(p string) string {
	rest := ""
	for cur := p; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// refuseWithoutTarget is the error for a pipeline file inside the checkout
// when the target branch cannot be read.
func (o *Options) refuseWithoutTarget(name, p string) error {
	if !o.Policy.Defaults {
		return nil
	}
	return fmt.Errorf("%s lies inside the checkout, which this pull request can change; in a pull-request build Tollgate reads the files the pipeline names (%s) there from the target branch, but %s. Keep the file outside the checkout (a secure file, an artifact) or fetch the target branch (fetchDepth: 0)",
		p, name, o.Policy.Why)
}

// pin returns the path to read for p, a value of the setting name: p itself
// when it lies outside the checkout, else a private copy of the target
// branch's version (a file, or every file of a directory). A pull request
// that changes it gets a warning; one that adds it is refused, since the
// target has nothing to read.
func (o *Options) pin(ctx context.Context, root *checkout.Root, name, p string) (string, error) {
	tree, rel, files, err := o.target(ctx, root, name, p)
	if err != nil || tree == nil {
		return p, err
	}
	if o.pins.dir == "" {
		if o.pins.dir, err = os.MkdirTemp("", "tollgate-pinned-"); err != nil {
			return "", fmt.Errorf("private copy of %s: %w", p, err)
		}
	}
	// The checkout's copies, to tell whether the pull request changes them,
	// through the confined reader of the repository's top level.
	top, err := checkout.Open(o.topDir(root))
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	defer top.Close()
	changed := false
	for _, f := range files {
		b, err := tree.ReadFile(f, MaxPolicyFileSize)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		dst := filepath.Join(o.pins.dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return "", fmt.Errorf("private copy of %s: %w", p, err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return "", fmt.Errorf("private copy of %s: %w", p, err)
		}
		if mine, err := top.ReadFile(f, MaxPolicyFileSize); err != nil || !bytes.Equal(mine, b) {
			changed = true
		}
	}
	if !changed && len(files) > 0 {
		changed = o.addsFiles(root, rel, len(files))
	}
	if changed {
		o.Warnings = append(o.Warnings, scanners.Notification{Level: scanners.LevelWarning, Code: "policy-changed", Path: rel,
			Message: fmt.Sprintf("this pull request changes %s, which the pipeline names with %s; in a pull-request build the pipeline's files in the checkout come from %s, so the change is shown, not applied",
				rel, name, tree.Origin())})
	}
	return filepath.Join(o.pins.dir, filepath.FromSlash(rel)), nil
}

// target finds p in the target branch: the tree to read it from, its path
// relative to the repository's top level and its regular files (p itself,
// or those under a directory). A nil tree means p lies outside the
// checkout: the pipeline's own, read as named.
func (o *Options) target(ctx context.Context, root *checkout.Root, name, p string) (*gitrepo.Tree, string, []string, error) {
	rel, inside := o.inCheckout(root, p)
	if !inside {
		if _, err := os.Stat(p); err != nil {
			return nil, "", nil, fmt.Errorf("%s: %w", p, errors.Unwrap(err))
		}
		return nil, "", nil, nil
	}
	if err := o.refuseWithoutTarget(name, p); err != nil {
		return nil, "", nil, err
	}
	if o.Repo == nil || o.Policy.Commit == "" {
		return nil, "", nil, fmt.Errorf("%s lies inside the checkout of a pull-request build, whose target branch cannot be read", p)
	}
	tree := o.Repo.TopTree(ctx, o.Policy.Commit, o.Policy.Name)
	files, err := tree.Files(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil, fmt.Errorf("%s lies inside the checkout, and in a pull-request build the files the pipeline names (%s) there are read from %s, which does not have it (the pull request adds it): commit it to the target branch first, or keep it outside the checkout", p, name, tree.Origin())
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("%s: %w", p, err)
	}
	return tree, rel, files, nil
}

// topDir is the repository's top level (the scan root without one).
func (o *Options) topDir(root *checkout.Root) string {
	if o.Repo != nil {
		return o.Repo.Top()
	}
	return root.Dir()
}

// addsFiles tells whether the checkout's directory rel (top-relative) has
// more regular files than the target's n: a check the pull request adds.
func (o *Options) addsFiles(root *checkout.Root, rel string, n int) bool {
	dir := filepath.Join(o.topDir(root), filepath.FromSlash(rel))
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return false
	}
	count := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			count++
		}
		return nil
	})
	return count > n
}

// readPipelineConfig reads the pipeline's configuration file (--config,
// TOLLGATE_CONFIG, the configFile input): from the target branch when it
// lies inside the checkout of a pull-request build.
func (o *Options) readPipelineConfig(ctx context.Context, root *checkout.Root, p string) ([]byte, error) {
	if o.Policy.PullRequest {
		q, err := o.pin(ctx, root, "--config", p)
		if err != nil {
			return nil, err
		}
		p = q
	}
	return checkout.ReadTrusted(p, maxConfigSize)
}

// Close removes the private copies of the pipeline's files (see pin).
func (o *Options) Close() error {
	if o.pins.dir == "" {
		return nil
	}
	err := os.RemoveAll(o.pins.dir)
	o.pins.dir = ""
	return err
}
