package gitrepo

import (
	"bytes"
	"cmp"
	"io"
	"strings"
	"testing"
)

// TestRequote: the names of header lines are rewritten (\\ as \134), the
// lines of a hunk never, however long, and a line past the reader's buffer
// keeps the count of its hunk.
func TestRequote(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	// Each line, and what it becomes ("": itself).
	lines := [][2]string{
		{`diff --git "a/odd\\" "b/odd\\"`, `diff --git "a/odd\134" "b/odd\134"`},
		{`--- "a/odd\\"`, `--- "a/odd\134"`},
		{`+++ "b/odd\\"`, `+++ "b/odd\134"`},
		{"@@ -1,2 +1,3 @@"},
		{`--- "a/x\\"`},
		{"-" + long},
		{`++++ "b/x\\"`},
		{"+" + long},
		{`+\\`},
		{`\ No newline at end of file`},
		{"diff --git a/plain b/plain"},
		{`rename from "a\\b"`, `rename from "a\134b"`},
		{"@@ -0,0 +1 @@"},
		{`+--- "c\\"`},
	}
	var in, want string
	for _, l := range lines {
		in += l[0] + "\n"
		want += cmp.Or(l[1], l[0]) + "\n"
	}
	got, err := io.ReadAll(requote(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d: %.80q, want %.80q", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%d lines, want %d", len(gl), len(wl))
	}
}

// FuzzRequote: a patch without an escaped backslash passes through as it
// is; with one, only header lines change, and each by \\ -> \134 alone.
func FuzzRequote(f *testing.F) {
	f.Add([]byte("diff --git \"a/odd\\\\\" \"b/odd\\\\\"\n@@ -1 +1 @@\n-\\\\\n+--- \"\\\\\"\n"))
	f.Add([]byte("@@ -1,x +1 @@\n--- \"a\\\\\"\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := io.ReadAll(requote(bytes.NewReader(in)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(in, []byte(`\\`)) && !bytes.Equal(got, in) {
			t.Fatalf("changed %q to %q", in, got)
		}
		if !bytes.Equal(bytes.ReplaceAll(got, []byte(`\134`), []byte(`\\`)), bytes.ReplaceAll(in, []byte(`\134`), []byte(`\\`))) {
			t.Fatalf("%q became %q: more than \\\\ -> \\134", in, got)
		}
	})
}
