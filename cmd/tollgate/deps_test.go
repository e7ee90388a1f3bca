package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

// npmLock is a package-lock.json pinning lodash and minimist.
func npmLock(lodash, minimist string) string {
	return `{
  "name": "web",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"name": "web", "dependencies": {"lodash": "^4.17.0", "minimist": "^1.2.0"}},
    "node_modules/lodash": {"version": "` + lodash + `"},
    "node_modules/minimist": {"version": "` + minimist + `"}
  }
}
`
}

// depsPRRepo is a repository whose main branch pins a vulnerable lodash,
// with two pull requests: one that leaves the dependencies alone, one that
// downgrades minimist to a vulnerable version.
func depsPRRepo(t *testing.T) (src string) {
	t.Helper()
	src = filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(filepath.Join(src, "web"), 0o755))
	git(t, src, "init", "-q", "-b", "main")
	write := func(p, content string) {
		must(t, os.WriteFile(filepath.Join(src, p), []byte(content), 0o644))
		git(t, src, "add", p)
	}
	write("web/package-lock.json", npmLock("4.17.20", "1.2.6"))
	write("README.md", "# web\n")
	git(t, src, "commit", "-q", "-m", "web")
	git(t, src, "checkout", "-q", "-b", "docs")
	write("README.md", "# web\n\nDocs.\n")
	git(t, src, "commit", "-q", "-m", "docs")
	git(t, src, "checkout", "-q", "-b", "downgrade", "main")
	write("web/package-lock.json", npmLock("4.17.20", "1.2.5"))
	git(t, src, "commit", "-q", "-m", "pin minimist")
	git(t, src, "checkout", "-q", "main")
	return src
}

// TestDependencyVulnerabilitiesAPullRequestIntroduces: a pull request
// fails for a vulnerable version it pins, not for one already on its
// target branch; the main build (and deps.fail-on all) still fails for it.
func TestDependencyVulnerabilitiesAPullRequestIntroduces(t *testing.T) {
	t.Parallel()
	src := depsPRRepo(t)
	cache := t.TempDir()
	must(t, vulndbtest.Write(vulndb.Dir(cache), vulndbtest.Default().With(vulndbtest.Dependencies())))
	checkout := func(branch string) string {
		dir := filepath.Join(t.TempDir(), "s")
		git(t, filepath.Dir(dir), "clone", "-q", "--no-single-branch", "--branch", branch, "file://"+src, dir)
		return dir
	}
	type outcome struct {
		code  int
		found map[string]string // rule -> baseline state
		pre   int
	}
	run := func(dir string, args ...string) outcome {
		t.Helper()
		out := t.TempDir()
		jsonPath, sarifPath, sbom := filepath.Join(out, "r.json"), filepath.Join(out, "s.sarif"), filepath.Join(out, "sbom")
		r := tollgate(t, nil, append([]string{"scan", "--scanners", "deps", "--offline", "--cache-dir", cache,
			"--format", "json", "--output", jsonPath, "--sarif", sarifPath, "--sbom", sbom}, append(args, dir)...)...)
		var rep struct {
			jsonReport
			Verdict struct {
				PreExisting int `json:"preExisting"`
			} `json:"verdict"`
		}
		b, err := os.ReadFile(jsonPath)
		if err != nil {
			t.Fatalf("exit %d: %v\n%s", r.code, err, r.stderr)
		}
		must(t, json.Unmarshal(b, &rep))
		o := outcome{code: r.code, found: map[string]string{}, pre: rep.Verdict.PreExisting}
		for _, f := range rep.findings() {
			if f.Location.Path != "web/package-lock.json" || f.Location.StartLine == 0 {
				t.Errorf("%s at %s:%d, want a line of web/package-lock.json", f.RuleID, f.Location.Path, f.Location.StartLine)
			}
			o.found[f.RuleID] = f.BaselineState
		}
		validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
		if _, err := os.Stat(filepath.Join(sbom, "dependencies.cdx.json")); err != nil {
			t.Errorf("no SBOM: %v", err)
		}
		return o
	}

	// The pull request that downgrades minimist: it introduced that one.
	got := run(checkout("downgrade"), "--policy-from", "main")
	if got.code != 1 || got.found[vulndbtest.NpmMinimist] != "new" || got.found[vulndbtest.NpmLodash] != "unchanged" || got.pre != 1 {
		t.Errorf("downgrade: %+v; want exit 1, minimist new, lodash unchanged (pre-existing)", got)
	}
	// The pull request that leaves dependencies alone passes...
	docs := checkout("docs")
	got = run(docs, "--policy-from", "main")
	if got.code != 0 || got.found[vulndbtest.NpmLodash] != "unchanged" || got.pre != 1 {
		t.Errorf("docs: %+v; want exit 0 with lodash pre-existing", got)
	}
	// ... unless the pipeline counts all of them ...
	got = run(docs, "--policy-from", "main", "--deps-fail-on", "all")
	if got.code != 1 || got.pre != 0 {
		t.Errorf("docs with --deps-fail-on all: %+v; want exit 1", got)
	}
	// ... and the main build fails for it.
	got = run(checkout("main"))
	if got.code != 1 || got.found[vulndbtest.NpmLodash] != "" {
		t.Errorf("main: %+v; want exit 1, no baseline state", got)
	}
	if want := []string{vulndbtest.NpmLodash}; !slices.Equal(keys(got.found), want) {
		t.Errorf("main: findings %v, want %v", keys(got.found), want)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
