package task

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/paths"
	"github.com/tollgate/tollgate/scan"
)

func TestEscaping(t *testing.T) {
	var b bytes.Buffer
	c := NewCommands(&b)
	c.LogIssue("error", "dir/a;b]c%d\n.tf", 3, 0, "R;1", "line1\nline2 ##vso[task.complete result=Succeeded] 100%")
	got := b.String()
	want := "##vso[task.logissue code=R%3B1;linenumber=3;sourcepath=dir/a%3Bb%5Dc%AZP25d%0A.tf;type=error]line1%0Aline2 #\\#vso[task.complete result=Succeeded] 100%AZP25\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if strings.Count(got, "##vso[") != 1 {
		t.Error("a second command on the line")
	}
}

func TestArgs(t *testing.T) {
	env := map[string]string{
		"INPUT_PATH": "/src", "INPUT_FAILON": "critical", "INPUT_FAILONSECRETS": "low",
		"INPUT_IMAGES": "alpine:3.18\n\n  registry:ghcr.io/a/b:1  \r\n", "INPUT_DISCOVERIMAGES": "False",
		"INPUT_EXTRAARGS": `--exclude 'vendor/**' --timeout "20m" $(whoami)`, "INPUT_DBREPOSITORY": "a/db:2, b/db:2",
		"AGENT_TOOLSDIRECTORY": "/agent/_tool", "INPUT_SECRETSMODE": "commits", "INPUT_SECRETSEXTRARULES": "false",
		"INPUT_RESULTCACHE": "false",
	}
	args, err := Args(scan.Builtin().Infos(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(args, " ")
	for _, want := range []string{
		"--fail-on critical", "--fail-on secrets=low", "--image alpine:3.18", "--image registry:ghcr.io/a/b:1",
		"--discover-images=false", "--db-repository a/db:2 --db-repository b/db:2", "--cache-dir /agent/_tool/tollgate",
		"--exclude vendor/** --timeout 20m $(whoami)", "--secrets-mode commits", "--secrets-extra-rules=false", "--no-result-cache",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("args %q lack %q", got, want)
		}
	}
	if args[len(args)-1] != "/src" {
		t.Errorf("path is not last: %q", args)
	}
	// A pipeline scan always has a time limit: the default, before
	// extraArgs (which may set another); the input, or TOLLGATE_TIMEOUT,
	// instead of it.
	if i, j := strings.Index(got, "--timeout 30m"), strings.Index(got, "--timeout 20m"); i < 0 || j < i {
		t.Errorf("args %q: want the default --timeout 30m before extraArgs' --timeout 20m", got)
	}
	for k, v := range map[string]string{"INPUT_TIMEOUT": "45m", "TOLLGATE_TIMEOUT": "1h"} {
		env[k] = v
		args, err := Args(scan.Builtin().Infos(), func(k string) string { return env[k] })
		delete(env, k)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(args, " "); strings.Contains(got, "--timeout 30m") || k == "INPUT_TIMEOUT" && !strings.Contains(got, "--timeout 45m") {
			t.Errorf("%s=%s: args %q", k, v, got)
		}
	}
	env["INPUT_NEWONLY"] = "maybe"
	if _, err := Args(scan.Builtin().Infos(), func(k string) string { return env[k] }); err == nil {
		t.Error("a bad boolean accepted")
	}
}

// The Node shim's own tests run with node's test runner.
func TestShim(t *testing.T) {
	out, err := exec.Command("node", "--test", "shim/").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test shim/: %v\n%s", err, out)
	}
	pass := regexp.MustCompile(`(?m)^# pass (\d+)$`).FindStringSubmatch(string(out))
	if !strings.Contains(string(out), "\n# fail 0\n") || pass == nil || pass[1] == "0" {
		t.Errorf("node tests: want some passing and none failing:\n%s", out)
	}
}

// The agent's folders as a Windows agent and a Linux agent name them.
func TestAgentFolders(t *testing.T) {
	for _, c := range []struct {
		style          paths.Style
		env            map[string]string
		sarif, summary string
	}{
		{paths.Posix, map[string]string{"BUILD_ARTIFACTSTAGINGDIRECTORY": "/home/vsts/work/1/a", "AGENT_TEMPDIRECTORY": "/home/vsts/work/_temp"},
			"/home/vsts/work/1/a/CodeAnalysisLogs", "/home/vsts/work/_temp/tollgate-summary.md"},
		{paths.Windows, map[string]string{"BUILD_ARTIFACTSTAGINGDIRECTORY": `D:\a\1\a`, "AGENT_TEMPDIRECTORY": `D:\a\_temp`},
			`D:\a\1\a\CodeAnalysisLogs`, `D:\a\_temp\tollgate-summary.md`},
		{paths.Windows, map[string]string{"BUILD_ARTIFACTSTAGINGDIRECTORY": `\\buildsrv\agents\w\1\a\`, "AGENT_TEMPDIRECTORY": `\\buildsrv\agents\w\_temp`},
			`\\buildsrv\agents\w\1\a\CodeAnalysisLogs`, `\\buildsrv\agents\w\_temp\tollgate-summary.md`},
		{paths.Windows, map[string]string{"AGENT_TEMPDIRECTORY": `C:/agent/_work/_temp`},
			`C:\agent\_work\_temp\CodeAnalysisLogs`, `C:\agent\_work\_temp\tollgate-summary.md`},
		{paths.Windows, map[string]string{}, `C:\Users\agent\AppData\Local\Temp\CodeAnalysisLogs`, `C:\Users\agent\AppData\Local\Temp\tollgate-summary.md`},
	} {
		getenv := func(k string) string { return c.env[k] }
		tmp := `/tmp`
		if c.style == paths.Windows {
			tmp = `C:\Users\agent\AppData\Local\Temp`
		}
		if got := sarifFolder(getenv, c.style, tmp); got != c.sarif {
			t.Errorf("sarifFolder(%v) = %q, want %q", c.env, got, c.sarif)
		}
		if got := agentTempFile(getenv, c.style, tmp, "tollgate-summary.md"); got != c.summary {
			t.Errorf("agentTempFile(%v) = %q, want %q", c.env, got, c.summary)
		}
	}
}

func TestArgsModes(t *testing.T) {
	ws := t.TempDir()
	for _, d := range []string{"tollgate-shard-1-of-2", "tollgate-shard-2-of-2", "other"} {
		if err := os.MkdirAll(filepath.Join(ws, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ws, d, "tollgate.sarif"), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"INPUT_PATH": "/src", "PIPELINE_WORKSPACE": ws}
	get := func(k string) string { return env[k] }

	env["INPUT_MODE"] = "shard"
	if _, err := Args(scan.Builtin().Infos(), get); err == nil || !strings.Contains(err.Error(), "strategy: parallel") {
		t.Errorf("a shard outside a parallel strategy: %v", err)
	}
	env["SYSTEM_JOBPOSITIONINPHASE"], env["SYSTEM_TOTALJOBSINPHASE"] = "3", "4"
	args, err := Args(scan.Builtin().Infos(), get)
	if err != nil || !strings.Contains(strings.Join(args, " "), "--shard 3/4 /src") {
		t.Errorf("shard from the job's position: %q %v", args, err)
	}
	env["INPUT_SHARD"] = "1/2"
	if args, err = Args(scan.Builtin().Infos(), get); err != nil || !strings.Contains(strings.Join(args, " "), "--shard 1/2 /src") {
		t.Errorf("shard input: %q %v", args, err)
	}
	env["INPUT_SHARD"] = "5/4"
	if _, err = Args(scan.Builtin().Infos(), get); err == nil || !strings.Contains(err.Error(), "input shard") {
		t.Errorf("a bad shard input: %v", err)
	}

	env["INPUT_MODE"] = "merge"
	args, err = Args(scan.Builtin().Infos(), get)
	want := []string{"--path", "/src", filepath.Join(ws, "tollgate-shard-1-of-2/tollgate.sarif"), filepath.Join(ws, "tollgate-shard-2-of-2/tollgate.sarif")}
	if err != nil || !slices.Equal(args[len(args)-4:], want) {
		t.Errorf("merge: %q %v, want it to end in %q", args, err, want)
	}
	env["INPUT_SHARDLOGS"] = "other/*.sarif"
	if args, err = Args(scan.Builtin().Infos(), get); err != nil || args[len(args)-1] != filepath.Join(ws, "other/tollgate.sarif") {
		t.Errorf("shardLogs: %q %v", args, err)
	}
	env["INPUT_SHARDLOGS"] = "none/*.sarif"
	if _, err = Args(scan.Builtin().Infos(), get); err == nil || !strings.Contains(err.Error(), "no shard log matches") {
		t.Errorf("no log: %v", err)
	}
	env["INPUT_MODE"] = "sideways"
	if _, err = Args(scan.Builtin().Infos(), get); err == nil || !strings.Contains(err.Error(), "input mode") {
		t.Errorf("a bad mode: %v", err)
	}
}
