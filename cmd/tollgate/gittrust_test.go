package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/task/prcomments/adofake"
)

// TestCredentialsNotInTheProcessEnvironment: the job's access token and the
// registry password reach Tollgate through its environment, yet no process
// of the job's user can read them from /proc/PID/environ while it runs
// (Tollgate restarts itself without them and takes them from a pipe), and
// the token still works: the pull request is decorated with it. Before, the
// environment kept both for the life of the process (os.Unsetenv does not
// change the copy the kernel shows).
func TestCredentialsNotInTheProcessEnvironment(t *testing.T) {
	t.Parallel()
	repo := newPRDecoRepo(t)
	s := adofake.New(jobToken,
		adofake.Change{Path: "/infra/main.tf", ChangeType: "edit"},
		adofake.Change{Path: "/k8s/pod.yaml", ChangeType: "add"},
		adofake.Change{Path: "/app/settings.py", ChangeType: "add"})
	defer s.Close()
	dir := repo.clone(t)
	env, _, _ := agentEnv(t, dir, "1", map[string]string{"failOn": "high", "prComments": "true"})
	env = append(env, "SYSTEM_PULLREQUEST_TARGETBRANCH=refs/heads/main", "BUILD_SOURCEBRANCH=refs/pull/42/merge",
		"TOLLGATE_REGISTRY_PASSWORD=registry-pw-Zr8Kq3Lm")
	for k, v := range s.Env() {
		env = append(env, k+"="+v)
	}
	// Slowed, so that it runs long enough to be looked at.
	cmd := slowCommand(context.Background(), t, "3s", env, "task")
	var stdout bytes.Buffer
	stderr := &firstLine{started: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	must(t, cmd.Start())
	environ := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "environ")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// From Tollgate's first log line on (its own code runs: the restart is
	// done; before it, the Go runtime and the libraries' init run), until
	// it exits.
	var err error
	select {
	case <-stderr.started:
	case err = <-done:
		t.Fatalf("Tollgate ended before it logged anything: %v\n%s", err, stderr.String())
	}
	reads := 0
poll:
	for {
		select {
		case err = <-done:
			break poll
		case <-time.After(100 * time.Millisecond):
		}
		b, rerr := os.ReadFile(environ)
		if rerr != nil {
			continue
		}
		reads++
		for _, secret := range []string{jobToken, "registry-pw-Zr8Kq3Lm"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("/proc/%d/environ holds %s\n%s", cmd.Process.Pid, secret[:8], tailOf(stderr.String()))
			}
		}
		if !bytes.Contains(b, []byte("SYSTEM_COLLECTIONURI=")) {
			t.Errorf("/proc/%d/environ is not Tollgate's: %q", cmd.Process.Pid, b)
		}
	}
	if reads < 5 {
		t.Fatalf("the environment was read %d times while Tollgate ran (%v)", reads, err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d, want 1 (findings)\n%s", code, tailOf(stderr.String()))
	}
	if len(findingThreads(s)) == 0 {
		t.Fatalf("no thread posted: the token did not reach the API client\n%s", tailOf(stderr.String()))
	}
	if p := s.Problems(); len(p) > 0 {
		t.Fatalf("requests the API would refuse (the token):\n%s", strings.Join(p, "\n"))
	}
}

// firstLine keeps what is written to it and closes started at the first
// line break.
type firstLine struct {
	mu      sync.Mutex
	b       bytes.Buffer
	started chan struct{}
	once    sync.Once
}

func (f *firstLine) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.b.Write(p)
	if bytes.IndexByte(p, '\n') >= 0 {
		f.once.Do(func() { close(f.started) })
	}
	return len(p), nil
}

func (f *firstLine) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.b.String()
}

// gitTrustRepo is a repository whose pull requests each try to reach past
// the gate through git itself: merge-<name> is the merge commit the agent
// checks out, origin/main (in the clone) the target branch.
type gitTrustRepo struct {
	src    string
	tokens map[string]string
}

func newGitTrustRepo(t *testing.T) gitTrustRepo {
	t.Helper()
	r := gitTrustRepo{src: filepath.Join(t.TempDir(), "src"), tokens: map[string]string{}}
	must(t, os.MkdirAll(r.src, 0o755))
	git(t, r.src, "init", "-q", "-b", "main")
	commitFiles(t, r.src, "main", map[string]string{
		".tollgate.yaml": "fail-on: high\nscanners: [secrets]\n",
		"app/app.py":     "DEBUG = False\n",
		"app/run.ps1":    string(utf16LE("$debug = $false\r\n")),
	})
	pr := func(name string, files map[string]string) {
		t.Helper()
		git(t, r.src, "checkout", "-q", "-b", "pr-"+name, "main")
		commitFiles(t, r.src, "pull request "+name, files)
		git(t, r.src, "checkout", "-q", "-b", "merge-"+name, "main")
		git(t, r.src, "merge", "-q", "--no-ff", "-m", "Merge pull request "+name, "pr-"+name)
	}
	r.tokens["attributes"] = "ghp_" + "At7Rb2Kx9Lm4Qp8Zs3Vd6Wf1Hj5Nc0Ye2Ug4"
	// `* -diff` makes plain git call every change binary: the pull
	// request's own gitleaks:allow would look like the target's.
	pr("attributes", map[string]string{
		".gitattributes": "* -diff\n*.py binary\n",
		"app/app.py":     "DEBUG = False\nTOKEN = \"" + r.tokens["attributes"] + "\"  # gitleaks:allow\n",
	})
	// No attribute at all: git calls UTF-16 binary, Tollgate decodes it.
	r.tokens["utf16"] = "ghp_" + "Ut6Rb2Kx9Lm4Qp8Zs3Vd6Wf1Hj5Nc0Ye2Ug4"
	pr("utf16", map[string]string{
		"app/run.ps1": string(utf16LE("$debug = $false\r\n$token = \"" + r.tokens["utf16"] + "\"  # gitleaks:allow\r\n")),
	})
	// A tag named like the target branch, on the pull request's own
	// commit, whose .tollgate.yaml passes everything.
	r.tokens["tag"] = "ghp_" + "Tg5Rb2Kx9Lm4Qp8Zs3Vd6Wf1Hj5Nc0Ye2Ug4"
	pr("tag", map[string]string{
		".tollgate.yaml": "fail-on: none\nscanners: [secrets]\n",
		"app/app.py":     "DEBUG = False\nTOKEN = \"" + r.tokens["tag"] + "\"\n",
	})
	git(t, r.src, "tag", "origin/main", "merge-tag")
	git(t, r.src, "checkout", "-q", "main")
	return r
}

func utf16LE(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, r := range s {
		out = append(out, byte(r), byte(r>>8))
	}
	return out
}

// clone is the agent's checkout of a pull request: the merge commit, the
// target branch as origin/main, and the tags (fetchTags, a full clone).
func (r gitTrustRepo) clone(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "s")
	git(t, filepath.Dir(dir), "clone", "-q", "--branch", "merge-"+name, "file://"+r.src, dir)
	git(t, dir, "fetch", "-q", "--tags", "origin", "main:refs/remotes/origin/main")
	return dir
}

// TestPullRequestCannotHideBehindGit: a pull request's .gitattributes, a
// UTF-16 file and a tag named origin/main each made the gate pass over the
// token the pull request adds (its own gitleaks:allow counted as the
// target's, its own .tollgate.yaml taken as the target's, commits mode
// blinded). Each fails now, through `tollgate task` as the agent runs it,
// through `tollgate scan --policy-from main`, and in commits mode.
func TestPullRequestCannotHideBehindGit(t *testing.T) {
	t.Parallel()
	repo := newGitTrustRepo(t)
	for _, name := range []string{"attributes", "utf16", "tag"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := repo.clone(t, name)
			where := map[string]string{"attributes": "app/app.py:2", "utf16": "app/run.ps1:2", "tag": "app/app.py:2"}[name]
			for _, mode := range []string{"worktree", "commits"} {
				r, cmds, sarifPath, _ := prTask(t, dir, map[string]string{"secretsMode": mode})
				if r.code != 1 || completion(cmds) != "Failed" {
					t.Fatalf("task, %s: exit %d, result %q; want 1, Failed\n%s\n%s", mode, r.code, completion(cmds), r.stdout, tailOf(r.stderr))
				}
				log, _ := readSARIF(t, sarifPath)
				if !log.where()["gitleaks github-pat "+where] {
					t.Errorf("task, %s: the token at %s is not reported: %v", mode, where, log.where())
				}
				if name != "tag" && mode == "worktree" {
					if review := underReview(log); review["github-pat "+where] == "" {
						t.Errorf("task: the pull request's gitleaks:allow at %s is not under review: %v", where, review)
					}
				}
				if name == "tag" {
					warned := false
					for _, c := range cmds {
						if c.Name == "task.logissue" && strings.Contains(c.Message, "refs/tags/origin/main") {
							warned = true
						}
					}
					if !warned {
						t.Errorf("task, %s: no warning names the tag refs/tags/origin/main:\n%s", mode, r.stdout)
					}
				}
				for _, text := range []string{r.stdout, r.stderr} {
					if strings.Contains(text, repo.tokens[name]) {
						t.Error("the token reached the output")
					}
				}
			}
			// The CLI the same way.
			sarifPath := filepath.Join(t.TempDir(), "cli.sarif")
			r := tollgate(t, nil, "scan", "--policy-from", "main", "--secrets-mode", "commits", "--since", "main", "--sarif", sarifPath, dir)
			if r.code != 1 {
				t.Fatalf("scan: exit %d, want 1\n%s%s", r.code, r.stdout, tailOf(r.stderr))
			}
			if log, _ := readSARIF(t, sarifPath); !log.where()["gitleaks github-pat "+where] {
				t.Errorf("scan: the token at %s is not reported: %v", where, log.where())
			}
		})
	}
}

// TestPipelineFilesInTheCheckoutComeFromTheTarget: a baseline and a
// gitleaks configuration the pipeline names, committed in the repository
// (gitleaks' baselinePath, Checkov's --baseline), are policy: a pull
// request that regenerates the baseline with its own token in it, or
// allowlists its file in the configuration, used to pass (the token
// "unchanged", exit 0). In a pull-request build they are read from the
// target branch now, the change is shown, and a file the target lacks or a
// target that is not in the clone is a usage error naming the setting.
func TestPipelineFilesInTheCheckoutComeFromTheTarget(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	git(t, src, "init", "-q", "-b", "main")
	old := "ghp_" + "Ol4Rb2Kx9Lm4Qp8Zs3Vd6Wf1Hj5Nc0Ye2Ug4"
	tok := "ghp_" + "Pf3Rb2Kx9Lm4Qp8Zs3Vd6Wf1Hj5Nc0Ye2Ug4"
	commitFiles(t, src, "main", map[string]string{
		"app/app.py":       "TOKEN = \"" + old + "\"\n",
		"ci/gitleaks.toml": "[extend]\nuseDefault = true\n",
	})
	baseline := func(msg string) {
		t.Helper()
		for file, root := range map[string]string{"baseline.sarif": src, "app-baseline.sarif": filepath.Join(src, "app")} {
			if r := tollgate(t, nil, "baseline", filepath.Join(src, "ci", file), "-q", "--scanners", "secrets", root); r.code != 0 {
				t.Fatalf("baseline: exit %d\n%s", r.code, r.stderr)
			}
		}
		git(t, src, "add", "-A")
		git(t, src, "commit", "-q", "-m", msg)
	}
	baseline("baseline")
	git(t, src, "checkout", "-q", "-b", "pr", "main")
	commitFiles(t, src, "a token", map[string]string{
		"app/app.py":       "TOKEN = \"" + old + "\"\nOTHER = \"" + tok + "\"\n",
		"ci/gitleaks.toml": "[extend]\nuseDefault = true\n[allowlist]\npaths = ['''app/''']\n",
		"ci/new.toml":      "[extend]\nuseDefault = true\n",
	})
	baseline("the token in the baseline")
	git(t, src, "checkout", "-q", "-b", "merge", "main")
	git(t, src, "merge", "-q", "--no-ff", "-m", "Merge", "pr")
	dir := filepath.Join(t.TempDir(), "s")
	git(t, filepath.Dir(dir), "clone", "-q", "--branch", "merge", "file://"+src, dir)
	git(t, dir, "fetch", "-q", "origin", "main:refs/remotes/origin/main")

	for _, c := range []struct{ name, baseline, config string }{
		{"in the scan root", filepath.Join(dir, "ci", "baseline.sarif"), filepath.Join(dir, "ci", "gitleaks.toml")},
		// Scanning app/ alone: the files are in the repository, not in
		// the scan root.
		{"in the repository", filepath.Join(dir, "ci", "app-baseline.sarif"), filepath.Join(dir, "ci", "gitleaks.toml")},
	} {
		root := dir
		if c.name == "in the repository" {
			root = filepath.Join(dir, "app")
		}
		r, cmds, sarifPath, _ := prTask(t, root, map[string]string{"baseline": c.baseline, "newOnly": "true", "scanners": "secrets"})
		if r.code != 1 || completion(cmds) != "Failed" {
			t.Fatalf("task, baseline %s: exit %d, result %q; want 1, Failed\n%s\n%s", c.name, r.code, completion(cmds), r.stdout, tailOf(r.stderr))
		}
		log, _ := readSARIF(t, sarifPath)
		states := map[string]string{}
		for _, run := range log.Runs {
			for _, res := range run.Results {
				if len(res.Locations) > 0 {
					states[res.Locations[0].PhysicalLocation.ArtifactLocation.URI+":"+strconv.Itoa(res.Locations[0].PhysicalLocation.Region.StartLine)] = res.BaselineState
				}
			}
		}
		prefix := "app/"
		if c.name == "in the repository" {
			prefix = ""
		}
		if states[prefix+"app.py:2"] != "new" || states[prefix+"app.py:1"] != "unchanged" {
			t.Errorf("task, baseline %s: states %v, want the pull request's token new and the old one unchanged", c.name, states)
		}
		if !strings.Contains(r.stdout, "code=policy-changed;sourcepath=ci/"+filepath.Base(c.baseline)) {
			t.Errorf("task, baseline %s: no warning names the changed baseline:\n%s", c.name, r.stdout)
		}
		// The pipeline's gitleaks configuration: the pull request's
		// allowlist does not apply.
		sarif := filepath.Join(t.TempDir(), "cli.sarif")
		r = tollgate(t, nil, "scan", "--policy-from", "main", "--scanners", "secrets", "--secrets-config", c.config, "--sarif", sarif, root)
		if r.code != 1 {
			t.Fatalf("scan, config %s: exit %d, want 1 (the allowlist is the pull request's)\n%s", c.name, r.code, tailOf(r.stderr))
		}
		if log, _ := readSARIF(t, sarif); !log.where()["gitleaks github-pat "+prefix+"app.py:2"] {
			t.Errorf("scan, config %s: the token is not reported: %v", c.name, log.where())
		}
		for _, text := range []string{r.stdout, r.stderr} {
			if strings.Contains(text, tok) {
				t.Error("the token reached the output")
			}
		}
	}
	// A file the target branch does not have, and a target not in the
	// clone: refused, naming the setting.
	r := tollgate(t, nil, "scan", "--policy-from", "main", "--secrets-config", filepath.Join(dir, "ci", "new.toml"), dir)
	if r.code != 2 || !strings.Contains(r.stderr, "--secrets-config") || !strings.Contains(r.stderr, "the pull request adds it") {
		t.Errorf("a configuration the pull request adds: exit %d, want 2 naming --secrets-config\n%s", r.code, r.stderr)
	}
	r = tollgate(t, nil, "scan", "--policy-from", "no-such-branch", "--baseline", filepath.Join(dir, "ci", "baseline.sarif"), dir)
	if r.code != 2 || !strings.Contains(r.stderr, "--baseline") || !strings.Contains(r.stderr, "lies inside the checkout") {
		t.Errorf("no target in the clone: exit %d, want 2 naming --baseline\n%s", r.code, r.stderr)
	}
	// Outside a pull-request build the files are read as named.
	if r := tollgate(t, nil, "scan", "-q", "--scanners", "secrets", "--secrets-config", filepath.Join(dir, "ci", "gitleaks.toml"), dir); r.code != 0 {
		t.Errorf("a branch build with the checkout's own configuration: exit %d, want 0 (its allowlist applies)\n%s", r.code, r.stderr)
	}
}

// TestEmbeddedRepositoryRunsNothing: a pull request commits infra/ laid out
// as a git directory whose config makes the folder its own work tree and
// names commands as its file-system monitor and a textconv driver, and
// whose own origin/main carries a .tollgate.yaml that passes everything.
// Scanning infra (the task's path input, `tollgate scan infra`) used to let
// git discover that folder as the repository: the commands ran as the
// agent's user, and the fake origin/main became the target branch. Now no
// command runs, the checkout's own target branch is the policy, the folder
// is named in a warning, and the token the pull request adds fails the gate,
// in worktree and commits modes.
func TestEmbeddedRepositoryRunsNothing(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	git(t, src, "init", "-q", "-b", "main")
	commitFiles(t, src, "main", map[string]string{
		".tollgate.yaml": "fail-on: high\nscanners: [secrets]\n",
		"README.md":      "# app\n",
	})
	// The fake repository, whose own origin/main passes everything.
	fake := filepath.Join(t.TempDir(), "fake")
	must(t, os.MkdirAll(fake, 0o755))
	git(t, fake, "init", "-q", "-b", "main")
	commitFiles(t, fake, "fake", map[string]string{".tollgate.yaml": "fail-on: none\nscanners: [secrets]\n", "main.tf": "\n"})
	git(t, fake, "update-ref", "refs/remotes/origin/main", "HEAD")
	git(t, src, "checkout", "-q", "-b", "pr", "main")
	infra := filepath.Join(src, "infra")
	if out, err := exec.Command("cp", "-r", filepath.Join(fake, ".git"), infra).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	cfg := "[core]\n\tbare = false\n\tworktree = .\n\tfsmonitor = \"touch " + marker + "; false\"\n[diff \"x\"]\n\ttextconv = \"touch " + marker + "; cat\"\n"
	must(t, os.WriteFile(filepath.Join(infra, "config"), []byte(cfg), 0o644))
	tok := "ghp_" + "Em5Rb2Kx9Lm4Qp8Zs3Vd6Wf1Hj5Nc0Ye2Ug4"
	must(t, os.MkdirAll(filepath.Join(infra, "info"), 0o755))
	must(t, os.WriteFile(filepath.Join(infra, "info", "attributes"), []byte("* diff=x\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(infra, "deploy.py"), []byte("TOKEN = \""+tok+"\"\n"), 0o644))
	// A file the fake repository has committed, changed in its "work tree":
	// a diff there runs the textconv driver, a status the monitor.
	must(t, os.WriteFile(filepath.Join(infra, "main.tf"), []byte("# changed\n"), 0o644))
	git(t, src, "add", "-A")
	git(t, src, "commit", "-q", "-m", "the pull request's folder")
	git(t, src, "checkout", "-q", "-b", "merge", "main")
	git(t, src, "merge", "-q", "--no-ff", "-m", "Merge", "pr")
	dir := filepath.Join(t.TempDir(), "s")
	git(t, filepath.Dir(dir), "clone", "-q", "--branch", "merge", "file://"+src, dir)
	git(t, dir, "fetch", "-q", "origin", "main:refs/remotes/origin/main")

	for _, mode := range []string{"worktree", "commits"} {
		r, cmds, sarifPath, _ := prTask(t, dir, map[string]string{"path": filepath.Join(dir, "infra"), "secretsMode": mode})
		if r.code != 1 || completion(cmds) != "Failed" {
			t.Errorf("task, %s: exit %d, result %q; want 1, Failed (the checkout's policy, not the fake's)\n%s\n%s", mode, r.code, completion(cmds), r.stdout, tailOf(r.stderr))
		}
		if log, _ := readSARIF(t, sarifPath); !log.where()["gitleaks github-pat deploy.py:1"] {
			t.Errorf("task, %s: the token is not reported: %v", mode, log.where())
		}
		if !strings.Contains(r.stdout, "code=embedded-git-dir") {
			t.Errorf("task, %s: no warning names the embedded git directory:\n%s", mode, r.stdout)
		}
		sarif := filepath.Join(t.TempDir(), "cli.sarif")
		cli := tollgate(t, nil, "scan", "--policy-from", "main", "--secrets-mode", mode, "--since", "main", "--sarif", sarif, filepath.Join(dir, "infra"))
		if cli.code != 1 {
			t.Errorf("scan, %s: exit %d, want 1\n%s", mode, cli.code, tailOf(cli.stderr))
		}
		for _, text := range []string{r.stdout, r.stderr, cli.stdout, cli.stderr} {
			if strings.Contains(text, tok) {
				t.Error("the token reached the output")
			}
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a command of the embedded repository's config ran")
	}
}

// TestPullRequestCannotUncheckItsOwnFiles: a pull request that appends a
// YAML alias bomb to its manifest took the whole file, its privileged Pod
// included, out of the checks with a warning, and the gate passed. In a
// pull-request build such a file is now a CRITICAL finding naming the
// cause (rule tollgate-unchecked-file); in a branch build, or with
// unchecked-files: warn in the target branch's policy, it stays a warning.
func TestPullRequestCannotUncheckItsOwnFiles(t *testing.T) {
	t.Parallel()
	bomb := "---\na0: &a0 [x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 9; i++ {
		refs := strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 8) + fmt.Sprintf("*a%d", i-1)
		bomb += fmt.Sprintf("a%d: &a%d [%s]\n", i, i, refs)
	}
	pod := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: debug\nspec:\n  containers:\n    - name: app\n      image: nginx:1.25\n      securityContext:\n        privileged: true\n"
	for _, c := range []struct {
		name, policy string
		pr           bool
		want         int
	}{
		{"pull request", "fail-on: high\nscanners: [iac]\n", true, 1},
		{"pull request, unchecked-files: warn", "fail-on: high\nscanners: [iac]\nunchecked-files: warn\n", true, 0},
		{"branch build", "fail-on: high\nscanners: [iac]\n", false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "src")
			must(t, os.MkdirAll(src, 0o755))
			git(t, src, "init", "-q", "-b", "main")
			commitFiles(t, src, "main", map[string]string{".tollgate.yaml": c.policy, "README.md": "# app\n"})
			git(t, src, "checkout", "-q", "-b", "pr", "main")
			commitFiles(t, src, "a pod", map[string]string{"k8s/pod.yaml": pod + bomb})
			git(t, src, "checkout", "-q", "-b", "merge", "main")
			git(t, src, "merge", "-q", "--no-ff", "-m", "Merge", "pr")
			dir := filepath.Join(t.TempDir(), "s")
			git(t, filepath.Dir(dir), "clone", "-q", "--branch", "merge", "file://"+src, dir)
			git(t, dir, "fetch", "-q", "origin", "main:refs/remotes/origin/main")
			var env []string
			if c.pr {
				env = []string{"SYSTEM_PULLREQUEST_TARGETBRANCH=refs/heads/main"}
			}
			sarif := filepath.Join(t.TempDir(), "out.sarif")
			r := tollgate(t, env, "scan", "--sarif", sarif, dir)
			if r.code != c.want {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, c.want, r.stdout, tailOf(r.stderr))
			}
			log, _ := readSARIF(t, sarif)
			found := false
			for w := range log.where() {
				found = found || strings.HasPrefix(w, "trivy-config tollgate-unchecked-file k8s/pod.yaml:")
			}
			if found != (c.want == 1) {
				t.Errorf("unchecked-file finding in k8s/pod.yaml: %v, want %v: %v", found, c.want == 1, log.where())
			}
			if !strings.Contains(r.stdout+r.stderr, "k8s/pod.yaml could not be parsed") {
				t.Errorf("the cause is not named:\n%s%s", r.stdout, tailOf(r.stderr))
			}
		})
	}
}
