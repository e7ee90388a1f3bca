package gitrepo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitleaks/go-gitdiff/gitdiff"
	"golang.org/x/text/encoding/unicode"
)

// fixture is a git repository made in a test, committed to as a pull
// request's author would.
type fixture struct {
	t   testing.TB
	dir string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir()}
	f.git("init", "-q", "-b", "main")
	return f
}

func (f *fixture) git(args ...string) string {
	f.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"}, args...)...)
	cmd.Dir = f.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (f *fixture) write(name string, content []byte) {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) commit(msg string) string {
	f.t.Helper()
	f.git("add", "-A")
	f.git("commit", "-q", "--allow-empty", "-m", msg)
	return f.git("rev-parse", "HEAD")
}

func utf16le(s string) []byte {
	b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(err)
	}
	return b
}

// TestEmbeddedGitDirIsNeverUsed: a folder of the checkout laid out as a git
// directory, whose config names a command for core.fsmonitor and the folder
// as its own work tree, is never the repository: scanning it as the scan
// root opens the checkout's repository, lists the folder, and runs no
// command of its config. Before the hardened runner, `git -C infra diff`
// ran the command.
func TestEmbeddedGitDirIsNeverUsed(t *testing.T) {
	f := newFixture(t)
	f.write("README.md", []byte("outer\n"))
	outer := f.commit("outer")
	// The pull request's folder: a repository's git directory (a commit,
	// an index), committed as files, whose config makes the folder its own
	// work tree and names a command as its file-system monitor.
	src := newFixture(t)
	src.write("main.tf", []byte("resource \"x\" \"y\" {}\n"))
	src.commit("fake")
	fake := filepath.Join(f.dir, "infra")
	if out, err := exec.Command("cp", "-r", filepath.Join(src.dir, ".git"), fake).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f.write("infra/main.tf", []byte("resource \"x\" \"y\" {}\n"))
	marker := filepath.Join(t.TempDir(), "ran")
	cfg := "[core]\n\tbare = false\n\tworktree = .\n\tfsmonitor = \"touch " + marker + "; false\"\n" +
		"[diff \"x\"]\n\ttextconv = \"touch " + marker + "; cat\"\n"
	if err := os.WriteFile(filepath.Join(fake, "config"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	f.write("infra/info/attributes", []byte("* diff=x\n"))
	f.commit("the pull request's folder")

	r, err := Open(t.Context(), fake)
	if err != nil {
		t.Fatal(err)
	}
	if r.Top() != f.dir || !slices.Equal(r.Embedded(), []string{fake}) || r.Prefix() != "infra/" {
		t.Fatalf("top %s, embedded %v, prefix %q; want %s, [%s], infra/", r.Top(), r.Embedded(), r.Prefix(), f.dir, fake)
	}
	head, err := r.Head(t.Context())
	if err != nil || head == outer || head == "" {
		t.Fatalf("HEAD %q (%v): want the checkout's, past %s", head, err, outer)
	}
	if _, err := r.AddedLines(t.Context(), outer, "HEAD"); err != nil {
		t.Fatal(err)
	}
	if err := r.Log(t.Context(), []string{"--full-history", "--all"}, func(*gitdiff.File) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("git ran a command of the embedded repository's config")
	}
	// git itself, as gitleaks runs it (`git -C ROOT log -p -U0`), does run
	// the textconv command (and, on a git that sets the work tree up from
	// inside a git directory, the fsmonitor one): the test's control, that
	// the attack is real.
	control := exec.Command("git", "-C", fake, "log", "-p", "-U0", "-n", "1")
	control.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, _ := control.CombinedOutput()
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("control: git -C %s log -p ran no command of its config: %s", fake, out)
	}
}

// TestAttributesDoNotHideAddedLines: `* -diff` (or `binary`) in the pull
// request's .gitattributes, a UTF-16 file and a text file with a NUL byte
// all still have their added lines counted, decoded where the engines
// decode.
func TestAttributesDoNotHideAddedLines(t *testing.T) {
	f := newFixture(t)
	f.write("app.py", []byte("a = 1\n"))
	f.write("settings.ps1", utf16le("$a = 1\r\n"))
	f.write("nul.txt", []byte("one\x00\ntwo\n"))
	f.write("logo.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
	base := f.commit("base")
	f.write(".gitattributes", []byte("* -diff\n*.py binary\n"))
	f.write("app.py", []byte("a = 1\nb = 2 # gitleaks:allow\n"))
	f.write("settings.ps1", utf16le("$a = 1\r\n$b = 'x' # gitleaks:allow\r\n"))
	f.write("nul.txt", []byte("one\x00\ntwo\nthree # gitleaks:allow\n"))
	f.write("logo.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\nmore\n"))
	f.commit("the pull request")

	r, err := Open(t.Context(), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	added, err := r.AddedLines(t.Context(), base, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		line int
		want bool
	}{
		{"app.py", 2, true}, {"app.py", 1, false},
		{"settings.ps1", 2, true}, {"settings.ps1", 1, false},
		{"nul.txt", 3, true}, {"nul.txt", 2, false},
		{".gitattributes", 1, true},
	} {
		if got := added.Has(c.path, c.line); got != c.want {
			t.Errorf("%s:%d added %v, want %v (all: %v)", c.path, c.line, got, c.want, added)
		}
	}
	if _, ok := added["logo.png"]; ok {
		t.Errorf("a PNG has added lines: %v", added["logo.png"])
	}
	// The control: git as Tollgate used to run it sees binaries only.
	cmd := exec.Command("git", "-C", f.dir, "diff", "-U0", base, "HEAD", "--", "app.py")
	out, _ := cmd.Output()
	if !bytes.Contains(out, []byte("Binary files")) {
		t.Logf("control: plain git diff showed text: %s", out)
	}

	// git log -p, as the secrets engine reads commits: the same lines.
	var logged []string
	err = r.Log(t.Context(), []string{base + "..HEAD"}, func(file *gitdiff.File) {
		if !file.IsBinary {
			for _, tf := range file.TextFragments {
				if strings.Contains(tf.Raw(gitdiff.OpAdd), "gitleaks:allow") {
					logged = append(logged, file.NewName)
				}
			}
			return
		}
		frags, err := r.TextChange(t.Context(), file.OldOIDPrefix, file.NewOIDPrefix)
		if err != nil {
			t.Errorf("%s: %v", file.NewName, err)
		}
		for _, tf := range frags {
			if strings.Contains(tf.Raw(gitdiff.OpAdd), "gitleaks:allow") {
				logged = append(logged, file.NewName)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(logged)
	if want := []string{"app.py", "nul.txt", "settings.ps1"}; !slices.Equal(logged, want) {
		t.Errorf("git log showed the added suppressions in %v, want %v", logged, want)
	}
}

// TestResolveUsesFullyQualifiedRefs: a tag named origin/main (or main),
// pushed by anyone who can push, never stands for the target branch; the
// remote branch does, and the tag is named in a warning.
func TestResolveUsesFullyQualifiedRefs(t *testing.T) {
	rf := resolveFixture(t)
	f, r, target, pr := rf.fixture, rf.repo, rf.target, rf.shadow
	for _, ref := range []string{"refs/heads/main", "main", "origin/main"} {
		res, ok := r.Resolve(t.Context(), ref)
		if !ok || res.Commit != target || res.Ref != "refs/remotes/origin/main" {
			t.Errorf("%s: %+v %v, want %s from refs/remotes/origin/main", ref, res, ok, target)
		}
		if w := res.ShadowWarning(ref); !strings.Contains(w, "refs/tags/origin/main") || !strings.Contains(w, "refs/tags/main") || !strings.Contains(w, "refs/heads/origin/main") {
			t.Errorf("%s: warning %q", ref, w)
		}
	}
	// Without the remote branch, the local one; a tag alone is nothing.
	f.git("update-ref", "-d", "refs/remotes/origin/main")
	if res, ok := r.Resolve(t.Context(), "main"); !ok || res.Ref != "refs/heads/main" || res.Commit != pr {
		t.Errorf("main without origin: %+v %v", res, ok)
	}
	if res, ok := r.Resolve(t.Context(), "release"); ok {
		t.Errorf("release: %+v", res)
	}
	f.git("tag", "release", target)
	if res, ok := r.Resolve(t.Context(), "release"); ok {
		t.Errorf("a tag resolved as a branch: %+v", res)
	}
	if res, ok := r.Resolve(t.Context(), "refs/tags/release"); !ok || res.Commit != target {
		t.Errorf("a fully qualified tag: %+v %v", res, ok)
	}
	for _, bad := range []string{"--output=/tmp/x", "main~1", "HEAD@{1}", "a..b", "ma*n", ""} {
		if res, ok := r.Resolve(t.Context(), bad); ok {
			t.Errorf("%q resolved: %+v", bad, res)
		}
	}
}

// TestEveryCommandIsHardened: each git command names the repository, runs
// in its git directory with the fixed configuration and an environment
// without the caller's GIT_* variables or credentials.
func TestEveryCommandIsHardened(t *testing.T) {
	f := newFixture(t)
	f.write("a", []byte("x\n"))
	f.commit("one")
	t.Setenv("GIT_DIR", "/nonexistent")
	t.Setenv("GIT_EXTERNAL_DIFF", "/bin/false")
	t.Setenv("SYSTEM_ACCESSTOKEN", "token-value")
	r, err := Open(context.Background(), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := r.command(t.Context(), "status")
	args := strings.Join(cmd.Args, " ")
	for _, want := range []string{"--git-dir=" + filepath.Join(f.dir, ".git"), "core.fsmonitor=false", "core.hooksPath=" + os.DevNull,
		"safe.bareRepository=explicit", "protocol.allow=never", "log.showSignature=false", "--no-replace-objects", "core.bare=true"} {
		if !strings.Contains(args, want) {
			t.Errorf("the command lacks %q: %s", want, args)
		}
	}
	if cmd.Dir != filepath.Join(f.dir, ".git") {
		t.Errorf("runs in %s", cmd.Dir)
	}
	env := strings.Join(cmd.Env, "\n")
	for _, bad := range []string{"GIT_DIR=", "GIT_EXTERNAL_DIFF", "token-value"} {
		if strings.Contains(env, bad) {
			t.Errorf("the environment has %q", bad)
		}
	}
	for _, want := range []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_ATTR_NOSYSTEM=1", "GIT_NO_REPLACE_OBJECTS=1", "GIT_INDEX_FILE="} {
		if !strings.Contains(env, want) {
			t.Errorf("the environment lacks %q", want)
		}
	}
	if r.Calls() == 0 {
		t.Error("no git call counted")
	}
}
