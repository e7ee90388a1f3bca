package gitrepo

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gitleaks/go-gitdiff/gitdiff"
)

// TestAddedLinesOfOddNames: the lines a change adds are found whatever the
// file is called. git quotes a name with a backslash, a quote, a tab or a
// line break in its patch; the patch parser dropped a file whose name ends
// in a backslash, and its lines with it (previous code: `odd\: no added
// lines`). The names now come from `git diff --raw -z`.
func TestAddedLinesOfOddNames(t *testing.T) {
	f := newFixture(t)
	f.write("app.py", []byte("a = 1\n"))
	f.write("sub/kept.py", []byte("k = 1\n"))
	f.write("same1.py", []byte("s = 1\n"))
	f.write("same2.py", []byte("s = 1\n"))
	if err := os.Symlink("app.py", filepath.Join(f.dir, "link")); err != nil {
		t.Fatal(err)
	}
	base := f.commit("base")
	names := []string{
		`odd\`, `dir\/odd\`, "tab\tquote\"new\nline ü.py", `b\a"c\k.py`, "trail.py ", "a b/c b/d.py", `"quoted".py`,
	}
	for _, n := range names {
		f.write(n, []byte("x = 1\ny = 2\n"))
	}
	f.write("app.py", []byte("a = 1\nb = 2\n"))
	// The same pair of blobs in two files: the same lines.
	f.write("same1.py", []byte("s = 1\nt = 2\n"))
	f.write("same2.py", []byte("s = 1\nt = 2\n"))
	// A symbolic link that becomes a file: a change of type.
	if err := os.Remove(filepath.Join(f.dir, "link")); err != nil {
		t.Fatal(err)
	}
	f.write("link", []byte("now a file\nof two lines\n"))
	f.write("nul\\", []byte("one\x00\ntwo\n"))
	if err := os.Remove(filepath.Join(f.dir, "sub", "kept.py")); err != nil {
		t.Fatal(err)
	}
	f.commit("the pull request")

	added := addedSince(t, f.dir, base)
	for _, n := range names {
		if !added.Has(n, 1) || !added.Has(n, 2) || added.Has(n, 3) {
			t.Errorf("%s: added lines %v, want 1-2", n, added[n])
		}
	}
	for _, c := range []struct {
		path string
		line int
		want bool
	}{
		{"app.py", 2, true}, {"app.py", 1, false},
		{"same1.py", 2, true}, {"same1.py", 1, false},
		{"same2.py", 2, true}, {"same2.py", 1, false},
		{"link", 1, true}, {"link", 2, true},
		{`nul\`, 1, true}, {`nul\`, 2, true},
	} {
		if got := added.Has(c.path, c.line); got != c.want {
			t.Errorf("%s:%d added %v, want %v (all: %v)", c.path, c.line, got, c.want, added)
		}
	}
	if len(added["same1.py"]) != 1 {
		t.Errorf("same1.py: %v, want one range", added["same1.py"])
	}
	if _, ok := added["sub/kept.py"]; ok {
		t.Errorf("a deleted file has added lines")
	}

	// Where the patch parser reads a name right, it finds the same lines.
	r, err := Open(t.Context(), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Diff(t.Context(), []string{"--no-renames", "--full-index"}, base, "HEAD", nil, func(file *gitdiff.File) {
		if file.IsDelete || file.IsBinary {
			return
		}
		want := Added{}
		for _, tf := range file.TextFragments {
			want.add(file.NewName, tf)
		}
		if !slices.Equal(added[file.NewName], want[file.NewName]) {
			t.Errorf("%q: %v, the patch parser's %v", file.NewName, added[file.NewName], want[file.NewName])
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	// Opened on a folder: names relative to it.
	added = addedSince(t, filepath.Join(f.dir, `dir\`), base)
	if !added.Has(`odd\`, 2) || len(added) != 1 {
		t.Errorf("opened on dir\\: %v, want odd\\ alone", added)
	}
}

// addedSince is what HEAD adds against base, in the repository opened on
// dir.
func addedSince(t *testing.T, dir, base string) Added {
	t.Helper()
	r, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	added, err := r.AddedLines(t.Context(), base, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return added
}

// TestPatchOfOddNames: git diff and git log -p, as the secrets engine reads
// a pull request's commits and the history, name every file the change adds
// and hand over its added lines as they are. A file whose name ends in a
// backslash was dropped by the patch parser with its lines (previous code:
// `Diff: odd\ missing`), so a secret in it went unseen; lines that read
// like a patch's headers (--- "a/x\\") are content, never rewritten.
func TestPatchOfOddNames(t *testing.T) {
	f := newFixture(t)
	f.write("lookalike.txt", []byte("-- \"a/q\\\\\"\nkeep\n"))
	base := f.commit("base")
	content := "TOKEN = 1\n"
	lookalike := "++ \"b/x\\\\\"\n-- \"a/x\\\\\"\n\\\\ \"y\\\\\"\n"
	want := map[string]string{`odd\`: content, `dir\/odd\`: content, `two\\`: content, "tab\t\"q\"\\.py": content, "plain.py": content,
		"lookalike.txt": lookalike + "keep\n"}
	for n, c := range want {
		if n != "lookalike.txt" {
			f.write(n, []byte(c))
		}
	}
	f.write("lookalike.txt", []byte(lookalike+"keep\n"))
	head := f.commit("the pull request")
	r, err := Open(t.Context(), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, run func(func(*gitdiff.File)) error) {
		got := map[string]string{}
		if err := run(func(file *gitdiff.File) {
			for _, tf := range file.TextFragments {
				got[file.NewName] += tf.Raw(gitdiff.OpAdd)
			}
		}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for n, c := range want {
			if n == "lookalike.txt" {
				c = lookalike // keep is not added
			}
			if g, ok := got[n]; !ok {
				t.Errorf("%s: %s missing (got %q)", what, n, slices.Sorted(maps.Keys(got)))
			} else if g != c {
				t.Errorf("%s: %s added %q, want %q", what, n, g, c)
			}
		}
	}
	check("Diff", func(each func(*gitdiff.File)) error {
		return r.Diff(t.Context(), []string{"--full-index"}, base, head, nil, each)
	})
	check("Log", func(each func(*gitdiff.File)) error {
		return r.Log(t.Context(), []string{base + ".." + head}, each)
	})
}
