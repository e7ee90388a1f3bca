// Package gitrepo asks git about the checkout being scanned: the revision,
// the remote (without credentials), whether the clone is shallow, and where a
// pull request's commits start.
package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoGit means git is not installed or the directory is not a repository.
var ErrNoGit = errors.New("not a git repository (or git is not installed)")

// Repo is a git working tree.
type Repo struct {
	Dir string
}

// Open checks that dir is inside a git working tree.
func Open(ctx context.Context, dir string) (*Repo, error) {
	r := &Repo{Dir: dir}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("%w: git is not on PATH (the full Tollgate image has it)", ErrNoGit)
	}
	out, err := r.git(ctx, "rev-parse", "--is-inside-work-tree")
	if err != nil || out != "true" {
		return nil, fmt.Errorf("%w: %s", ErrNoGit, dir)
	}
	return r, nil
}

// Env is the environment git runs with: no terminal prompt, no optional
// locks, and none of the credentials Tollgate itself holds (git needs none
// of them to read a local repository).
func Env(environ []string) []string {
	out := make([]string, 0, len(environ)+2)
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "SYSTEM_ACCESSTOKEN", "TOLLGATE_REGISTRY_PASSWORD":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0")
}

// git runs a git command in the repository and returns its trimmed stdout.
// Repository hooks and config that could run programs are not involved:
// only plumbing commands are used.
func (r *Repo) git(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", r.Dir}, args...)...)
	cmd.Env = Env(cmd.Environ())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// Head is the commit checked out.
func (r *Repo) Head(ctx context.Context) (string, error) { return r.git(ctx, "rev-parse", "HEAD") }

// Prefix is the directory of r.Dir within the repository, slash-separated
// with a trailing slash ("" at the top).
func (r *Repo) Prefix(ctx context.Context) (string, error) {
	return r.git(ctx, "rev-parse", "--show-prefix")
}

// Branch is the branch checked out ("" when detached).
func (r *Repo) Branch(ctx context.Context) string {
	b, err := r.git(ctx, "symbolic-ref", "--quiet", "--short", "HEAD")
	if err != nil {
		return ""
	}
	return b
}

// Shallow reports whether the clone is shallow (Azure Pipelines' default fetchDepth is 1).
func (r *Repo) Shallow(ctx context.Context) bool {
	out, err := r.git(ctx, "rev-parse", "--is-shallow-repository")
	return err == nil && out == "true"
}

// RemoteURL is origin's URL as an absolute URI (what SARIF's
// versionControlProvenance requires), with any user name, password or token
// removed; "" when there is no origin.
func (r *Repo) RemoteURL(ctx context.Context) string {
	u, err := r.git(ctx, "config", "--get", "remote.origin.url")
	if err != nil {
		return ""
	}
	return RepositoryURI(u, r.Dir)
}

// RepositoryURI turns a git remote as git accepts it into an absolute URI
// without credentials: URLs keep their scheme, scp-like "user@host:path"
// becomes ssh://host/path, and a local path (absolute, or relative to dir)
// becomes a file:// URI. It returns "" for what cannot be made absolute.
func RepositoryURI(remote, dir string) string {
	remote = strings.TrimSpace(remote)
	if remote == "" {
		return ""
	}
	if strings.Contains(remote, "://") {
		u, err := url.Parse(remote)
		if err != nil || u.Scheme == "" {
			return ""
		}
		u.User = nil
		return u.String()
	}
	// scp-like syntax: a colon before any slash (git's own rule); a Windows
	// drive letter ("C:\repo") is a path, not a host.
	if i := strings.Index(remote, ":"); i > 0 && !strings.Contains(remote[:i], "/") && !(i == 1 && isLetter(remote[0])) {
		host, path := remote[:i], remote[i+1:]
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = host[at+1:]
		}
		if host == "" {
			return ""
		}
		u := url.URL{Scheme: "ssh", Host: host, Path: "/" + strings.TrimPrefix(path, "/")}
		return u.String()
	}
	p := remote
	if !filepath.IsAbs(p) {
		if dir == "" {
			return ""
		}
		abs, err := filepath.Abs(filepath.Join(dir, p))
		if err != nil {
			return ""
		}
		p = abs
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Clean(p))}
	return u.String()
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// StripCredentials removes userinfo from a URL (https://user:token@host/...).
func StripCredentials(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		// scp-like git@host:path carries no secret beyond the user name.
		if i := strings.Index(raw, "@"); i >= 0 && !strings.Contains(raw, "://") {
			return raw[i+1:]
		}
		return raw
	}
	u.User = nil
	return u.String()
}

// Resolve returns the commit a ref names, trying a branch as the remote
// branch first (origin/NAME), as a CI checkout has it.
func (r *Repo) Resolve(ctx context.Context, ref string) (string, bool) {
	if ref == "" || strings.HasPrefix(ref, "-") {
		return "", false // never let a ref be read as an option
	}
	name := strings.TrimPrefix(ref, "refs/heads/")
	for _, cand := range []string{"origin/" + name, "refs/remotes/origin/" + name, ref, name} {
		if sha, err := r.git(ctx, "rev-parse", "--verify", "--quiet", cand+"^{commit}"); err == nil && sha != "" {
			return sha, true
		}
	}
	return "", false
}

// MergeBase is the best common ancestor of two commits ("" when there is
// none in the clone, as in a shallow one).
func (r *Repo) MergeBase(ctx context.Context, a, b string) string {
	out, err := r.git(ctx, "merge-base", a, b)
	if err != nil {
		return ""
	}
	return out
}

// CountCommits counts the commits in a range (e.g. "BASE..HEAD" or "HEAD").
func (r *Repo) CountCommits(ctx context.Context, rng string) int {
	out, err := r.git(ctx, "rev-list", "--count", rng)
	if err != nil {
		return 0
	}
	n := 0
	fmt.Sscan(out, &n)
	return n
}

// ShallowBoundary lists the commits at which a shallow clone's history stops.
func (r *Repo) ShallowBoundary(ctx context.Context) []string {
	p, err := r.git(ctx, "rev-parse", "--git-path", "shallow")
	if err != nil || p == "" {
		return nil
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.Dir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}
