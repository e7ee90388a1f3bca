package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// agentCommand is a logging command as the Azure Pipelines agent parses a
// stdout line: the first "##vso[" anywhere in it (any case), the command
// up to the first "]", then the message; values unescaped.
type agentCommand struct {
	Name    string
	Props   map[string]string
	Message string
	Line    string
}

func agentUnescape(s string) string {
	return strings.NewReplacer("%AZP25", "%", "%0D", "\r", "%0A", "\n", "%3B", ";", "%5D", "]").Replace(s)
}

func parseAgentCommands(stdout string) []agentCommand {
	var out []agentCommand
	for _, line := range strings.Split(stdout, "\n") {
		i := strings.Index(strings.ToLower(line), "##vso[")
		if i < 0 {
			continue
		}
		rest := line[i+len("##vso["):]
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			continue
		}
		head, msg := rest[:end], rest[end+1:]
		name, props, _ := strings.Cut(head, " ")
		c := agentCommand{Name: strings.ToLower(name), Props: map[string]string{}, Message: agentUnescape(msg), Line: line}
		for _, p := range strings.Split(props, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok {
				c.Props[strings.ToLower(k)] = agentUnescape(v)
			}
		}
		out = append(out, c)
	}
	return out
}

// agentEnv is what the agent sets for a task step, plus the inputs.
func agentEnv(t *testing.T, src, jobAttempt string, inputs map[string]string) ([]string, string, string) {
	t.Helper()
	base := t.TempDir()
	staging, tmp := filepath.Join(base, "a"), filepath.Join(base, "_temp")
	must(t, os.MkdirAll(staging, 0o755))
	must(t, os.MkdirAll(tmp, 0o755))
	env := []string{
		"TF_BUILD=True",
		"SYSTEM_JOBID=12f1170f-54f2-53f3-20dd-22fc7dff55f9",
		"SYSTEM_JOBATTEMPT=" + jobAttempt,
		"SYSTEM_JOBNAME=Scan",
		"SYSTEM_PHASEID=3f2504e0-4f89-11d3-9a0c-0305e82c3301",
		"SYSTEM_PHASENAME=Build",
		"SYSTEM_COLLECTIONURI=https://dev.azure.com/contoso/",
		"SYSTEM_TEAMPROJECT=web",
		"SYSTEM_DEFINITIONID=42",
		"BUILD_DEFINITIONNAME=web-ci",
		"BUILD_BUILDID=1234",
		"BUILD_SOURCEBRANCH=refs/heads/main",
		"BUILD_SOURCESDIRECTORY=" + src,
		"BUILD_ARTIFACTSTAGINGDIRECTORY=" + staging,
		"AGENT_TEMPDIRECTORY=" + tmp,
		"SYSTEM_ACCESSTOKEN=secret-token-never-used",
	}
	for k, v := range inputs {
		env = append(env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	return env, staging, tmp
}

// hostileToken is a fake token planted in a file with a hostile name.
const hostileToken = "ghp_Z8kQ3mW7xR2vT9pL4nB6cY1dF5hJ0sA3eGiK"

// hostileRepo is the demo plus file names and contents that carry logging
// commands.
func hostileRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	copyDir(t, demoDir(t), root)
	write(t, filepath.Join(root, "k8s", "##vso[task.setvariable variable=PWNED]yes.yaml"), `# ##vso[task.complete result=Succeeded]done
apiVersion: v1
kind: Pod
metadata:
  name: "##vso[task.setvariable variable=PWNED2]yes"
spec:
  containers:
    - name: x
      image: nginx:1.25
      securityContext:
        privileged: true
`)
	write(t, filepath.Join(root, "##vso[task.complete result=Succeeded]", "main.tf"), "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x ##vso[task.setvariable variable=PWNED3]1\"\n  acl = \n")
	write(t, filepath.Join(root, "app", "leak;]%0A.env"), "TOKEN="+hostileToken+" ##vso[task.complete result=Succeeded]\n")
	return root
}

func TestTaskAsTheAgentRunsIt(t *testing.T) {
	t.Parallel()
	root := hostileRepo(t)
	env, staging, tmp := agentEnv(t, root, "1", map[string]string{"failOn": "high", "publishJUnit": "true", "maxIssues": "5"})
	r := tollgate(t, env, "task")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	cmds := parseAgentCommands(r.stdout)
	allowedVars := []string{"sarifFile", "verdict", "findings", "failing", "suppressed", "new", "critical", "high", "medium", "low", "unknown", "secretsFindings", "iacFindings", "imageFindings", "depsFindings"}
	vars := map[string]string{}
	var issues, completes []agentCommand
	for i, c := range cmds {
		if strings.Count(strings.ToLower(c.Line), "##vso[") != 1 || !strings.HasPrefix(c.Line, "##vso[") {
			t.Errorf("line with a foreign or second command: %q", c.Line)
		}
		switch c.Name {
		case "task.logissue":
			issues = append(issues, c)
		case "task.setvariable":
			if !slices.Contains(allowedVars, c.Props["variable"]) || c.Props["isoutput"] != "true" {
				t.Errorf("unexpected variable command %+v", c)
			}
			vars[c.Props["variable"]] = c.Message
		case "task.complete":
			completes = append(completes, c)
			if i != len(cmds)-1 {
				t.Errorf("task.complete is not the last command")
			}
		case "artifact.upload", "task.uploadsummary", "results.publish", "task.setprogress":
		default:
			t.Errorf("unexpected command %q in %q", c.Name, c.Line)
		}
	}
	if len(completes) != 1 || completes[0].Props["result"] != "Failed" {
		t.Fatalf("task.complete: %+v", completes)
	}
	if len(issues) != 6 || !strings.Contains(issues[5].Message, "more failing finding") {
		t.Errorf("want 5 issues and a count of the rest, got %d", len(issues))
	}
	for _, c := range issues[:5] {
		if c.Props["type"] != "error" || c.Props["code"] == "" || c.Props["sourcepath"] == "" {
			t.Errorf("issue %+v", c)
		}
	}
	sarifPath := filepath.Join(staging, "CodeAnalysisLogs", "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1.sarif")
	for _, v := range allowedVars {
		if _, ok := vars[v]; !ok {
			t.Errorf("output variable %s is not set", v)
		}
	}
	if vars["sarifFile"] != sarifPath || vars["verdict"] != "fail" {
		t.Errorf("output variables %v", vars)
	}
	// The counts are the SARIF's: results that are not suppressed, by
	// engine and by severity.
	counted, _ := readSARIF(t, sarifPath)
	want := map[string]int{}
	for _, run := range counted.Runs {
		engine := map[string]string{"gitleaks": "secretsFindings", "trivy-config": "iacFindings", "trivy-image": "imageFindings", "trivy-deps": "depsFindings"}[run.Tool.Driver.Name]
		for _, res := range run.Results {
			if len(res.Suppressions) > 0 {
				want["suppressed"]++
				continue
			}
			want["findings"]++
			want[engine]++
			want[strings.ToLower(fmt.Sprint(res.Properties["severity"]))]++
		}
	}
	if want["findings"] == 0 || want["secretsFindings"] == 0 || want["iacFindings"] == 0 {
		t.Fatalf("the SARIF has no findings to compare: %v", want)
	}
	for _, v := range []string{"findings", "suppressed", "critical", "high", "medium", "low", "unknown", "secretsFindings", "iacFindings", "imageFindings", "depsFindings"} {
		if vars[v] != fmt.Sprint(want[v]) {
			t.Errorf("output variable %s = %q, the SARIF says %d", v, vars[v], want[v])
		}
	}
	var upload agentCommand
	for _, c := range cmds {
		if c.Name == "artifact.upload" {
			upload = c
		}
	}
	if upload.Props["artifactname"] != "CodeAnalysisLogs" || upload.Message != sarifPath {
		t.Errorf("artifact upload %+v", upload)
	}
	for _, text := range []string{r.stdout, r.stderr} {
		if strings.Contains(text, "secret-token-never-used") || strings.Contains(text, hostileToken) {
			t.Error("a secret reached the output")
		}
	}
	// The table and the log lines around the commands hold no command.
	for _, line := range strings.Split(r.stdout+"\n"+r.stderr, "\n") {
		if strings.Contains(strings.ToLower(line), "##vso[") && !strings.HasPrefix(line, "##vso[") {
			t.Errorf("text line with a command: %q", line)
		}
		if strings.HasPrefix(strings.ToLower(line), "##[") {
			t.Errorf("formatting command from text: %q", line)
		}
	}

	log, _ := readSARIF(t, sarifPath)
	for _, run := range log.Runs {
		if !strings.HasPrefix(run.AutomationDetails.ID, "azuredevops/pipeline/build/contoso/web/42/3f2504e0-4f89-11d3-9a0c-0305e82c3301/refs/heads/main/1234/") {
			t.Errorf("automationDetails.id %q", run.AutomationDetails.ID)
		}
	}
	if !log.where()["trivy-config KSV-0017 k8s/%23%23vso%5Btask.setvariable%20variable=PWNED%5Dyes.yaml:8"] ||
		!log.where()["gitleaks github-pat app/leak%3B%5D%250A.env:1"] {
		t.Errorf("the hostile file's finding is missing: %v", log.where())
	}
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado;GHAzDO")

	summary, err := os.ReadFile(filepath.Join(tmp, "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1-summary.md"))
	must(t, err)
	if !strings.Contains(string(summary), "## Tollgate security gate: ❌ Failed") || strings.Contains(string(summary), "##vso[") {
		t.Errorf("summary:\n%s", summary)
	}
	junit, err := os.ReadFile(filepath.Join(tmp, "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1-junit.xml"))
	must(t, err)
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit, &suites); err != nil || len(suites.Suites) != 2 || suites.Suites[1].Failures == 0 {
		t.Errorf("JUnit: %v %+v", err, suites)
	}
}

func TestTaskRerunsWriteDistinctSARIF(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	copyDir(t, demoDir(t), root)
	env1, staging, _ := agentEnv(t, root, "1", map[string]string{"failOn": "none"})
	sarifOf := func(env []string) string {
		r := tollgate(t, env, "task")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		sarif, result := "", ""
		for _, c := range parseAgentCommands(r.stdout) {
			switch {
			case c.Name == "task.setvariable" && c.Props["variable"] == "sarifFile":
				sarif = c.Message
			case c.Name == "task.complete":
				result = c.Props["result"]
			}
		}
		if result != "SucceededWithIssues" {
			t.Errorf("result %q, want SucceededWithIssues (findings below the threshold)", result)
		}
		if sarif == "" {
			t.Fatal("no sarifFile variable")
		}
		return sarif
	}
	first := sarifOf(env1)
	var env2 []string
	for _, e := range env1 {
		if strings.HasPrefix(e, "SYSTEM_JOBATTEMPT=") {
			e = "SYSTEM_JOBATTEMPT=2"
		}
		env2 = append(env2, e)
	}
	second := sarifOf(env2)
	third := sarifOf(env2) // the task twice in one job
	want := []string{"tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-1.sarif", "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-2.sarif", "tollgate-12f1170f-54f2-53f3-20dd-22fc7dff55f9-2-2.sarif"}
	for i, p := range []string{first, second, third} {
		if p != filepath.Join(staging, "CodeAnalysisLogs", want[i]) {
			t.Errorf("run %d wrote %s, want %s", i+1, p, want[i])
		}
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
}

func TestTaskResults(t *testing.T) {
	t.Parallel()
	clean := t.TempDir()
	write(t, filepath.Join(clean, "README.md"), "nothing to see\n")
	_, archive := imageFixtures(t)
	for _, tc := range []struct {
		name   string
		src    string
		inputs map[string]string
		code   int
		result string
	}{
		{"clean tree", clean, nil, 0, "Succeeded"},
		{"scanner failed", clean, map[string]string{"images": "docker-archive:" + archive, "offline": "true", "cacheDir": t.TempDir()}, 3, "Failed"},
		{"scanner failed, tolerated", clean, map[string]string{"images": "docker-archive:" + archive, "offline": "true", "cacheDir": t.TempDir(), "failOnScannerError": "false"}, 0, "SucceededWithIssues"},
		{"bad input", clean, map[string]string{"failOn": "severe"}, 2, "Failed"},
		{"bad boolean", clean, map[string]string{"publish": "yes please"}, 2, "Failed"},
		{"sarif name is a path", clean, map[string]string{"sarifFileName": "../../x.sarif"}, 2, "Failed"},
		{"msdo name", clean, map[string]string{"sarifFileName": "msdo.sarif"}, 0, "Succeeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _, _ := agentEnv(t, tc.src, "1", tc.inputs)
			r := tollgate(t, env, "task")
			cmds := parseAgentCommands(r.stdout)
			if r.code != tc.code || len(cmds) == 0 || cmds[len(cmds)-1].Name != "task.complete" || cmds[len(cmds)-1].Props["result"] != tc.result {
				t.Errorf("exit %d, last command %+v; want %d and %s\n%s\n%s", r.code, cmds[len(cmds)-1], tc.code, tc.result, r.stdout, r.stderr)
			}
		})
	}
}

func TestShimRunsTheBinary(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	copyDir(t, demoDir(t), root)
	env, _, _ := agentEnv(t, root, "1", map[string]string{"runner": "binary", "failOn": "critical"})
	env = append(env, "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+t.TempDir())
	cmd := exec.Command("node", "../../task/shim/index.js")
	cmd.Env = env
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("node: %v", err)
	}
	cmds := parseAgentCommands(string(out))
	if code != 1 || len(cmds) == 0 || cmds[len(cmds)-1].Props["result"] != "Failed" {
		t.Errorf("shim: exit %d, commands %d\n%s", code, len(cmds), out)
	}
}

// TestVSIX builds the extension as a release does, from GoReleaser's
// snapshot (dist/, made by `goreleaser release --snapshot --clean` in
// .ci/run): the task, the bundled shim and the archives' checksums, no
// binary, under 5 MB.
func TestVSIX(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	dist, err := filepath.Abs("../../dist")
	must(t, err)
	cmd := exec.Command("bash", "../../task/build-vsix.sh", out, dist)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build-vsix.sh: %v\n%s", err, b)
	}
	var res struct {
		Path string `json:"path"`
	}
	raw, err := os.ReadFile(filepath.Join(out, "vsix.json"))
	must(t, err)
	must(t, json.Unmarshal(raw, &res))
	fi, err := os.Stat(res.Path)
	must(t, err)
	t.Logf("%s: %d bytes", filepath.Base(res.Path), fi.Size())
	if fi.Size() >= 5<<20 {
		t.Errorf("the vsix is %d bytes, want under 5 MiB (the Marketplace refuses 25 MiB)", fi.Size())
	}
	zr, err := zip.OpenReader(res.Path)
	must(t, err)
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if strings.Contains(f.Name, "/bin/") || path.Base(f.Name) == "tollgate" || path.Base(f.Name) == "tollgate.exe" {
			t.Errorf("the vsix carries a binary: %s", f.Name)
		}
	}
	// checksums.json: the version of dist/'s archives and each one's SHA-256.
	var meta struct {
		Version string `json:"version"`
	}
	raw, err = os.ReadFile(filepath.Join(dist, "metadata.json"))
	must(t, err)
	must(t, json.Unmarshal(raw, &meta))
	var sums struct {
		Version string            `json:"version"`
		Files   map[string]string `json:"files"`
	}
	raw, err = os.ReadFile(filepath.Join(out, "vsix", "tollgate-task", "shim", "checksums.json"))
	must(t, err)
	must(t, json.Unmarshal(raw, &sums))
	// Exactly the archives of dist/checksums.txt; build-vsix.sh checks
	// those are the ones the handler installs (all five in a release).
	distSums := map[string]string{}
	raw, err = os.ReadFile(filepath.Join(dist, "checksums.txt"))
	must(t, err)
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 2 && (strings.HasSuffix(f[1], ".tar.gz") || strings.HasSuffix(f[1], ".zip")) {
			distSums[f[1]] = f[0]
		}
	}
	if sums.Version != meta.Version || len(sums.Files) == 0 || !maps.Equal(sums.Files, distSums) {
		t.Errorf("checksums.json: version %q (dist has %q), archives %v, want %v", sums.Version, meta.Version, sums.Files, distSums)
	}
	for name, sum := range sums.Files {
		f, err := os.Open(filepath.Join(dist, name))
		must(t, err)
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		must(t, err)
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			t.Errorf("checksums.json says %s for %s, the archive is %s", sum, name, got)
		}
	}
	for _, want := range []string{"tollgate-task/task.json", "tollgate-task/shim/index.js", "tollgate-task/shim/checksums.json", "tollgate-task/icon.png", "extension.vsixmanifest"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s missing from the vsix: %v", want, names)
		}
	}
	// tfx validated the packaged task.json; check the same validator rejects a broken one.
	staged := filepath.Join(out, "vsix", "tollgate-task", "task.json")
	validator, err := filepath.Abs("../../.ci/tools/node_modules/tfx-cli/_build/lib/jsonvalidate.js")
	must(t, err)
	check := func(path string) error {
		return exec.Command("node", "-e", "require(process.argv[1]).validate(process.argv[2])", validator, path).Run()
	}
	if err := check(staged); err != nil {
		t.Errorf("tfx rejects the packaged task.json: %v", err)
	}
	broken, err := os.ReadFile(staged)
	must(t, err)
	must(t, os.WriteFile(staged, []byte(strings.Replace(string(broken), `"Tollgate",`, `"Toll gate",`, 1)), 0o644))
	if err := check(staged); err == nil {
		t.Error("tfx accepted a task name with a space")
	}
	shim, err := os.ReadFile(filepath.Join(out, "vsix", "tollgate-task", "shim", "index.js"))
	must(t, err)
	if !regexp.MustCompile(`ghcr\.io/tollgate/tollgate:0\.1\.0["']`).Match(shim) {
		t.Error("the packaged shim is not pinned to the task's version")
	}

	// A release's folder that lacks an archive the handler installs is
	// refused, naming what is missing: agents of that platform could not
	// install the task's binary.
	partial := t.TempDir()
	for _, f := range []string{"metadata.json", "checksums.txt"} {
		raw, err := os.ReadFile(filepath.Join(dist, f))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(partial, f), raw, 0o644))
	}
	full, err := os.ReadFile(filepath.Join(dist, "checksums.txt"))
	must(t, err)
	var keep []string
	for _, line := range strings.Split(string(full), "\n") {
		if !strings.Contains(line, "_linux_amd64.tar.gz") {
			keep = append(keep, line)
		}
	}
	must(t, os.WriteFile(filepath.Join(partial, "checksums.txt"), []byte(strings.Join(keep, "\n")), 0o644))
	for _, targets := range []string{"all", "linux_amd64"} {
		cmd := exec.Command("bash", "../../task/build-vsix.sh", t.TempDir(), partial)
		cmd.Env = append(os.Environ(), "TOLLGATE_RELEASE_TARGETS="+targets)
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), "_linux_amd64.tar.gz") || !strings.Contains(string(b), "the release needs") {
			t.Errorf("build-vsix.sh without the linux/amd64 archive (TOLLGATE_RELEASE_TARGETS=%s): %v\n%s", targets, err, b)
		}
	}
}
