package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// resultKeys lists every result of a log as "engine rule uri region v1 v2"
// (a multiset, sorted), and the shard its runs name.
func resultKeys(t *testing.T, path string) (keys []string, shard string) {
	t.Helper()
	var log struct {
		Runs []struct {
			Properties map[string]any `json:"properties"`
			Results    []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region map[string]any `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
			} `json:"results"`
		} `json:"runs"`
	}
	must(t, json.Unmarshal(mustRead(t, path), &log))
	for i, run := range log.Runs {
		s, _ := run.Properties["tollgate/shard"].(string)
		if i == 0 {
			shard = s
		} else if s != shard {
			t.Errorf("%s: run %d names shard %q, run 0 %q", path, i, s, shard)
		}
		for _, r := range run.Results {
			pl := r.Locations[0].PhysicalLocation
			keys = append(keys, fmt.Sprintf("%v %s %s %v %s %s", run.Properties["tollgate/engine"], r.RuleID,
				pl.ArtifactLocation.URI, pl.Region, r.PartialFingerprints["tollgate/v1"], r.PartialFingerprints["tollgate/v2"]))
		}
	}
	slices.Sort(keys)
	return keys, shard
}

var sarifShard = regexp.MustCompile(`\s*"tollgate/shard": "[^"]*",?`)

// sameWithoutShard compares two logs as sameSARIF does, the shard property
// aside.
func sameWithoutShard(t *testing.T, what, a, b string) {
	t.Helper()
	dir := t.TempDir()
	clean := func(p string) string {
		out := filepath.Join(dir, filepath.Base(p)+".clean")
		must(t, os.WriteFile(out, sarifShard.ReplaceAll(mustRead(t, p), nil), 0o644))
		return out
	}
	sameSARIF(t, what, clean(a), clean(b))
}

// TestShardsUnionEqualsOneScan: for N in 1..5, the N shards of a scan
// together find exactly what one scan finds (rule, path, region,
// fingerprints), no result twice; `tollgate merge` of the N logs writes the
// one scan's log (timestamps, cache counts and the shard property aside),
// valid for the Multitool and the schema, with the one scan's exit code.
func TestShardsUnionEqualsOneScan(t *testing.T) {
	t.Parallel()
	trees := comparisonTrees(t)
	for name, dir := range trees {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			single := filepath.Join(out, "single.sarif")
			r := tollgate(t, nil, "scan", "-q", "--offline", "--scanners", "secrets,iac", "--no-result-cache", "--sarif", single, dir)
			if r.code != 0 && r.code != 1 {
				t.Fatalf("scan: exit %d\n%s", r.code, r.stderr)
			}
			want, _ := resultKeys(t, single)
			if len(want) == 0 {
				t.Fatal("the single scan found nothing: the comparison would prove nothing")
			}
			for n := 1; n <= 5; n++ {
				var logs, got []string
				nonEmpty := 0
				for k := 1; k <= n; k++ {
					p := filepath.Join(out, fmt.Sprintf("shard-%d-of-%d.sarif", k, n))
					sr := tollgate(t, nil, "scan", "-q", "--offline", "--scanners", "secrets,iac", "--no-result-cache",
						"--shard", fmt.Sprintf("%d/%d", k, n), "--sarif", p, dir)
					switch {
					case n == 1 && sr.code != r.code:
						t.Fatalf("shard 1/1: exit %d, one scan %d (1/1 is the whole scan)\n%s%s", sr.code, r.code, sr.stdout, sr.stderr)
					case n > 1 && sr.code != 0:
						t.Fatalf("shard %d/%d: exit %d, want 0 (a shard does not apply the gate)\n%s%s", k, n, sr.code, sr.stdout, sr.stderr)
					}
					keys, shard := resultKeys(t, p)
					if shard != fmt.Sprintf("%d/%d", k, n) {
						t.Errorf("shard %d/%d: the log says shard %q", k, n, shard)
					}
					if len(keys) > 0 {
						nonEmpty++
					}
					got = append(got, keys...)
					logs = append(logs, p)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("N=%d: the shards found %d results, one scan %d; first difference: %s", n, len(got), len(want), firstDiff(got, want))
				}
				if n > 1 && len(want) >= 2*n && nonEmpty < 2 {
					t.Errorf("N=%d: only %d shard(s) found anything: the units are not spread", n, nonEmpty)
				}
				merged := filepath.Join(out, fmt.Sprintf("merged-%d.sarif", n))
				// The logs in any order: shard order comes from the logs.
				slices.Reverse(logs)
				mr := tollgate(t, nil, append([]string{"merge", "-q", "--path", dir, "--sarif", merged}, logs...)...)
				if mr.code != r.code {
					t.Errorf("N=%d: merge exit %d, one scan %d\n%s%s", n, mr.code, r.code, mr.stdout, mr.stderr)
				}
				if _, shard := resultKeys(t, merged); shard != "" {
					t.Errorf("N=%d: the merged log names shard %q", n, shard)
				}
				sameWithoutShard(t, fmt.Sprintf("N=%d: one scan and the merged shards", n), single, merged)
				// Every merged log and every shard's own log is valid SARIF:
				// the schema for each, the Multitool (a process a log) for
				// one merged and one shard log of each tree.
				for _, p := range append([]string{merged}, logs...) {
					schemaCheck(t, p)
				}
				if n == 3 {
					validateSARIF(t, merged, "Sarif;Gh;Ado")
					validateSARIF(t, logs[0], "Sarif;Gh;Ado")
				}
			}
		})
	}
}

func firstDiff(a, b []string) string {
	for i := 0; i < len(a) || i < len(b); i++ {
		switch {
		case i >= len(a):
			return "missing " + b[i]
		case i >= len(b):
			return "extra " + a[i]
		case a[i] != b[i]:
			return fmt.Sprintf("%s / %s", a[i], b[i])
		}
	}
	return ""
}

// TestMergeRefusesAnIncompleteSetOfShards: a missing shard, one given
// twice, shards of different splits and a log that is not a shard's end in
// exit 2 naming the shard or the file, and no log is written.
func TestMergeRefusesAnIncompleteSetOfShards(t *testing.T) {
	t.Parallel()
	dir, out := demoDir(t), t.TempDir()
	shard := func(k, n int) string {
		p := filepath.Join(out, fmt.Sprintf("s%d-%d.sarif", k, n))
		r := tollgate(t, nil, "scan", "-q", "--offline", "--scanners", "secrets", "--shard", fmt.Sprintf("%d/%d", k, n), "--sarif", p, dir)
		if r.code != 0 {
			t.Fatalf("shard %d/%d: exit %d\n%s", k, n, r.code, r.stderr)
		}
		return p
	}
	s13, s23, s33, s12 := shard(1, 3), shard(2, 3), shard(3, 3), shard(1, 2)
	whole := filepath.Join(out, "whole.sarif")
	tollgate(t, nil, "scan", "-q", "--offline", "--scanners", "secrets", "--sarif", whole, dir)
	other := filepath.Join(out, "other.sarif")
	must(t, os.WriteFile(other, []byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"eslint"}},"results":[]}]}`), 0o644))

	for _, c := range []struct {
		name string
		logs []string
		want []string
	}{
		{"missing", []string{s13, s33}, []string{"shard 2/3 is missing"}},
		{"twice", []string{s13, s23, s33, s23}, []string{"shard 2/3 is given 2 times", s23}},
		{"two splits", []string{s13, s23, s33, s12}, []string{"not parts of one scan", s12}},
		{"not a shard", []string{s13, s23, s33, whole}, []string{whole, "not a shard's log"}},
		{"not tollgate", []string{s13, s23, s33, other}, []string{other, "not from a Tollgate engine"}},
		{"no such file", []string{s13, s23, filepath.Join(out, "nope.sarif")}, []string{"nope.sarif"}},
		{"nothing", nil, []string{"merge takes the shards' SARIF logs"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			merged := filepath.Join(t.TempDir(), "merged.sarif")
			r := tollgate(t, nil, append([]string{"merge", "--path", dir, "--sarif", merged}, c.logs...)...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			if _, err := os.Stat(merged); err == nil {
				t.Error("a log was written")
			}
		})
	}
}

// TestMergeRefusesShardLogsFromTheCheckout: a log inside the checkout
// --path names is the pull request's to write, and would steer the gate.
func TestMergeRefusesShardLogsFromTheCheckout(t *testing.T) {
	t.Parallel()
	checkout, out := t.TempDir(), t.TempDir()
	copyDir(t, demoDir(t), checkout)
	var logs []string
	for k := 1; k <= 2; k++ {
		p := filepath.Join(out, fmt.Sprintf("s%d.sarif", k))
		if r := tollgate(t, nil, "scan", "-q", "--offline", "--scanners", "secrets", "--shard", fmt.Sprintf("%d/2", k), "--sarif", p, checkout); r.code != 0 {
			t.Fatalf("shard %d/2: exit %d\n%s", k, r.code, r.stderr)
		}
		logs = append(logs, p)
	}
	planted := filepath.Join(checkout, "ci", "shard-2.sarif")
	must(t, os.MkdirAll(filepath.Dir(planted), 0o755))
	copyFile(t, logs[1], planted)
	merged := filepath.Join(t.TempDir(), "merged.sarif")
	r := tollgate(t, nil, "merge", "--path", checkout, "--sarif", merged, logs[0], planted)
	if r.code != 2 || !strings.Contains(r.stderr, "inside the checkout") || !strings.Contains(r.stderr, planted) {
		t.Errorf("exit %d, want 2 naming %s as inside the checkout\n%s", r.code, planted, r.stderr)
	}
	if _, err := os.Stat(merged); err == nil {
		t.Error("a log was written")
	}
	if r := tollgate(t, nil, append([]string{"merge", "-q", "--path", checkout, "--sarif", merged}, logs...)...); r.code != 1 {
		t.Errorf("the same logs from outside the checkout: exit %d, want 1\n%s", r.code, r.stderr)
	}
}

// TestMergeAppliesTheGateOnce: --fail-on, --baseline and --new-only given
// to merge decide as they do for one scan, while the shards, given them
// too, pass.
func TestMergeAppliesTheGateOnce(t *testing.T) {
	t.Parallel()
	dir, out := demoDir(t), t.TempDir()
	base := filepath.Join(out, "base.sarif")
	if r := tollgate(t, nil, "baseline", base, "-q", "--offline", "--scanners", "secrets,iac", dir); r.code != 0 {
		t.Fatalf("baseline: exit %d\n%s", r.code, r.stderr)
	}
	var logs []string
	for k := 1; k <= 2; k++ {
		p := filepath.Join(out, fmt.Sprintf("s%d.sarif", k))
		r := tollgate(t, nil, "scan", "-q", "--offline", "--scanners", "secrets,iac", "--shard", fmt.Sprintf("%d/2", k),
			"--baseline", base, "--new-only", "--fail-on", "low", "--sarif", p, dir)
		if r.code != 0 {
			t.Fatalf("shard %d/2: exit %d\n%s", k, r.code, r.stderr)
		}
		if strings.Contains(string(mustRead(t, p)), `"baselineState"`) {
			t.Errorf("shard %d/2 applied the baseline: a shard sees part of the results", k)
		}
		logs = append(logs, p)
	}
	for _, c := range []struct {
		args []string
		code int
		line string
	}{
		{[]string{"--fail-on", "low"}, 1, "FAIL"},
		{[]string{"--fail-on", "none"}, 0, "PASS"},
		{[]string{"--baseline", base, "--new-only", "--fail-on", "low"}, 0, "only new findings count (0 new)"},
	} {
		merged := filepath.Join(t.TempDir(), "merged.sarif")
		single := filepath.Join(t.TempDir(), "single.sarif")
		r := tollgate(t, nil, append(append([]string{"merge", "--path", dir, "--sarif", merged}, c.args...), logs...)...)
		if r.code != c.code || !strings.Contains(r.stdout, c.line) {
			t.Errorf("merge %v: exit %d, want %d with %q\n%s%s", c.args, r.code, c.code, c.line, r.stdout, r.stderr)
		}
		s := tollgate(t, nil, append(append([]string{"scan", "-q", "--offline", "--scanners", "secrets,iac", "--sarif", single}, c.args...), dir)...)
		if s.code != r.code {
			t.Errorf("%v: one scan exit %d, merge %d", c.args, s.code, r.code)
		}
		sameWithoutShard(t, fmt.Sprintf("merge %v", c.args), single, merged)
	}
}

// TestTaskShardsAndMerge runs the task as a `parallel: 2` job and a merge
// job run it: each shard publishes its log as its own artifact, logs no
// finding and passes; the merge job reads the downloaded artifacts,
// publishes CodeAnalysisLogs and fails by the gate as one scan would.
func TestTaskShardsAndMerge(t *testing.T) {
	t.Parallel()
	src := demoDir(t)
	workspace := t.TempDir()
	for k := 1; k <= 2; k++ {
		env, _, _ := agentEnv(t, src, "1", map[string]string{"mode": "shard", "scanners": "secrets,iac", "offline": "true"})
		env = append(env, fmt.Sprintf("SYSTEM_JOBPOSITIONINPHASE=%d", k), "SYSTEM_TOTALJOBSINPHASE=2")
		r := tollgate(t, env, "task")
		cmds := parseAgentCommands(r.stdout)
		var uploaded string
		for _, c := range cmds {
			switch c.Name {
			case "artifact.upload":
				if c.Props["artifactname"] != fmt.Sprintf("tollgate-shard-%d-of-2", k) {
					t.Errorf("shard %d: artifact %q", k, c.Props["artifactname"])
				}
				uploaded = c.Message
			case "task.logissue":
				if c.Props["type"] == "error" {
					t.Errorf("shard %d logged an error: %s", k, c.Message)
				}
			case "task.uploadsummary":
				t.Errorf("shard %d uploaded a summary", k)
			}
		}
		last := cmds[len(cmds)-1]
		if r.code != 0 || last.Name != "task.complete" || last.Props["result"] != "SucceededWithIssues" {
			t.Fatalf("shard %d: exit %d, %+v\n%s%s", k, r.code, last, r.stdout, r.stderr)
		}
		if v := outputVariable(cmds, "verdict"); v != "deferred" {
			t.Errorf("shard %d: verdict output %q, want deferred", k, v)
		}
		// `- download: current` puts each artifact in a folder of its name.
		dst := filepath.Join(workspace, fmt.Sprintf("tollgate-shard-%d-of-2", k), filepath.Base(uploaded))
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		copyFile(t, uploaded, dst)
	}

	env, _, _ := agentEnv(t, src, "1", map[string]string{"mode": "merge", "offline": "true"})
	env = append(env, "PIPELINE_WORKSPACE="+workspace)
	r := tollgate(t, env, "task")
	cmds := parseAgentCommands(r.stdout)
	var merged string
	errorsLogged := 0
	for _, c := range cmds {
		switch {
		case c.Name == "artifact.upload":
			if c.Props["artifactname"] != "CodeAnalysisLogs" {
				t.Errorf("merge: artifact %q", c.Props["artifactname"])
			}
			merged = c.Message
		case c.Name == "task.logissue" && c.Props["type"] == "error":
			errorsLogged++
		}
	}
	last := cmds[len(cmds)-1]
	if r.code != 1 || last.Props["result"] != "Failed" || errorsLogged == 0 {
		t.Fatalf("merge: exit %d, %+v, %d error(s) logged; want 1, Failed and the failing findings\n%s%s", r.code, last, errorsLogged, r.stdout, r.stderr)
	}
	single := filepath.Join(t.TempDir(), "single.sarif")
	env, _, _ = agentEnv(t, src, "1", map[string]string{"scanners": "secrets,iac", "offline": "true", "sarifFileName": "single.sarif"})
	one := tollgate(t, env, "task")
	for _, c := range parseAgentCommands(one.stdout) {
		if c.Name == "artifact.upload" {
			copyFile(t, c.Message, single)
		}
	}
	want, _ := resultKeys(t, single)
	got, _ := resultKeys(t, merged)
	if !slices.Equal(got, want) {
		t.Errorf("the merged task log has %d results, one task scan %d: %s", len(got), len(want), firstDiff(got, want))
	}
	validateSARIF(t, merged, "Sarif;Gh;Ado")
}

func outputVariable(cmds []agentCommand, name string) string {
	for _, c := range cmds {
		if c.Name == "task.setvariable" && c.Props["variable"] == name {
			return c.Message
		}
	}
	return ""
}

// TestShardOneOfOneIsTheWholeScan: `--shard 1/1` (a `parallel: 1` job) is
// the whole scan: the same exit code (the gate applies), the same results
// with the same baseline states (new, unchanged, absent) as without
// --shard; and merging its one log gives the same again, the absent results
// not matched a second time.
func TestShardOneOfOneIsTheWholeScan(t *testing.T) {
	t.Parallel()
	dir, out := t.TempDir(), t.TempDir()
	copyDir(t, demoDir(t), dir)
	base := filepath.Join(out, "base.sarif")
	if r := tollgate(t, nil, "baseline", base, "-q", "--offline", "--scanners", "secrets,iac", dir); r.code != 0 {
		t.Fatalf("baseline: exit %d\n%s", r.code, r.stderr)
	}
	// Something gone (absent), something new, the rest unchanged.
	must(t, os.Remove(filepath.Join(dir, "app", "deploy.sh")))
	must(t, os.WriteFile(filepath.Join(dir, "app", "token.env"), []byte("GITHUB_TOKEN=ghp_Z3kQ9wX2mV7bN4cR8tY1uI6oP5aS0dF3gH2j\n"), 0o644))
	args := []string{"-q", "--offline", "--scanners", "secrets,iac", "--baseline", base, "--fail-on", "low"}
	single, one := filepath.Join(out, "single.sarif"), filepath.Join(out, "one.sarif")
	s := tollgate(t, nil, append(append([]string{"scan", "--sarif", single}, args...), dir)...)
	if s.code != 1 {
		t.Fatalf("one scan: exit %d, want 1 (new findings at or above low)\n%s", s.code, s.stderr)
	}
	for _, state := range []string{"new", "unchanged", "absent"} {
		if !strings.Contains(string(mustRead(t, single)), `"baselineState": "`+state+`"`) {
			t.Fatalf("one scan: no %s result: the comparison would prove less", state)
		}
	}
	r := tollgate(t, nil, append(append([]string{"scan", "--shard", "1/1", "--sarif", one}, args...), dir)...)
	if r.code != s.code {
		t.Errorf("--shard 1/1: exit %d, one scan %d\n%s%s", r.code, s.code, r.stdout, r.stderr)
	}
	if _, shard := resultKeys(t, one); shard != "1/1" {
		t.Errorf("--shard 1/1: the log names shard %q, want 1/1 (a merge reads it)", shard)
	}
	sameWithoutShard(t, "--shard 1/1 and one scan", single, one)

	merged := filepath.Join(out, "merged.sarif")
	m := tollgate(t, nil, "merge", "-q", "--path", dir, "--baseline", base, "--fail-on", "low", "--sarif", merged, one)
	if m.code != s.code {
		t.Errorf("merge of shard 1/1: exit %d, one scan %d\n%s%s", m.code, s.code, m.stdout, m.stderr)
	}
	sameWithoutShard(t, "merge of shard 1/1 and one scan", single, merged)
}

// TestTaskParallelOneIsTheWholeScan: the task in mode shard as the one job
// of `parallel: 1` scans as one task scan does (the gate fails it, the
// verdict is not deferred) and still publishes its log as the artifact the
// merge job looks for, which merges into the same failure.
func TestTaskParallelOneIsTheWholeScan(t *testing.T) {
	t.Parallel()
	src, workspace := demoDir(t), t.TempDir()
	env, _, _ := agentEnv(t, src, "1", map[string]string{"mode": "shard", "scanners": "secrets,iac", "offline": "true"})
	env = append(env, "SYSTEM_JOBPOSITIONINPHASE=1", "SYSTEM_TOTALJOBSINPHASE=1")
	r := tollgate(t, env, "task")
	cmds := parseAgentCommands(r.stdout)
	var uploaded string
	for _, c := range cmds {
		if c.Name == "artifact.upload" {
			if c.Props["artifactname"] != "tollgate-shard-1-of-1" {
				t.Errorf("artifact %q, want tollgate-shard-1-of-1", c.Props["artifactname"])
			}
			uploaded = c.Message
		}
	}
	last := cmds[len(cmds)-1]
	if r.code != 1 || last.Props["result"] != "Failed" {
		t.Errorf("shard 1/1: exit %d, %+v; want 1 and Failed, as one task scan\n%s%s", r.code, last, r.stdout, r.stderr)
	}
	if v := outputVariable(cmds, "verdict"); v != "fail" {
		t.Errorf("shard 1/1: verdict output %q, want fail", v)
	}
	if uploaded == "" {
		t.Fatalf("shard 1/1 published no log\n%s", r.stdout)
	}
	dst := filepath.Join(workspace, "tollgate-shard-1-of-1", filepath.Base(uploaded))
	must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	copyFile(t, uploaded, dst)
	env, _, _ = agentEnv(t, src, "1", map[string]string{"mode": "merge", "offline": "true"})
	m := tollgate(t, append(env, "PIPELINE_WORKSPACE="+workspace), "task")
	if m.code != 1 {
		t.Errorf("merge of shard 1/1: exit %d, want 1\n%s%s", m.code, m.stdout, m.stderr)
	}
}
