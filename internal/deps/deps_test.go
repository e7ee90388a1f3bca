package deps

import (
	"go/parser"
	"go/token"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDepsListsEveryImport: deps.go blank-imports exactly the third-party
// packages that the packages of cmd/tollgate import (for Linux, what the
// image builds), so the Dockerfile's dependency layer compiles all of them
// and nothing else.
func TestDepsListsEveryImport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}} {{.ImportPath}}", "../../cmd/tollgate").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var own []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if mod, pkg, _ := strings.Cut(line, " "); mod == "github.com/tollgate/tollgate" {
			own = append(own, pkg)
		}
	}
	out, err = exec.Command("go", append([]string{"list", "-f", "{{join .Imports \"\\n\"}}"}, own...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var want []string
	for _, imp := range strings.Split(string(out), "\n") {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && !strings.HasPrefix(imp, "github.com/tollgate/") && !slices.Contains(want, imp) {
			want = append(want, imp)
		}
	}
	slices.Sort(want)
	f, err := parser.ParseFile(token.NewFileSet(), "deps.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range f.Imports {
		p, _ := strconv.Unquote(s.Path.Value)
		got = append(got, p)
	}
	if !slices.Equal(got, want) {
		var add, drop []string
		for _, p := range want {
			if !slices.Contains(got, p) {
				add = append(add, p)
			}
		}
		for _, p := range got {
			if !slices.Contains(want, p) {
				drop = append(drop, p)
			}
		}
		t.Fatalf("internal/deps/deps.go is out of date: add %q, remove %q", add, drop)
	}
}
