package main

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/task/prcomments/adofake"
)

// TestTaskPRFileNames: a pull request adds a GitHub token in files whose
// names git quotes in a patch: one ending in a backslash (`odd\`, which
// the patch parser dropped with its lines, so it lost its thread: previous
// code `no thread on /odd\:1`), one with a tab, a quote, a line break and
// a non-ASCII letter, and one in a folder named a##b. Each gets its
// thread, and the logissue of a##b/c.py names exactly that path (previous
// code: `sourcepath "a#\#b/c.py"`), with no line carrying a second command.
func TestTaskPRFileNames(t *testing.T) {
	t.Parallel()
	odd, weird, hashes := `odd\`, "tab\tq\"ü\nx.py", "a##b/c.py"
	token := "ghp_" + "Rk4Wq8Zt2Xm6Pv9Ln3Bc7Hd5Js1Fy0Ga8Ue"
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	git(t, src, "init", "-q", "-b", "main")
	commitFiles(t, src, "main", map[string]string{".tollgate.yaml": "fail-on: high\nscanners: [secrets]\n", "app.py": "DEBUG = False\n"})
	git(t, src, "checkout", "-q", "-b", "feature")
	files := map[string]string{}
	for _, n := range []string{odd, weird, hashes} {
		files[n] = "import os\nTOKEN = \"" + token + "\"\n"
	}
	commitFiles(t, src, "feature", files)
	repo := prDecoRepo{src: src}
	repo.merge(t)

	s := adofake.New(jobToken, adofake.Change{Path: "/" + odd, ChangeType: "add"}, adofake.Change{Path: "/" + weird, ChangeType: "add"},
		adofake.Change{Path: "/" + hashes, ChangeType: "add"})
	defer s.Close()
	dir := repo.clone(t)
	r, cmds := decoTask(t, dir, s, nil)
	if r.code != 1 {
		t.Fatalf("exit %d, want the policy failure\n%s", r.code, tailOf(r.stderr))
	}
	threads := findingThreads(s)
	for _, n := range []string{odd, weird, hashes} {
		if _, ok := threads["/"+n+":2"]; !ok {
			t.Errorf("no thread on /%s:2; threads on %q", n, slices.Sorted(maps.Keys(threads)))
		}
	}
	var paths []string
	command := regexp.MustCompile(`(?i)##(vso)?\[`)
	for _, c := range cmds {
		if n := len(command.FindAllStringIndex(c.Line, -1)); n != 1 || !strings.HasPrefix(c.Line, "##vso[") {
			t.Errorf("a line with %d commands: %q", n, c.Line)
		}
		if c.Name == "task.logissue" && c.Props["sourcepath"] != "" {
			paths = append(paths, c.Props["sourcepath"])
		}
	}
	if !slices.Contains(paths, hashes) {
		t.Errorf("issues name %q, want %q among them", paths, hashes)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if !strings.HasPrefix(line, "##vso[") && command.MatchString(line) {
			t.Errorf("a command inside a line: %q", line)
		}
	}
}
