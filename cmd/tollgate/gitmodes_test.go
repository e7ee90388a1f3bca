package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// prRepo is a repository built the way a pull-request build sees it: a main
// branch, a feature branch that adds and removes secrets, a commit on main
// after the branch point, and the merge commit Azure Pipelines checks out.
type prRepo struct {
	src     string            // the "server" repository
	sha     map[string]string // commit name -> SHA
	secrets map[string]string // secret name -> planted value
	private []string          // other values no output may carry
}

const (
	authorName  = "Leaky Author"
	authorEmail = "leaky.author@example.com"
)

func gitEnv() []string {
	return append(os.Environ(), "GIT_AUTHOR_NAME="+authorName, "GIT_AUTHOR_EMAIL="+authorEmail,
		"GIT_COMMITTER_NAME="+authorName, "GIT_COMMITTER_EMAIL="+authorEmail,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func newPRRepo(t *testing.T) prRepo {
	t.Helper()
	r := prRepo{src: filepath.Join(t.TempDir(), "src"), sha: map[string]string{}, secrets: map[string]string{
		"A": "ghp_" + "Zq8TnW3kRbY6vLm2Xc5Jd9Fh4Gs7Ap1Ue0Io",        // GitHub PAT, gitleaks' rule
		"B": "Wq7Lz2Rv9Kp4Tx6N",                                     // .env password, Tollgate's rule
		"C": "npm_" + "q8W2e4R6t8Y0u2I4o6P8a0S2d4F6g8H0j2K4",        // npm token
		"D": "mqzc5yvh2kx7wnrf3tjdb6lspe4gua2oiv7hc5nkyxwd3rf6tzmq", // Azure DevOps PAT (52 chars)
	}}
	r.private = []string{authorName, authorEmail}
	must(t, os.MkdirAll(r.src, 0o755))
	git(t, r.src, "init", "-q", "-b", "main")
	commit := func(name, msg string, files map[string]string) {
		t.Helper()
		for p, content := range files {
			full := filepath.Join(r.src, filepath.FromSlash(p))
			if content == "" {
				git(t, r.src, "rm", "-q", p)
				continue
			}
			must(t, os.MkdirAll(filepath.Dir(full), 0o755))
			must(t, os.WriteFile(full, []byte(content), 0o644))
			git(t, r.src, "add", p)
		}
		git(t, r.src, "commit", "-q", "-m", msg)
		r.sha[name] = git(t, r.src, "rev-parse", "HEAD")
	}
	commit("c1", "settings", map[string]string{
		"README.md":       "# app\n",
		"app/settings.py": "DEBUG = False\nGITHUB_TOKEN = \"" + r.secrets["A"] + "\"\n",
	})
	commit("c2", "read the token from the environment", map[string]string{
		"app/settings.py": "import os\nDEBUG = False\nGITHUB_TOKEN = os.environ[\"GITHUB_TOKEN\"]\n",
	})
	git(t, r.src, "checkout", "-q", "-b", "feature")
	commit("c3", "local settings", map[string]string{
		".env": "APP_ENV=prod\nDB_PASSWORD=" + r.secrets["B"] + "\n",
	})
	commit("c4", "registry", map[string]string{
		"web/.npmrc": "registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=" + r.secrets["C"] + "\n",
	})
	commit("c5", "oops, no .env in git", map[string]string{".env": ""})
	git(t, r.src, "checkout", "-q", "main")
	commit("c6", "ado script", map[string]string{
		"scripts/ado.sh": "#!/bin/sh\nAZDO_PAT=\"" + r.secrets["D"] + "\"\n",
	})
	// The merge commit a pull-request build checks out (refs/pull/N/merge).
	git(t, r.src, "checkout", "-q", "-b", "pr-merge")
	git(t, r.src, "merge", "-q", "--no-ff", "-m", "Merge pull request 1 from feature into main", "feature")
	r.sha["merge"] = git(t, r.src, "rev-parse", "HEAD")
	git(t, r.src, "checkout", "-q", "main")
	return r
}

// clone checks the merge commit out as the agent does; depth 0 is a full clone.
func (r prRepo) clone(t *testing.T, depth int, singleBranch bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "s")
	args := []string{"clone", "-q", "--branch", "pr-merge"}
	if depth > 0 {
		args = append(args, "--depth", fmt.Sprint(depth))
		if !singleBranch {
			args = append(args, "--no-single-branch")
		}
	}
	git(t, filepath.Dir(dir), append(args, "file://"+r.src, dir)...)
	// The agent's remote carries a token; reports must not.
	git(t, dir, "remote", "set-url", "origin", "https://build:"+r.secrets["A"]+"@dev.azure.com/contoso/web/_git/app")
	return dir
}

type gitRun struct {
	rep      jsonReport
	run      runResult
	sarif    sarifLog
	outputs  []string // every byte the scan wrote
	findings []string // "RULE PATH:LINE@COMMIT", sorted
	notes    []string
}

func scanGitMode(t *testing.T, dir string, env []string, args ...string) gitRun {
	t.Helper()
	out := t.TempDir()
	sarifPath, jsonPath := filepath.Join(out, "s.sarif"), filepath.Join(out, "r.json")
	base := []string{"scan", "--scanners", "secrets", "--debug", "--sarif", sarifPath, "--format", "json", "--output", jsonPath, "--fail-on", "none"}
	run := tollgate(t, env, append(append(base, args...), dir)...)
	if run.code != 0 {
		t.Fatalf("exit %d\n%s", run.code, run.stderr)
	}
	var g gitRun
	g.run = run
	sb, err := os.ReadFile(sarifPath)
	must(t, err)
	jb, err := os.ReadFile(jsonPath)
	must(t, err)
	g.outputs = []string{run.stdout, run.stderr, string(sb), string(jb)}
	g.sarif, _ = readSARIF(t, sarifPath)
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
	must(t, json.Unmarshal(jb, &g.rep))
	for _, f := range g.rep.findings() {
		g.findings = append(g.findings, fmt.Sprintf("%s %s:%d@%s", f.RuleID, f.Location.Path, f.Location.StartLine, f.Location.Commit))
	}
	slices.Sort(g.findings)
	g.notes = g.sarif.notifications()
	return g
}

func (g gitRun) noLeak(t *testing.T, r prRepo) {
	t.Helper()
	values := append([]string{}, r.private...)
	for _, v := range r.secrets {
		values = append(values, v)
	}
	for i, text := range g.outputs {
		for _, v := range values {
			if strings.Contains(text, v) {
				t.Errorf("output %d carries %q", i, v)
			}
		}
	}
}

func TestSecretsGitModes(t *testing.T) {
	t.Parallel()
	r := newPRRepo(t)
	full := r.clone(t, 0, true)
	pr := []string{"SYSTEM_PULLREQUEST_TARGETBRANCH=refs/heads/main"}
	want := func(name, rule, where string) string { return rule + " " + where + "@" + r.sha[name] }

	cases := []struct {
		name     string
		env      []string
		args     []string
		findings []string
	}{
		{"worktree", pr, nil, []string{
			"azure-devops-pat-legacy scripts/ado.sh:2@", "npm-access-token web/.npmrc:2@"}},
		{"commits from the agent's target branch", pr, []string{"--secrets-mode", "commits"}, []string{
			want("c3", "dotenv-secret", ".env:2"), want("c4", "npm-access-token", "web/.npmrc:2")}},
		{"commits from GitHub's base ref", []string{"GITHUB_BASE_REF=main"}, []string{"--secrets-mode", "commits"}, []string{
			want("c3", "dotenv-secret", ".env:2"), want("c4", "npm-access-token", "web/.npmrc:2")}},
		{"commits from --since", nil, []string{"--secrets-mode", "commits", "--since", "origin/main"}, []string{
			want("c3", "dotenv-secret", ".env:2"), want("c4", "npm-access-token", "web/.npmrc:2")}},
		{"history", nil, []string{"--secrets-mode", "history"}, []string{
			want("c6", "azure-devops-pat-legacy", "scripts/ado.sh:2"), want("c3", "dotenv-secret", ".env:2"),
			want("c1", "github-pat", "app/settings.py:2"), want("c4", "npm-access-token", "web/.npmrc:2")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := scanGitMode(t, full, c.env, c.args...)
			slices.Sort(c.findings)
			if !slices.Equal(g.findings, c.findings) {
				t.Errorf("findings\n got %q\nwant %q", g.findings, c.findings)
			}
			if len(g.notes) != 0 {
				t.Errorf("unexpected notifications %q", g.notes)
			}
			g.noLeak(t, r)
			run := g.sarif.Runs[0]
			if len(run.VersionControlProvenance) != 1 || run.VersionControlProvenance[0].RepositoryURI != "https://dev.azure.com/contoso/web/_git/app" ||
				run.VersionControlProvenance[0].RevisionID != r.sha["merge"] || run.VersionControlProvenance[0].Branch != "pr-merge" {
				t.Errorf("versionControlProvenance %+v", run.VersionControlProvenance)
			}
			var inSARIF []string
			for _, res := range run.Results {
				loc := res.Locations[0].PhysicalLocation
				commit, _ := res.Properties["commit"].(string)
				inSARIF = append(inSARIF, fmt.Sprintf("%s %s:%d@%s", res.RuleID, loc.ArtifactLocation.URI, loc.Region.StartLine, commit))
			}
			slices.Sort(inSARIF)
			if !slices.Equal(inSARIF, c.findings) {
				t.Errorf("SARIF results\n got %q\nwant %q", inSARIF, c.findings)
			}
		})
	}
}

func TestSecretsShallowClone(t *testing.T) {
	t.Parallel()
	r := newPRRepo(t)
	pr := []string{"SYSTEM_PULLREQUEST_TARGETBRANCH=refs/heads/main"}

	// fetchDepth: 1 with only the merge commit: the target branch is absent.
	single := r.clone(t, 1, true)
	g := scanGitMode(t, single, pr, "--secrets-mode", "commits")
	g.noLeak(t, r)
	if !slices.ContainsFunc(g.notes, func(n string) bool {
		return strings.Contains(n, "shallow") && strings.Contains(n, "refs/heads/main") &&
			strings.Contains(n, "SYSTEM_PULLREQUEST_TARGETBRANCH") && strings.Contains(n, "fetchDepth: 0")
	}) {
		t.Errorf("no shallow-clone notification naming the base, its source and the fix: %q", g.notes)
	}
	// What the clone has is scanned: the merge commit's files.
	wantShallow := []string{
		"azure-devops-pat-legacy scripts/ado.sh:2@" + r.sha["merge"], "npm-access-token web/.npmrc:2@" + r.sha["merge"]}
	if !slices.Equal(g.findings, wantShallow) {
		t.Errorf("findings %q, want %q", g.findings, wantShallow)
	}

	// History in a shallow clone: the notification names where it stops.
	g = scanGitMode(t, single, nil, "--secrets-mode", "history")
	g.noLeak(t, r)
	if !slices.ContainsFunc(g.notes, func(n string) bool {
		return strings.Contains(n, "shallow") && strings.Contains(n, r.sha["merge"][:12]) && strings.Contains(n, "fetchDepth: 0")
	}) {
		t.Errorf("no shallow-clone notification naming the boundary: %q", g.notes)
	}
	if !slices.Equal(g.findings, wantShallow) {
		t.Errorf("findings %q, want %q", g.findings, wantShallow)
	}

	// Branches fetched at depth 1 too: the base is there but not connected.
	all := r.clone(t, 1, false)
	g = scanGitMode(t, all, pr, "--secrets-mode", "commits")
	g.noLeak(t, r)
	if !slices.ContainsFunc(g.notes, func(n string) bool {
		return strings.Contains(n, "shallow") && strings.Contains(n, "added and removed again") && strings.Contains(n, "fetchDepth: 0")
	}) {
		t.Errorf("no shallow-clone notification: %q", g.notes)
	}
	// What HEAD changes against the base: the pull request's net additions
	// (not main's own script, not the .env it added and removed).
	if want := []string{"npm-access-token web/.npmrc:2@" + r.sha["merge"]}; !slices.Equal(g.findings, want) {
		t.Errorf("findings %q, want %q", g.findings, want)
	}

	// No base at all: only HEAD, and a notification that says so.
	g = scanGitMode(t, r.clone(t, 0, true), nil, "--secrets-mode", "commits")
	if !slices.ContainsFunc(g.notes, func(n string) bool { return strings.Contains(n, "--since") }) {
		t.Errorf("no notification about the missing base: %q", g.notes)
	}

	// Not a git repository: the engine fails with a clear error, the scan completes.
	plain := t.TempDir()
	write(t, filepath.Join(plain, "a.txt"), "x\n")
	run := tollgate(t, nil, "scan", "--scanners", "secrets", "--secrets-mode", "history", "--fail-on", "none", plain)
	if run.code != 3 || !strings.Contains(run.stdout+run.stderr, "not a git repository") {
		t.Errorf("exit %d, want 3 (an engine failed) and the cause\n%s\n%s", run.code, run.stdout, run.stderr)
	}
}
