package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/task/prcomments"
	"github.com/tollgate/tollgate/task/prcomments/adofake"
)

// The job access token the fake Azure DevOps accepts; no output may show it.
const jobToken = "ado-job-token-Qm3x8Vt2Lr7Wp4Ks9"

// prDecoRepo is a repository with a pull request: main has an insecure
// Terraform bucket (a finding the pull request does not touch); the pull
// request adds a Kubernetes pod running privileged, a Python file with a
// GitHub token, and a second insecure bucket at the end of main.tf.
type prDecoRepo struct{ src, token string }

const prDecoBucket = `resource "aws_s3_bucket" "logs" {
  bucket = "logs"
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket = aws_s3_bucket.logs.id
}
`

func newPRDecoRepo(t *testing.T) prDecoRepo {
	t.Helper()
	r := prDecoRepo{src: filepath.Join(t.TempDir(), "src"), token: "ghp_Vb7Kq2Wm9Xr4Tz8Pn3Lc6Dd1Fh5Js0Ya2Ue"}
	must(t, os.MkdirAll(r.src, 0o755))
	git(t, r.src, "init", "-q", "-b", "main")
	r.commit(t, "main", map[string]string{
		".tollgate.yaml": "fail-on: high\nscanners: [secrets, iac]\n",
		"infra/main.tf":  prDecoBucket,
	})
	git(t, r.src, "checkout", "-q", "-b", "feature")
	r.commit(t, "feature", map[string]string{
		"infra/main.tf": prDecoBucket + "\n" + strings.ReplaceAll(prDecoBucket, "logs", "uploads"),
		"k8s/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: nginx:1.25\n" +
			"      securityContext:\n        privileged: true\n",
		"app/settings.py": "DEBUG = False\nGITHUB_TOKEN = \"" + r.token + "\"\n",
	})
	r.merge(t)
	return r
}

func (r prDecoRepo) commit(t *testing.T, msg string, files map[string]string) {
	t.Helper()
	commitFiles(t, r.src, msg, files)
}

// commitFiles writes files (slash paths relative to dir) and commits them.
func commitFiles(t *testing.T, dir, msg string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		must(t, os.WriteFile(full, []byte(content), 0o644))
		git(t, dir, "add", p)
	}
	git(t, dir, "commit", "-q", "-m", msg)
}

// merge makes the merge commit the agent checks out (refs/pull/N/merge).
func (r prDecoRepo) merge(t *testing.T) {
	t.Helper()
	git(t, r.src, "checkout", "-q", "-B", "merge", "main")
	git(t, r.src, "merge", "-q", "--no-ff", "-m", "Merge pull request 42", "feature")
	git(t, r.src, "checkout", "-q", "feature")
}

// clone is the agent's checkout of the merge commit, with the target branch.
func (r prDecoRepo) clone(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "s")
	git(t, filepath.Dir(dir), "clone", "-q", "--branch", "merge", "file://"+r.src, dir)
	return dir
}

// decoTask runs `tollgate task` with prComments in a pull-request build of
// the fake's pull request, and checks that the token shows nowhere.
func decoTask(t *testing.T, dir string, s *adofake.Server, inputs map[string]string) (runResult, []agentCommand) {
	t.Helper()
	in := map[string]string{"failOn": "high", "prComments": "true"}
	for k, v := range inputs {
		in[k] = v
	}
	env, staging, tmp := agentEnv(t, dir, "1", in)
	env = append(env, "SYSTEM_PULLREQUEST_TARGETBRANCH=refs/heads/main", "BUILD_SOURCEBRANCH=refs/pull/42/merge", "SYSTEM_DEBUG=true")
	for k, v := range s.Env() {
		env = append(env, k+"="+v)
	}
	r := tollgate(t, env, "task")
	sarif, _ := os.ReadFile(filepath.Join(staging, "CodeAnalysisLogs", "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1.sarif"))
	summary, _ := os.ReadFile(filepath.Join(tmp, "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1-summary.md"))
	for name, text := range map[string]string{"stdout": r.stdout, "stderr (debug)": r.stderr, "SARIF": string(sarif), "summary": string(summary)} {
		if strings.Contains(text, jobToken) {
			t.Fatalf("the access token appears in the %s", name)
		}
	}
	if len(sarif) == 0 {
		t.Fatalf("no SARIF log (exit %d)\n%s", r.code, tailOf(r.stderr))
	}
	validateSARIF(t, filepath.Join(staging, "CodeAnalysisLogs", "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1.sarif"), "Sarif;Gh;Ado")
	if p := s.Problems(); len(p) > 0 {
		t.Fatalf("requests the Azure DevOps API would refuse:\n%s", strings.Join(p, "\n"))
	}
	return r, parseAgentCommands(r.stdout)
}

// findingThreads maps "path:line" to the thread of each of Tollgate's
// finding threads.
func findingThreads(s *adofake.Server) map[string]adofake.Thread {
	out := map[string]adofake.Thread{}
	for _, th := range s.Threads() {
		if th.Properties[prcomments.PropFingerprint] == "" || th.ThreadContext == nil {
			continue
		}
		line := 0 // a thread on the whole file
		if th.ThreadContext.RightFileStart != nil {
			line = th.ThreadContext.RightFileStart.Line
		}
		out[th.ThreadContext.FilePath+":"+strconv.Itoa(line)] = th
	}
	return out
}

func writesOf(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		if strings.HasPrefix(r, "POST ") || strings.HasPrefix(r, "PATCH ") {
			out = append(out, r)
		}
	}
	return out
}

// TestTaskDecoratesThePullRequest runs the task as the agent would on a
// pull request, four times: the first run (throttled once) opens a thread
// per failing finding on a changed line, one summary and one status; a
// re-run writes nothing; after the pull request removes its token and the
// target branch accepts the privileged pod, their threads are resolved
// fixed and won't fix. The verdict is the scan's throughout.
func TestTaskDecoratesThePullRequest(t *testing.T) {
	t.Parallel()
	repo := newPRDecoRepo(t)
	s := adofake.New(jobToken,
		adofake.Change{Path: "/infra/main.tf", ChangeType: "edit"},
		adofake.Change{Path: "/k8s/pod.yaml", ChangeType: "add"},
		adofake.Change{Path: "/app/settings.py", ChangeType: "add"})
	defer s.Close()
	s.AddFault(adofake.Fault{Method: "POST", Path: "/threads", Status: 429, RetryAfter: "1", Times: 1})

	dir := repo.clone(t)
	r, cmds := decoTask(t, dir, s, nil)
	if r.code != 1 || completion(cmds) != "Failed" {
		t.Fatalf("exit %d, result %q: want the policy failure\n%s", r.code, completion(cmds), tailOf(r.stderr))
	}
	threads := findingThreads(s)
	secret, ok := threads["/app/settings.py:2"]
	if !ok {
		t.Fatalf("no thread on the token's line; threads: %v\n%s", slices.Collect(maps.Keys(threads)), tailOf(r.stderr))
	}
	if !strings.Contains(secret.Comments[0].Content, "HIGH") || !strings.Contains(secret.Comments[0].Content, "fingerprint:") ||
		strings.Contains(secret.Comments[0].Content, repo.token[4:]) {
		t.Fatalf("the secret's thread:\n%s", secret.Comments[0].Content)
	}
	var podThread, uploadsThread bool
	for where := range threads {
		switch {
		case strings.HasPrefix(where, "/k8s/pod.yaml:"):
			podThread = true
		case strings.HasPrefix(where, "/infra/main.tf:"):
			// Lines 1-8 are main's; the pull request adds 9 on.
			if line, _ := strconv.Atoi(where[len("/infra/main.tf:"):]); line < 9 {
				t.Errorf("a thread on main.tf line %d, which the pull request does not change", line)
			}
			uploadsThread = true
		}
	}
	if !podThread || !uploadsThread {
		t.Fatalf("threads on %v: want the pod's and the new bucket's findings", slices.Collect(maps.Keys(threads)))
	}
	var summary []adofake.Thread
	for _, th := range s.Threads() {
		if th.Properties[prcomments.PropSummary] != "" {
			summary = append(summary, th)
		}
	}
	if len(summary) != 1 || !strings.Contains(summary[0].Comments[0].Content, "the security gate failed") ||
		!strings.Contains(summary[0].Comments[0].Content, "elsewhere in the repository") {
		t.Fatalf("summary threads: %+v", summary)
	}
	st := s.Statuses()
	if len(st) != 1 || st[0].State != "failed" || st[0].Context.Name != "tollgate/gate" || st[0].Context.Genre != "security" {
		t.Fatalf("statuses: %+v", st)
	}
	if !strings.Contains(r.stderr, "thread(s) created") || !strings.Contains(r.stderr, "waited on throttling") {
		t.Fatalf("no decoration line in the log:\n%s", tailOf(r.stderr))
	}
	first := len(s.Threads())
	t.Logf("first run: threads on %v; summary:\n%s", slices.Sorted(maps.Keys(threads)), summary[0].Comments[0].Content)
	s.Requests()

	// The same build again: nothing is written.
	r, _ = decoTask(t, dir, s, nil)
	if w := writesOf(s.Requests()); r.code != 1 || len(w) != 0 || len(s.Threads()) != first {
		t.Fatalf("re-run: exit %d, wrote %v, %d threads (was %d)", r.code, w, len(s.Threads()), first)
	}

	// The pull request removes its token; the target branch accepts the
	// privileged pod (a pull request cannot accept its own findings).
	var podFP string
	for where, th := range threads {
		if strings.HasPrefix(where, "/k8s/pod.yaml:") && strings.Contains(th.Comments[0].Content, "KSV-0017") {
			podFP = th.Properties[prcomments.PropFingerprint]
		}
	}
	if podFP == "" {
		t.Fatalf("no KSV-0017 thread on the pod")
	}
	git(t, repo.src, "checkout", "-q", "main")
	repo.commit(t, "accept the pod", map[string]string{".tollgate.yaml": "fail-on: high\nscanners: [secrets, iac]\nignore:\n  - fingerprint: " + podFP + "\n    reason: the node agent needs it\n"})
	git(t, repo.src, "checkout", "-q", "feature")
	repo.commit(t, "remove the token", map[string]string{"app/settings.py": "import os\nGITHUB_TOKEN = os.environ[\"GITHUB_TOKEN\"]\n"})
	repo.merge(t)
	s.SetChanges(adofake.Change{Path: "/infra/main.tf", ChangeType: "edit"}, adofake.Change{Path: "/k8s/pod.yaml", ChangeType: "add"},
		adofake.Change{Path: "/app/settings.py", ChangeType: "add"})
	dir = repo.clone(t)
	r, _ = decoTask(t, dir, s, nil)
	after := findingThreads(s)
	if after["/app/settings.py:2"].Status != "fixed" {
		t.Errorf("the token's thread is %q, want fixed", after["/app/settings.py:2"].Status)
	}
	for where, th := range after {
		if th.Properties[prcomments.PropFingerprint] == podFP {
			if th.Status != "wontFix" || !strings.Contains(th.Comments[0].Content, "the node agent needs it") {
				t.Errorf("the accepted pod finding's thread %s is %q:\n%s", where, th.Status, th.Comments[0].Content)
			}
		}
	}
	if len(s.Threads()) != first {
		t.Errorf("%d threads after the fix, want the same %d", len(s.Threads()), first)
	}
	if st := s.Statuses(); len(st) != 2 || st[1].IterationID != 2 {
		t.Errorf("statuses after a new iteration: %+v", st)
	}
}

// TestTaskDecorationForbidden: the build identity cannot comment (403): one
// warning names the permission, the verdict and the SARIF stand; with
// prCommentsRequired the task fails with exit 3. Outside a pull request
// nothing is sent.
func TestTaskDecorationForbidden(t *testing.T) {
	t.Parallel()
	repo := newPRDecoRepo(t)
	s := adofake.New(jobToken, adofake.Change{Path: "/k8s/pod.yaml", ChangeType: "add"}, adofake.Change{Path: "/app/settings.py", ChangeType: "add"})
	defer s.Close()
	s.AddFault(adofake.Fault{Method: "POST", Status: 403})
	dir := repo.clone(t)

	r, cmds := decoTask(t, dir, s, nil)
	var warnings []string
	for _, c := range cmds {
		if c.Name == "task.logissue" && c.Props["type"] == "warning" && strings.Contains(c.Message, "Contribute to pull requests") {
			warnings = append(warnings, c.Message)
		}
	}
	if r.code != 1 || completion(cmds) != "Failed" || len(warnings) != 1 {
		t.Fatalf("exit %d, result %q, permission warnings %q\n%s", r.code, completion(cmds), warnings, tailOf(r.stderr))
	}

	r, cmds = decoTask(t, dir, s, map[string]string{"prCommentsRequired": "true"})
	if r.code != 3 || completion(cmds) != "Failed" {
		t.Fatalf("prCommentsRequired: exit %d, result %q", r.code, completion(cmds))
	}

	// Not a pull-request build: a note, no request.
	s.Requests()
	env, _, _ := agentEnv(t, dir, "1", map[string]string{"failOn": "high", "prComments": "true"})
	env = append(env, "BUILD_REPOSITORY_PROVIDER=TfsGit", "SYSTEM_COLLECTIONURI="+s.URL, "SYSTEM_ACCESSTOKEN="+jobToken)
	r = tollgate(t, env, "task")
	if reqs := s.Requests(); r.code != 1 || len(reqs) != 0 || !strings.Contains(r.stderr, "nothing sent") {
		t.Fatalf("outside a pull request: exit %d, requests %v\n%s", r.code, reqs, tailOf(r.stderr))
	}
}

// TestScanPRComments: `tollgate scan --pr-comments` decorates from the same
// pipeline variables, under its own cap.
func TestScanPRComments(t *testing.T) {
	t.Parallel()
	repo := newPRDecoRepo(t)
	s := adofake.New(jobToken, adofake.Change{Path: "/infra/main.tf", ChangeType: "edit"},
		adofake.Change{Path: "/k8s/pod.yaml", ChangeType: "add"}, adofake.Change{Path: "/app/settings.py", ChangeType: "add"})
	defer s.Close()
	dir := repo.clone(t)
	env := []string{"SYSTEM_PULLREQUEST_TARGETBRANCH=refs/heads/main"}
	for k, v := range s.Env() {
		env = append(env, k+"="+v)
	}
	r := tollgate(t, env, "scan", "--pr-comments", "--max-pr-comments", "2", "--debug", dir)
	if r.code != 1 || strings.Contains(r.stdout+r.stderr, jobToken) {
		t.Fatalf("exit %d (or the token shows)\n%s", r.code, tailOf(r.stderr))
	}
	if n := len(findingThreads(s)); n != 2 {
		t.Fatalf("%d finding threads, want the cap of 2", n)
	}
	if p := s.Problems(); len(p) > 0 || len(s.Statuses()) != 1 {
		t.Fatalf("problems %v, statuses %+v", p, s.Statuses())
	}
}
