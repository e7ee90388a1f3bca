// Package gitrepo asks git about the checkout being scanned: the revision,
// the remote (without credentials), whether the clone is shallow, where a
// pull request's commits start, what it adds, and the files of another
// commit.
//
// The checkout is untrusted, and git reads instructions from it: config,
// hooks, attributes, refs and whole repositories can be committed as files.
// Every git command therefore runs through one hardened runner:
//
//   - The repository is found once, by Tollgate, not by git: the nearest
//     folder at or above the scan root that holds a .git entry (which no
//     commit can contain). A folder of the checkout laid out as a git
//     directory (HEAD, objects/, refs/) is never used; Open lists the ones it
//     passed over.
//   - Every command names that repository (--git-dir) and runs in it as a
//     bare repository, from inside its git directory, with an index that
//     does not exist: no .gitattributes of any commit or working tree
//     applies (no -diff or binary to hide a change, no filter or textconv
//     driver to run), and no working tree is read.
//   - A fixed configuration at command scope, which wins over every file:
//     no fsmonitor, no hooks, no external diff, no signature checks (gpg),
//     no pager, no transport (nothing fetched, not even a partial clone's
//     missing objects), bare repositories only when named, ownership trusted
//     for this repository alone; neither the system config nor replace refs
//     nor the system attributes are read.
//   - No environment variable of the caller's reaches git but for the
//     locale and the paths git needs to run (PATH, HOME, TMPDIR): no GIT_*
//     redirection, no credential.
//   - Refs are fully qualified (refs/remotes/origin/NAME, refs/heads/NAME):
//     a tag named origin/main never stands for the target branch.
package gitrepo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrNoGit means git is not installed or the directory is not a repository.
var ErrNoGit = errors.New("not a git repository (or git is not installed)")

// Repo is a git repository and the directory of its work tree that a scan
// opened. Open is the only way to make one.
type Repo struct {
	// dir is the directory opened (the scan root), absolute.
	dir string
	// top is the work tree's top level: the folder holding .git.
	top string
	// gitDir is the repository's git directory, absolute.
	gitDir string
	// prefix is dir relative to top, slash-separated, with a trailing
	// slash ("" at the top).
	prefix string
	// env is the environment of every git command.
	env []string
	// globals are the options before every git subcommand.
	globals []string
	// embedded lists folders between dir and top (dir included) laid out
	// as git directories: never used.
	embedded []string
	// calls counts the git processes started (a scan should start few).
	calls atomic.Int64

	mu  sync.Mutex
	log *slog.Logger // nil until SetLogger: the commands run meanwhile wait in early
	// early are the commands run before a logger was set (while the
	// options are parsed, before --debug is known).
	early [][]string
}

// Open finds the repository dir belongs to, once, and checks that git can
// read it. SetLogger names where each git command is logged.
func Open(ctx context.Context, dir string) (*Repo, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("%w: git is not on PATH (the full Tollgate image has it)", ErrNoGit)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoGit, dir, err)
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved // the pipeline's path, as the walk resolves it
	}
	r := &Repo{dir: abs}
	for d := abs; ; {
		if fi, err := os.Lstat(filepath.Join(d, ".git")); err == nil && (fi.IsDir() || fi.Mode().IsRegular()) {
			r.top = d
			break
		}
		if looksLikeGitDir(d) {
			r.embedded = append(r.embedded, d)
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if r.top == "" {
		return nil, fmt.Errorf("%w: %s (no .git at or above it)%s", ErrNoGit, dir, r.embeddedNote())
	}
	// Only the folders below the top level count: one above it is outside
	// the checkout.
	var inside []string
	for _, e := range r.embedded {
		if e != r.top && strings.HasPrefix(e, r.top+string(filepath.Separator)) {
			inside = append(inside, e)
		}
	}
	r.embedded = inside
	rel, err := filepath.Rel(r.top, abs)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoGit, dir, err)
	}
	if rel = filepath.ToSlash(rel); rel != "." {
		r.prefix = rel + "/"
	}
	r.env = gitEnv(os.Environ())
	// A .git file (a worktree's or a submodule's) names the git directory;
	// git resolves it, and says where it is.
	r.gitDir = filepath.Join(r.top, ".git")
	r.globals = r.options()
	out, err := r.output(ctx, "rev-parse", "--absolute-git-dir")
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoGit, dir, err)
	}
	r.gitDir = filepath.FromSlash(out)
	r.globals = r.options()
	return r, nil
}

// looksLikeGitDir reports whether d is laid out as a git directory (a bare
// repository): what git would use on its own when asked to work in d.
func looksLikeGitDir(d string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Lstat(filepath.Join(d, name)); err != nil {
			return false
		}
	}
	return true
}

func (r *Repo) embeddedNote() string {
	if len(r.embedded) == 0 {
		return ""
	}
	return fmt.Sprintf("; %s laid out as a git directory and not used", strings.Join(r.embedded, ", "))
}

// Embedded lists the folders of the checkout, from the scan root up to the
// top level, that are laid out as git directories: git would have used one
// of them on its own; Tollgate never does. Each deserves a notification.
func (r *Repo) Embedded() []string {
	if r == nil {
		return nil
	}
	return r.embedded
}

// Top is the work tree's top level ("" for no repository).
func (r *Repo) Top() string {
	if r == nil {
		return ""
	}
	return r.top
}

// Calls is the number of git processes the repository has started.
func (r *Repo) Calls() int64 { return r.calls.Load() }

// config is the configuration at command scope: it wins over the
// repository's, the user's and (not read anyway) the system's.
func (r *Repo) config() []string {
	return []string{
		"core.fsmonitor=false",
		"core.hooksPath=" + os.DevNull,
		"core.bare=true", // no work tree: nothing of it (attributes, filters) is read
		"core.untrackedCache=false",
		"core.attributesFile=" + os.DevNull,
		"core.pager=cat",
		"core.quotePath=false",
		"core.bigFileThreshold=64m", // a larger file is binary to diff and log, never diffed line by line
		"core.askPass=",
		"core.sshCommand=",
		"diff.external=",
		"diff.noprefix=false",
		"diff.mnemonicPrefix=false",
		"diff.relative=false",
		"diff.submodule=short",
		"color.ui=false",
		"log.showSignature=false",
		"log.follow=false",
		"log.showRoot=true",
		"gc.auto=0",
		"maintenance.auto=false",
		"protocol.allow=never",
		"fetch.recurseSubmodules=false",
		"submodule.recurse=false",
		"safe.bareRepository=explicit",
		"safe.directory=" + filepath.ToSlash(r.top),
		"safe.directory=" + filepath.ToSlash(r.gitDir),
	}
}

// options are the global options of every command: the repository named,
// no pager, no replace refs, and the configuration above.
func (r *Repo) options() []string {
	out := []string{"--git-dir=" + r.gitDir, "--no-pager", "--no-replace-objects", "--no-optional-locks"}
	for _, c := range r.config() {
		out = append(out, "-c", c)
	}
	return out
}

// gitEnv is the environment of a git command: what it needs to run
// (PATH, HOME, temporary folders, the locale, Windows' system variables),
// none of the caller's GIT_* variables and no credential, plus the
// settings that keep the system's config and attributes out and git from
// asking anyone anything.
func gitEnv(environ []string) []string {
	keep := map[string]bool{"PATH": true, "HOME": true, "TMPDIR": true, "TMP": true, "TEMP": true,
		"LANG": true, "LANGUAGE": true, "LC_ALL": true, "LC_CTYPE": true, "LC_MESSAGES": true, "TZ": true,
		"USERPROFILE": true, "SYSTEMROOT": true, "SYSTEMDRIVE": true, "WINDIR": true, "COMSPEC": true, "PATHEXT": true,
		"HOMEDRIVE": true, "HOMEPATH": true, "APPDATA": true, "LOCALAPPDATA": true, "PROGRAMDATA": true}
	out := make([]string, 0, len(keep)+8)
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if runtime.GOOS == "windows" {
			name = strings.ToUpper(name)
		}
		if keep[name] {
			out = append(out, kv)
		}
	}
	return append(out,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_ATTR_NOSYSTEM=1",
		"GIT_NO_REPLACE_OBJECTS=1",
		"GIT_NO_LAZY_FETCH=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_OPTIONAL_LOCKS=0",
		"GIT_PAGER=cat",
		"GIT_INDEX_FILE="+noIndex(),
	)
}

// noIndex is a path where no index file is: git then sees an empty index
// (and no .gitattributes in it).
func noIndex() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(os.TempDir(), "tollgate-no-index-"+hex.EncodeToString(b[:]))
}

// command is a git command of the repository, with the hardened options,
// environment and working directory (its git directory: never a folder of
// the work tree, whose .gitattributes git would read relative to it).
func (r *Repo) command(ctx context.Context, args ...string) *exec.Cmd {
	full := append(append([]string{}, r.globals...), args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = r.env
	cmd.Dir = r.gitDir
	r.calls.Add(1)
	r.mu.Lock()
	if r.log == nil {
		r.early = append(r.early, full)
	} else {
		r.log.Debug("git", "args", full)
	}
	r.mu.Unlock()
	return cmd
}

// SetLogger logs each git command at debug level from now on, after the
// ones run before it was set: with --debug, every command git ran for the
// scan, and the options that hardened it.
func (r *Repo) SetLogger(log *slog.Logger) {
	if r == nil || log == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, args := range r.early {
		log.Debug("git", "args", args)
	}
	r.early, r.log = nil, log
}

// output runs a git command and returns its trimmed stdout.
func (r *Repo) output(ctx context.Context, args ...string) (string, error) {
	b, err := r.bytes(ctx, args...)
	return strings.TrimSpace(string(b)), err
}

// bytes runs a git command and returns its stdout as it is.
func (r *Repo) bytes(ctx context.Context, args ...string) ([]byte, error) {
	cmd := r.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// stream runs a git command and hands its stdout to read, which must read
// it to its end or return; the command's error (or read's) is returned.
func (r *Repo) stream(ctx context.Context, read func(io.Reader) error, args ...string) error {
	cmd := r.command(ctx, args...)
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	readErr := read(stdout)
	_, _ = io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case readErr != nil:
		return fmt.Errorf("git %s: %w", args[0], readErr)
	case waitErr != nil:
		return fmt.Errorf("git %s: %w: %s", args[0], waitErr, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// Head is the commit checked out.
func (r *Repo) Head(ctx context.Context) (string, error) {
	return r.output(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", "HEAD^{commit}")
}

// Prefix is the directory opened within the repository, slash-separated
// with a trailing slash ("" at the top).
func (r *Repo) Prefix() string { return r.prefix }

// Branch is the branch checked out ("" when detached).
func (r *Repo) Branch(ctx context.Context) string {
	b, err := r.output(ctx, "symbolic-ref", "--quiet", "--short", "HEAD")
	if err != nil {
		return ""
	}
	return b
}

// Shallow reports whether the clone is shallow (Azure Pipelines' default fetchDepth is 1).
func (r *Repo) Shallow(ctx context.Context) bool {
	out, err := r.output(ctx, "rev-parse", "--is-shallow-repository")
	return err == nil && out == "true"
}

// RemoteURL is origin's URL as an absolute URI (what SARIF's
// versionControlProvenance requires), with any user name, password or token
// removed; "" when there is no origin.
func (r *Repo) RemoteURL(ctx context.Context) string {
	u, err := r.output(ctx, "config", "--get", "remote.origin.url")
	if err != nil {
		return ""
	}
	return RepositoryURI(u, r.top)
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

// MergeBase is the best common ancestor of two commits ("" when there is
// none in the clone, as in a shallow one).
func (r *Repo) MergeBase(ctx context.Context, a, b string) string {
	if !isObjectName(a) || !isObjectName(b) {
		return ""
	}
	out, err := r.output(ctx, "merge-base", "--end-of-options", a, b)
	if err != nil {
		return ""
	}
	return out
}

// CountCommits counts the commits reachable from head and not from base
// (base "": all of head's).
func (r *Repo) CountCommits(ctx context.Context, base, head string) int {
	args := []string{"rev-list", "--count", "--end-of-options", head}
	if base != "" {
		args = append(args, "^"+base)
	}
	if !isObjectName(head) || base != "" && !isObjectName(base) {
		return 0
	}
	out, err := r.output(ctx, args...)
	if err != nil {
		return 0
	}
	n := 0
	fmt.Sscan(out, &n)
	return n
}

// ShallowBoundary lists the commits at which a shallow clone's history stops.
func (r *Repo) ShallowBoundary(ctx context.Context) []string {
	b, err := os.ReadFile(filepath.Join(r.gitDir, "shallow"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// isObjectName reports whether s is a full or abbreviated object ID, or
// HEAD: what the repository's methods accept where a commit is meant, so
// that no argument is read as an option or a revision expression.
func isObjectName(s string) bool {
	if s == "HEAD" {
		return true
	}
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
