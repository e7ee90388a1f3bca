package gitrepo

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/utf16text"
)

// Budgets of the CI fuzz smoke (.ci/run): each input runs git.
// ci-fuzztime FuzzResolve 300x
// ci-fuzztime FuzzTextChange 200x

// FuzzResolve: whatever a pipeline variable or --policy-from names, the
// resolver answers with a commit of a fully qualified branch ref (or the
// ref as fully named, or a commit ID as given), never a tag or branch that
// merely shadows the name, never an option or revision expression.
func FuzzResolve(f *testing.F) {
	f.Add("main")
	f.Add("origin/main")
	f.Add("refs/heads/main")
	f.Add("refs/tags/origin/main")
	f.Add("--output=/tmp/x")
	f.Add("main~1")
	f.Add("HEAD@{1}")
	f.Add("refs/remotes/origin/main")
	f.Add("origin/origin/main")
	f.Add(" main\n")
	r := resolveFixture(f)
	f.Fuzz(func(t *testing.T, ref string) {
		res, ok := r.repo.Resolve(t.Context(), ref)
		if !ok {
			return
		}
		name := strings.TrimSpace(ref)
		if strings.HasPrefix(name, "-") {
			t.Fatalf("%q (an option) resolved", ref)
		}
		if res.Ref == "" {
			if res.Commit != name {
				t.Fatalf("%q resolved to %s without a ref", ref, res.Commit)
			}
			return
		}
		// The ref is the one the name spells out, fully qualified: the
		// remote branch, else the local branch of that name, or the full
		// ref as given; never a tag or a branch git's short-name lookup
		// would try first.
		var allowed []string
		switch {
		case strings.HasPrefix(name, "refs/heads/"):
			allowed = []string{"refs/remotes/origin/" + strings.TrimPrefix(name, "refs/heads/"), name}
		case strings.HasPrefix(name, "refs/"):
			allowed = []string{name}
		default:
			n := strings.TrimPrefix(name, "origin/")
			allowed = []string{"refs/remotes/origin/" + n, "refs/heads/" + n}
		}
		if !slices.Contains(allowed, res.Ref) {
			t.Fatalf("%q resolved to %s, want one of %v", ref, res.Ref, allowed)
		}
		if (name == "main" || name == "origin/main" || name == "refs/heads/main") && res.Commit != r.target {
			t.Fatalf("%q resolved to %s (%s), not the target branch", ref, res.Commit, res.Ref)
		}
	})
}

// resolveFixture is a clone whose target branch is shadowed every way git
// allows: a tag and a local branch named origin/main, a tag named main.
type resolveRepo struct {
	*fixture
	repo           *Repo
	target, shadow string
}

func resolveFixture(t testing.TB) resolveRepo {
	t.Helper()
	fx := newFixture(t)
	fx.write("a", []byte("target\n"))
	target := fx.commit("target")
	fx.git("update-ref", "refs/remotes/origin/main", target)
	fx.write("a", []byte("pull request\n"))
	pr := fx.commit("pull request")
	fx.git("tag", "origin/main", pr)
	fx.git("tag", "-a", "-m", "x", "main", pr)
	fx.git("branch", "origin/main", pr)
	r, err := Open(context.Background(), fx.dir)
	if err != nil {
		t.Fatal(err)
	}
	return resolveRepo{fixture: fx, repo: r, target: target, shadow: pr}
}

// FuzzTextChange: two versions of a file git calls binary (by a NUL byte,
// or UTF-16) compared as the engines read them: every line TextChange
// reports as added is a line of the new version (as decoded), and a new
// file's every non-empty line is reported.
func FuzzTextChange(f *testing.F) {
	f.Add([]byte("a\x00\nb\n"), []byte("a\x00\nb\nTOKEN=x\n"))
	f.Add([]byte{}, utf16le("$t = 1\r\n$token = \"x\"\r\n"))
	f.Add(utf16le("one\r\n"), utf16le("one\r\ntwo\r\n"))
	f.Add([]byte("PK\x03\x04zip"), []byte("PK\x03\x04zip2"))
	f.Add([]byte("\xff\xfe"), []byte("\xfe\xff\x00a"))
	fx := newFixture(f)
	r, err := Open(context.Background(), fx.dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, oldB, newB []byte) {
		if len(oldB) > 1<<16 || len(newB) > 1<<16 {
			return
		}
		hash := func(b []byte) string {
			t.Helper()
			cmd := exec.Command("git", "--git-dir", filepath.Join(fx.dir, ".git"), "hash-object", "-w", "--stdin")
			cmd.Stdin = bytes.NewReader(b)
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(out))
		}
		oldOID := strings.Repeat("0", 40)
		if len(oldB) > 0 {
			oldOID = hash(oldB)
		}
		newOID := hash(newB)
		frags, err := r.TextChange(t.Context(), oldOID, newOID)
		if err != nil {
			t.Fatalf("TextChange: %v", err)
		}
		text := newB
		if utf16text.Is(newB) {
			if text, err = utf16text.Decode(newB); err != nil {
				return // not valid UTF-16: TextChange decoded it its own way
			}
		} else if binaryFormat(newB[:min(len(newB), 8192)]) {
			if len(frags) != 0 {
				t.Fatalf("a binary format has added lines: %d fragment(s)", len(frags))
			}
			return
		}
		lines := bytes.Count(text, []byte("\n"))
		if len(text) > 0 && text[len(text)-1] != '\n' {
			lines++
		}
		for _, fr := range frags {
			if fr.NewLines > 0 && (fr.NewPosition < 1 || fr.NewPosition+fr.NewLines-1 > int64(lines)) {
				t.Fatalf("lines %d-%d added, the new version has %d", fr.NewPosition, fr.NewPosition+fr.NewLines-1, lines)
			}
		}
		if len(oldB) == 0 && lines > 0 && utf8.Valid(text) {
			var added int64
			for _, fr := range frags {
				added += fr.NewLines
			}
			if added != int64(lines) {
				t.Fatalf("a new file of %d lines: %d added", lines, added)
			}
		}
	})
}
