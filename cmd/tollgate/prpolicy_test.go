package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// prPolicyRepo is a repository whose main branch has a policy and a finding
// it accepts, and one pull-request branch per way a pull request could try
// to lower its own gate: each adds a live-looking token (and the .trivyignore
// one a privileged pod) and tampers with one policy file. merge-<name> is the
// merge commit a pull-request build checks out.
type prPolicyRepo struct {
	src    string
	tokens map[string]string
}

// prCases are the tampering pull requests: the file each changes.
var prCases = map[string]string{
	"lenient-config": ".tollgate.yaml",
	"gitleaksignore": ".gitleaksignore",
	"gitleaks-allow": ".gitleaks.toml",
	"inline-allow":   "app/new.py",
	"trivyignore":    ".trivyignore",
}

func newPRPolicyRepo(t *testing.T) prPolicyRepo {
	t.Helper()
	r := prPolicyRepo{src: filepath.Join(t.TempDir(), "src"), tokens: map[string]string{}}
	must(t, os.MkdirAll(r.src, 0o755))
	git(t, r.src, "init", "-q", "-b", "main")
	commit := func(msg string, files map[string]string) {
		t.Helper()
		commitFiles(t, r.src, msg, files)
	}
	// The target branch: a threshold, and a test fixture token that an
	// inline comment accepts (it must stay accepted in every build).
	commit("main", map[string]string{
		".tollgate.yaml": "fail-on: high\nscanners: [secrets, iac]\n",
		"README.md":      "# app\n",
		"app/legacy.py":  "TOKEN = \"ghp_" + "Lg7Tq2Wm9Xv4Rk8Pz3Nb6Cd1Fh5Js0Ya2Ue4O\"  # gitleaks:allow test fixture\n",
	})
	i := 0
	for name, file := range prCases {
		i++
		git(t, r.src, "checkout", "-q", "-b", "pr-"+name, "main")
		token := fmt.Sprintf("ghp_AbCd%02dQx7Lm2Rt9Vw4Kp8Zn3Bc6Df1Gh5Js0", i) // 36 characters: gitleaks' github-pat
		r.tokens[name] = token
		files := map[string]string{"app/new.py": "API_TOKEN = \"" + token + "\"\n"}
		switch name {
		case "lenient-config":
			files[file] = "fail-on: none\nignore:\n  - path: \"**\"\n    reason: trust me\n"
		case "gitleaksignore":
			files[file] = "app/new.py:github-pat:1\n"
		case "gitleaks-allow":
			files[file] = "[extend]\nuseDefault = true\n\n[allowlist]\ndescription = \"nothing to see\"\npaths = ['''.*''']\n"
		case "inline-allow":
			files[file] = "API_TOKEN = \"" + token + "\"  # gitleaks:allow\n"
		case "trivyignore":
			files[file] = "*\nKSV-0017\n"
			files["k8s/pod.yaml"] = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: nginx:1.25\n      securityContext:\n        privileged: true\n"
		}
		commit("pull request "+name, files)
		git(t, r.src, "checkout", "-q", "-b", "merge-"+name, "main")
		git(t, r.src, "merge", "-q", "--no-ff", "-m", "Merge pull request "+name, "pr-"+name)
	}
	git(t, r.src, "checkout", "-q", "main")
	return r
}

// clone checks a merge commit out as the agent does: depth 0 is a full
// clone (fetchDepth: 0), otherwise a shallow one of that branch alone.
func (r prPolicyRepo) clone(t *testing.T, name string, depth int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "s")
	args := []string{"clone", "-q", "--branch", "merge-" + name}
	if depth > 0 {
		args = append(args, "--depth", fmt.Sprint(depth), "--single-branch")
	}
	git(t, filepath.Dir(dir), append(args, "file://"+r.src, dir)...)
	return dir
}

// prTask runs `tollgate task` in a pull-request build of the clone.
func prTask(t *testing.T, dir string, inputs map[string]string) (runResult, []agentCommand, string, string) {
	t.Helper()
	if inputs == nil {
		inputs = map[string]string{}
	}
	inputs["failOn"] = "high"
	env, staging, tmp := agentEnv(t, dir, "1", inputs)
	env = append(env, "SYSTEM_PULLREQUEST_TARGETBRANCH=refs/heads/main", "SYSTEM_PULLREQUEST_PULLREQUESTID=7",
		"BUILD_SOURCEBRANCH=refs/pull/7/merge")
	r := tollgate(t, env, "task")
	summary, _ := os.ReadFile(filepath.Join(tmp, "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1-summary.md"))
	return r, parseAgentCommands(r.stdout), filepath.Join(staging, "CodeAnalysisLogs", "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1.sarif"), string(summary)
}

func completion(cmds []agentCommand) string {
	for _, c := range cmds {
		if c.Name == "task.complete" {
			return c.Props["result"]
		}
	}
	return ""
}

// underReview lists "rule uri:line" of the results whose suppressions are
// all under review (shown, not applied), with their justifications.
func underReview(l sarifLog) map[string]string {
	out := map[string]string{}
	for _, run := range l.Runs {
		for _, r := range run.Results {
			review, accepted := "", false
			for _, s := range r.Suppressions {
				switch s.Status {
				case "underReview":
					review += s.Justification + "\n"
				case "accepted":
					accepted = true
				}
			}
			if review != "" && !accepted {
				loc := r.Locations[0].PhysicalLocation
				out[fmt.Sprintf("%s %s:%d", r.RuleID, loc.ArtifactLocation.URI, loc.Region.StartLine)] = review
			}
		}
	}
	return out
}

// A pull request that adds a token and tampers with a policy file fails: in a
// pull-request build policy comes from the target branch, the changed file is
// named in a warning and in the summary, and what the pull request's policy
// would hide is shown as an underReview suppression that does not count.
// With policySource: checkout the pull request's own policy applies.
func TestPullRequestCannotLowerItsOwnGate(t *testing.T) {
	t.Parallel()
	repo := newPRPolicyRepo(t)
	for name, file := range prCases {
		t.Run(name, func(t *testing.T) {
			dir := repo.clone(t, name, 0)
			r, cmds, sarifPath, summary := prTask(t, dir, nil)
			if r.code != 1 || completion(cmds) != "Failed" {
				t.Fatalf("exit %d, result %q; want 1, Failed\n%s\n%s", r.code, completion(cmds), r.stdout, r.stderr)
			}
			if name != "inline-allow" {
				warned := false
				for _, c := range cmds {
					if c.Name == "task.logissue" && c.Props["type"] == "warning" && strings.Contains(c.Message, "changes the policy file "+file) {
						warned = true
					}
				}
				if !warned {
					t.Errorf("no warning names %s:\n%s", file, r.stdout)
				}
				if !strings.Contains(summary, "### Policy changes in this pull request") || !strings.Contains(summary, file) {
					t.Errorf("the summary does not name %s:\n%s", file, summary)
				}
			}
			log, _ := readSARIF(t, sarifPath)
			review := underReview(log)
			want := "github-pat app/new.py:1"
			if name == "trivyignore" {
				want = "KSV-0017 k8s/pod.yaml:7"
			}
			if review[want] == "" {
				t.Errorf("%s is not under review: %v", want, review)
			}
			if name == "inline-allow" && !strings.Contains(review[want], "on a line this pull request adds (app/new.py:1)") {
				t.Errorf("inline justification: %q", review[want])
			}
			if !log.where()["gitleaks github-pat app/new.py:1"] {
				t.Errorf("the pull request's token is not reported: %v", log.where())
			}
			// The target branch's own acceptance still holds.
			if _, ok := review["github-pat app/legacy.py:1"]; ok {
				t.Error("the target branch's gitleaks:allow is under review")
			}
			for _, text := range []string{r.stdout, r.stderr, summary} {
				if strings.Contains(text, repo.tokens[name]) {
					t.Error("the token reached the output")
				}
			}
			validateSARIF(t, sarifPath, "Sarif;Gh;Ado")

			// The team's opt-out: the pull request's own policy applies. A
			// .trivyignore never hides a secret, so that one still fails on
			// its token.
			r, cmds, sarifPath, _ = prTask(t, dir, map[string]string{"policySource": "checkout"})
			wantCode, wantResult := 0, map[string]string{
				"lenient-config": "Succeeded", // its ignore entry hides everything
				"gitleaksignore": "Succeeded",
				"gitleaks-allow": "Succeeded", // the allowlist hides every file
				"inline-allow":   "Succeeded", // every finding suppressed
				"trivyignore":    "Failed",
			}[name]
			if name == "trivyignore" {
				wantCode = 1
			}
			if r.code != wantCode || completion(cmds) != wantResult {
				t.Errorf("policySource checkout: exit %d, result %q; want %d, %s\n%s", r.code, completion(cmds), wantCode, wantResult, r.stdout)
			}
			log, _ = readSARIF(t, sarifPath)
			if len(underReview(log)) != 0 {
				t.Errorf("policySource checkout: suppressions under review %v", underReview(log))
			}
		})
	}
}

// A shallow pull-request clone has no target branch to read policy from:
// the built-in defaults apply (never the pull request's files), with a
// warning naming fetchDepth: 0; `tollgate scan --policy-from` does the same
// outside a pipeline.
func TestPullRequestPolicyFallbacks(t *testing.T) {
	t.Parallel()
	repo := newPRPolicyRepo(t)
	shallow := repo.clone(t, "lenient-config", 1)
	r, cmds, sarifPath, _ := prTask(t, shallow, nil)
	if r.code != 1 || completion(cmds) != "Failed" {
		t.Fatalf("shallow: exit %d, result %q\n%s\n%s", r.code, completion(cmds), r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "fetchDepth: 0") {
		t.Errorf("no warning names fetchDepth: 0:\n%s", r.stdout)
	}
	log, _ := readSARIF(t, sarifPath)
	if underReview(log)["github-pat app/new.py:1"] == "" {
		t.Errorf("the pull request's own ignore entry is not shown as under review: %v", underReview(log))
	}

	full := repo.clone(t, "gitleaksignore", 0)
	sarifOut := filepath.Join(t.TempDir(), "pr.sarif")
	s := tollgate(t, nil, "scan", "--policy-from", "main", "--sarif", sarifOut, full)
	if s.code != 1 || !strings.Contains(s.stdout, "changes the policy file .gitleaksignore") {
		t.Errorf("scan --policy-from main: exit %d\n%s\n%s", s.code, s.stdout, s.stderr)
	}
	if s = tollgate(t, nil, "scan", "--policy-from", "checkout", full); s.code != 0 {
		t.Errorf("scan --policy-from checkout: exit %d\n%s", s.code, s.stdout)
	}
	// Outside a pull-request build nothing changes: the checkout's policy.
	if s = tollgate(t, nil, "scan", full); s.code != 0 {
		t.Errorf("scan outside a pull request: exit %d\n%s", s.code, s.stdout)
	}
}
