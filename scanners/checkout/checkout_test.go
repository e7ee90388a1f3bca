package checkout

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/fifo"
)

// layout builds a root with a file, a directory, links that stay inside,
// links out of it (direct and through a chain), a FIFO, a socket-like
// special file and a link to a device, plus a secret file beside the root.
func layout(t testing.TB) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "dir", "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(root, "a.txt"):                "inside",
		filepath.Join(root, "dir", "sub", "b.yaml"): "inside too",
		filepath.Join(outside, "secret"):            "OUTSIDE",
		filepath.Join(root, "big"):                  strings.Repeat("x", 2048),
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"in-link":        "a.txt",
		"dir/up-link":    "../a.txt",
		"out-abs":        filepath.Join(outside, "secret"),
		"out-rel":        "../outside/secret",
		"dir/chain1":     "../chain2",
		"chain2":         "out-rel",
		"dir-out":        outside,
		"zero":           "/dev/zero",
		"loop1":          "loop2",
		"loop2":          "loop1",
		"dir/sub/dotdot": "../../../outside/secret",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(l))); err != nil {
			t.Fatal(err)
		}
	}
	if err := fifo.Make(filepath.Join(root, "fifo")); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

func TestRootReads(t *testing.T) {
	dir, _ := layout(t)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A link that stays inside the root reads its target, as os.Root does.
	for rel, want := range map[string]string{"a.txt": "inside", "dir/sub/b.yaml": "inside too", "in-link": "inside", "dir/up-link": "inside"} {
		if b, err := r.ReadFile(rel, 1024); err != nil || string(b) != want {
			t.Errorf("ReadFile(%s) = %q, %v", rel, b, err)
		}
	}
	for rel, reason := range map[string]string{
		"out-abs":              "leaves the scan root",
		"out-rel":              "leaves the scan root",
		"dir/chain1":           "leaves the scan root",
		"dir-out/secret":       "leaves the scan root",
		"dir/sub/dotdot":       "leaves the scan root",
		"zero":                 "leaves the scan root",
		"fifo":                 "not a regular file (named pipe)",
		"dir":                  "not a regular file (directory)",
		"big":                  "larger than 1 KiB",
		"missing":              "file not found",
		"../outside/secret":    "leaves the scan root",
		"loop1":                "symbolic link",
		"dir/../../root/a.txt": "leaves the scan root",
	} {
		done := make(chan struct{})
		var b []byte
		var err error
		go func() { b, err = r.ReadFile(rel, 1024); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadFile(%s) blocks", rel)
		}
		var re *RefusedError
		if err == nil || !errors.As(err, &re) || !strings.Contains(re.Reason, reason) {
			t.Errorf("ReadFile(%s) = %q, %v; want a refusal %q", rel, b, err, reason)
		}
	}
	if _, err := r.ReadFile("missing", 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file is not fs.ErrNotExist: %v", err)
	}
}

func TestRel(t *testing.T) {
	dir, outside := layout(t)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range []struct{ p, base, want string }{
		{"a.txt", ".", "a.txt"},
		{"b.yaml", "dir/sub", "dir/sub/b.yaml"},
		{"../a.txt", "dir", "a.txt"},
		{filepath.Join(r.Dir(), "dir", "x"), "", "dir/x"},
		{"./x/../y", "", "y"},
	} {
		if got, err := r.Rel(c.p, c.base); err != nil || got != c.want {
			t.Errorf("Rel(%q, %q) = %q, %v; want %q", c.p, c.base, got, err, c.want)
		}
	}
	for _, c := range []struct{ p, base string }{
		{"../x", ""}, {"../../x", "dir"}, {filepath.Join(outside, "secret"), ""}, {"/etc/passwd", ""}, {"a\x00b", ""}, {"", ""},
	} {
		if got, err := r.Rel(c.p, c.base); err == nil {
			t.Errorf("Rel(%q, %q) = %q, want an error", c.p, c.base, got)
		}
	}
}

// FuzzRootReadFile: whatever path is asked for, the reader returns only
// content from inside the root, never blocks, and never panics.
func FuzzRootReadFile(f *testing.F) {
	for _, s := range []string{"a.txt", "../outside/secret", "dir/chain1", "dir/sub/../../out-rel", "fifo", "zero", "dir-out/secret",
		"/etc/passwd", "dir/sub/dotdot", "./././a.txt", "dir//sub///b.yaml", "loop1/x", "..", ".", ""} {
		f.Add(s, "dir")
	}
	dir, _ := layout(f)
	r, err := Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })
	f.Fuzz(func(t *testing.T, p, base string) {
		done := make(chan struct{})
		var b []byte
		var err error
		go func() {
			defer close(done)
			if rel, rerr := r.Rel(p, base); rerr == nil {
				b, err = r.ReadFile(rel, 4096)
			} else {
				b, err = r.ReadFile(p, 4096)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadFile(%q) blocks", p)
		}
		if err == nil && strings.Contains(string(b), "OUTSIDE") {
			t.Fatalf("ReadFile(%q, base %q) read a file outside the root", p, base)
		}
	})
}

func TestReadTrusted(t *testing.T) {
	dir, outside := layout(t)
	if b, err := ReadTrusted(filepath.Join(outside, "secret"), 100); err != nil || string(b) != "OUTSIDE" {
		t.Errorf("a trusted file outside the checkout: %q, %v", b, err)
	}
	for _, p := range []string{filepath.Join(dir, "fifo"), "/dev/zero", dir} {
		if _, err := ReadTrusted(p, 100); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("ReadTrusted(%s): %v", p, err)
		}
	}
}
