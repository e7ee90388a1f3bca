package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tollgate/tollgate/internal/tollgatebin"
	"github.com/tollgate/tollgate/report/sarifcheck"
	"github.com/tollgate/tollgate/scanners/images/imagetest"
	"github.com/tollgate/tollgate/vulndb"
	"github.com/tollgate/tollgate/vulndb/vulndbtest"
)

// These tests drive the built binary, the way users and pipelines run it.

var binary string

func TestMain(m *testing.M) {
	if code, ok := runSlowed(); ok {
		os.Exit(code) // this binary started as Tollgate (slow_test.go)
	}
	dir, err := os.MkdirTemp("", "tollgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, err = tollgatebin.Path(context.Background(), "../..", dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type runResult struct {
	stdout, stderr string
	code           int
}

// tollgate runs the binary with a clean, pipeline-free environment plus env.
func tollgate(t *testing.T, env []string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	return runCommand(t, cmd)
}

// runCommand runs cmd and returns its output and exit code; a command that
// could not run fails the test.
func runCommand(t *testing.T, cmd *exec.Cmd) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	return runResult{stdout: out.String(), stderr: errb.String(), code: code}
}

func demoDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("../../testdata/demo")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// plantedSecrets are the fake credentials in testdata/demo.
var plantedSecrets = []string{
	"ghp_R8fT2vLq9XwZ4mN7pK3sD6hJ1cB5yA0eUi2o",
	"AKIAQ7RW3LMZK2XPT4NV",
	"kX9vR2mT7qL4wZ8nB3cF6hJ1pS5dG0aY7uE2iO4t",
	"Xq8Rt2Lm9Vw4Zp7Kd3Sf6Hj1",
}

// sarifLog is the part of a SARIF log the tests read.
type sarifLog struct {
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name  string `json:"name"`
				Rules []struct {
					ID         string         `json:"id"`
					Properties map[string]any `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		AutomationDetails struct {
			ID string `json:"id"`
		} `json:"automationDetails"`
		VersionControlProvenance []struct {
			RepositoryURI string `json:"repositoryUri"`
			RevisionID    string `json:"revisionId"`
			Branch        string `json:"branch"`
		} `json:"versionControlProvenance"`
		Results []struct {
			RuleID        string `json:"ruleId"`
			Level         string `json:"level"`
			BaselineState string `json:"baselineState"`
			Message       struct {
				Text string `json:"text"`
			} `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
					Region struct {
						StartLine   int `json:"startLine"`
						StartColumn int `json:"startColumn"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
			Properties          map[string]any    `json:"properties"`
			Suppressions        []struct {
				Kind          string `json:"kind"`
				Status        string `json:"status"`
				Justification string `json:"justification"`
			} `json:"suppressions"`
		} `json:"results"`
		Invocations []struct {
			ExecutionSuccessful        bool `json:"executionSuccessful"`
			ToolExecutionNotifications []struct {
				Level   string `json:"level"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"toolExecutionNotifications"`
		} `json:"invocations"`
	} `json:"runs"`
}

// readSARIF reads a log the binary wrote, after validating it: every log a
// test reads is checked with the Multitool and the schema.
func readSARIF(t *testing.T, path string) (sarifLog, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, path, "Sarif;Gh;Ado")
	var log sarifLog
	if err := json.Unmarshal(raw, &log); err != nil {
		t.Fatalf("SARIF is not valid JSON: %v", err)
	}
	return log, raw
}

// where lists "engine rule uri:line" for every result.
func (l sarifLog) where() map[string]bool {
	out := map[string]bool{}
	for _, run := range l.Runs {
		for _, r := range run.Results {
			loc := r.Locations[0].PhysicalLocation
			out[fmt.Sprintf("%s %s %s:%d", run.Tool.Driver.Name, r.RuleID, loc.ArtifactLocation.URI, loc.Region.StartLine)] = true
		}
	}
	return out
}

func (l sarifLog) notifications() []string {
	var out []string
	for _, run := range l.Runs {
		for _, inv := range run.Invocations {
			for _, n := range inv.ToolExecutionNotifications {
				out = append(out, n.Level+": "+n.Message.Text)
			}
		}
	}
	return out
}

// validateSARIF runs the SARIF Multitool and the 2.1.0 schema on a log
// (sarifcheck.Check, the helper every test that writes a log uses).
// Each distinct log is validated once per set of rule kinds (the
// Multitool takes seconds to start).
func validateSARIF(t *testing.T, path, ruleKinds string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("%x %s", sha256.Sum256(raw), ruleKinds)
	if _, done := validated.LoadOrStore(key, true); done {
		return
	}
	sarifcheck.Check(t, path, ruleKinds)
}

var validated sync.Map

// schemaCheck validates a log against the SARIF 2.1.0 schema alone, in
// process: for tests that write many logs, where the Multitool (a process
// a log) checks a few of them.
func schemaCheck(t *testing.T, path string) {
	t.Helper()
	schema, err := compiledSchema()
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(mustRead(t, path)); err != nil {
		t.Errorf("%s: %v", filepath.Base(path), err)
	}
}

var compiledSchema = sync.OnceValues(func() (*sarifcheck.Schema, error) {
	tool, err := sarifcheck.Multitool(".")
	if err != nil {
		return nil, err
	}
	p, err := sarifcheck.SchemaPath(tool)
	if err != nil {
		return nil, err
	}
	return sarifcheck.CompileSchema(p)
})

func TestDemoScan(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	sarifPath := filepath.Join(out, "demo.sarif")
	r := tollgate(t, nil, "scan", "--sarif", sarifPath, demoDir(t))
	if r.code != 1 {
		t.Fatalf("exit code = %d, want 1 (findings at the default threshold)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	log, _ := readSARIF(t, sarifPath)
	if log.Version != "2.1.0" || len(log.Runs) != 2 {
		t.Fatalf("version %q with %d runs, want 2.1.0 with a run per engine", log.Version, len(log.Runs))
	}
	got := log.where()
	for _, want := range []string{
		"gitleaks github-pat app/settings.py:6",
		"gitleaks aws-access-token app/settings.py:9",
		"gitleaks slack-webhook-url app/deploy.sh:3",
		"trivy-config AWS-0107 terraform/main.tf:33",
		"trivy-config AZU-0011 terraform/main.tf:43",
		"trivy-config KSV-0017 k8s/deployment.yaml:17",
		"trivy-config DS-0002 docker/Dockerfile:4",
		"trivy-config AZU-0008 arm/azuredeploy.json:13",
	} {
		if !got[want] {
			t.Errorf("missing %q in the SARIF results", want)
		}
	}
	ids := map[string]bool{}
	for _, run := range log.Runs {
		if !run.Invocations[0].ExecutionSuccessful {
			t.Errorf("%s: executionSuccessful = false", run.Tool.Driver.Name)
		}
		if ids[run.AutomationDetails.ID] {
			t.Errorf("automationDetails.id %q is not distinct per run", run.AutomationDetails.ID)
		}
		ids[run.AutomationDetails.ID] = true
		for _, res := range run.Results {
			if res.PartialFingerprints["tollgate/v1"] == "" {
				t.Errorf("%s: no partial fingerprint", res.RuleID)
			}
			if res.Locations[0].PhysicalLocation.ArtifactLocation.URIBaseID != "SRCROOT" {
				t.Errorf("%s: location not relative to SRCROOT", res.RuleID)
			}
		}
		for _, rule := range run.Tool.Driver.Rules {
			if _, ok := rule.Properties["security-severity"]; !ok {
				t.Errorf("rule %s has no security-severity", rule.ID)
			}
		}
	}
	if !strings.Contains(r.stdout, "FAIL:") || !strings.Contains(r.stdout, "-> exit 1") {
		t.Errorf("table has no failing verdict line:\n%s", r.stdout)
	}
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	demo := demoDir(t)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want int
	}{
		{"fail-on none", nil, []string{"--fail-on", "none"}, 0},
		{"only critical, secrets never", nil, []string{"--fail-on", "critical,secrets=none"}, 1},
		{"every engine off", nil, []string{"--fail-on", "secrets=none,iac=none"}, 0},
		{"secrets only, at high", nil, []string{"--scanners", "secrets", "--fail-on", "high"}, 1},
		{"secrets raised above their severity", nil, []string{"--scanners", "secrets", "--fail-on", "critical"}, 0},
		{"env var", []string{"TOLLGATE_FAIL_ON=none"}, nil, 0},
		{"flag beats env var", []string{"TOLLGATE_FAIL_ON=none"}, []string{"--fail-on", "high"}, 1},
		{"unknown flag", nil, []string{"--no-such-flag"}, 2},
		{"bad severity", nil, []string{"--fail-on", "extreme"}, 2},
		{"bad engine in fail-on", nil, []string{"--fail-on", "sast=low"}, 2},
		{"bad format", nil, []string{"--format", "xml"}, 2},
		{"bad scanner", nil, []string{"--scanners", "secrets,dast"}, 2},
		{"bad env var", []string{"TOLLGATE_MAX_FILE_SIZE=huge"}, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"scan", "-q"}, tc.args...)
			r := tollgate(t, tc.env, append(args, demo)...)
			if r.code != tc.want {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
	if r := tollgate(t, nil, "scan", filepath.Join(t.TempDir(), "missing")); r.code != 2 {
		t.Errorf("missing path: exit %d, want 2", r.code)
	}
	if r := tollgate(t, nil, "frobnicate"); r.code != 2 {
		t.Errorf("unknown command: exit %d, want 2", r.code)
	}
	// The engines' versions are go.mod's (from the binary's build information).
	gomod, err := os.ReadFile("../../go.mod")
	must(t, err)
	modVersion := func(mod string) string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(mod) + ` v(\S+)`).FindSubmatch(gomod)
		if m == nil {
			t.Fatalf("go.mod does not require %s", mod)
		}
		return string(m[1])
	}
	want := []string{"gitleaks " + modVersion("github.com/zricethezav/gitleaks/v8") + " ", "trivy " + modVersion("github.com/aquasecurity/trivy") + "\n"}
	if r := tollgate(t, nil, "version"); r.code != 0 || !strings.Contains(r.stdout, want[0]) || !strings.Contains(r.stdout, want[1]) {
		t.Errorf("version: exit %d, output %q, want %q", r.code, r.stdout, want)
	}
	// A flag version does not know is refused, not ignored.
	if r := tollgate(t, nil, "version", "--json"); r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, `"--json"`) {
		t.Errorf("version --json: exit %d, stdout %q, stderr %q; want 2 naming the flag", r.code, r.stdout, r.stderr)
	}
	if r := tollgate(t, nil, "help"); r.code != 0 || !strings.Contains(r.stdout, "Exit codes:") {
		t.Errorf("help: exit %d, output %q", r.code, r.stdout)
	}
}

func TestConfigFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	copyDir(t, demoDir(t), root)
	write(t, filepath.Join(root, ".tollgate.yaml"), "# demo policy\nfail-on:\n  default: none\n  secrets: high\nscanners: [iac]\n")
	if r := tollgate(t, nil, "scan", "-q", root); r.code != 0 {
		t.Errorf(".tollgate.yaml (iac only, iac never fails): exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := tollgate(t, []string{"TOLLGATE_SCANNERS=secrets,iac"}, "scan", "-q", root); r.code != 1 {
		t.Errorf("env beats file: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	write(t, filepath.Join(root, ".tollgate.yaml"), "fail-on: none\nsecrets:\n  severty: low\n")
	r := tollgate(t, nil, "scan", "-q", root)
	if r.code != 2 || !strings.Contains(r.stderr, `line 3: unknown key "secrets.severty"`) {
		t.Errorf("unknown key: exit %d, stderr %q; want 2 naming the key and line", r.code, r.stderr)
	}
	other := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, other, "fail-on: critical\nscanners: secrets\n")
	if r := tollgate(t, nil, "scan", "-q", "--config", other, root); r.code != 0 {
		t.Errorf("--config: exit %d, want 0 (secrets are HIGH, threshold critical)\n%s", r.code, r.stderr)
	}
	if r := tollgate(t, nil, "scan", "-q", "--config", filepath.Join(root, "nope.yaml"), root); r.code != 2 {
		t.Errorf("missing --config file: exit %d, want 2", r.code)
	}
}

func TestNoSecretInAnyOutput(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	sarifPath := filepath.Join(out, "x.sarif")
	jsonPath := filepath.Join(out, "x.json")
	runs := []runResult{
		tollgate(t, nil, "scan", "--debug", "--sarif", sarifPath, demoDir(t)),
		tollgate(t, nil, "scan", "--format", "json", "--output", jsonPath, demoDir(t)),
		tollgate(t, nil, "scan", "--format", "sarif", demoDir(t)),
	}
	var all []string
	for _, r := range runs {
		if r.code != 1 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		all = append(all, r.stdout, r.stderr)
	}
	// The log --format sarif prints on stdout ('#' written as \u0023 there)
	// is valid SARIF too.
	stdoutLog := filepath.Join(out, "stdout.sarif")
	must(t, os.WriteFile(stdoutLog, []byte(runs[2].stdout), 0o644))
	validateSARIF(t, stdoutLog, "Sarif;Gh;Ado")
	for _, p := range []string{sarifPath, jsonPath} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, string(b))
	}
	if !strings.Contains(runs[0].stderr, "level=DEBUG") {
		t.Errorf("--debug wrote no debug log to stderr")
	}
	for i, text := range all {
		for _, s := range plantedSecrets {
			if strings.Contains(text, s) {
				t.Errorf("output %d contains the planted secret %q", i, s)
			}
		}
	}
}

func TestSymlinksStayInsideTheRoot(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root := filepath.Join(base, "repo")
	outside := filepath.Join(base, "outside")
	must(t, os.MkdirAll(filepath.Join(root, "app"), 0o755))
	must(t, os.MkdirAll(outside, 0o755))
	copyFile(t, filepath.Join(demoDir(t), "app/settings.py"), filepath.Join(root, "app/settings.py"))
	// A secret outside the root, reachable only through symlinks.
	write(t, filepath.Join(outside, "creds.txt"), "token = \"glpat-"+strings.Repeat("Zq7", 6)+"xY\"\n")
	must(t, os.Symlink(outside, filepath.Join(root, "link-dir")))
	must(t, os.Symlink(filepath.Join(outside, "creds.txt"), filepath.Join(root, "link-file")))
	must(t, os.Symlink("loop-b", filepath.Join(root, "loop-a")))
	must(t, os.Symlink("loop-a", filepath.Join(root, "loop-b")))
	must(t, os.Symlink(".", filepath.Join(root, "app", "self")))

	sarifPath := filepath.Join(base, "out.sarif")
	r := tollgate(t, nil, "scan", "--sarif", sarifPath, root)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	log, _ := readSARIF(t, sarifPath)
	for w := range log.where() {
		if strings.Contains(w, "link") || strings.Contains(w, "loop") || strings.Contains(w, "creds") {
			t.Errorf("a finding came through a symlink: %s", w)
		}
	}
	if !log.where()["gitleaks github-pat app/settings.py:6"] {
		t.Errorf("the finding inside the root is missing: %v", log.where())
	}
	notes := strings.Join(log.notifications(), "\n")
	for _, want := range []string{
		"symlink link-dir points outside the scan root",
		"symlink link-file points outside the scan root",
		"symlink loop-a cannot be resolved",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("no notification %q in:\n%s", want, notes)
		}
	}
}

func TestMalformedFilesAreReported(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, filepath.Join(root, "infra/broken.tf"), "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x\"\n  acl = \n")
	write(t, filepath.Join(root, "k8s/broken.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n")
	write(t, filepath.Join(root, "arm/broken.json"), "{\n  \"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\",\n  \"resources\": [\n}\n")
	copyFile(t, filepath.Join(demoDir(t), "k8s/deployment.yaml"), filepath.Join(root, "k8s/deployment.yaml"))
	copyFile(t, filepath.Join(demoDir(t), "terraform/main.tf"), filepath.Join(root, "infra/main.tf"))
	copyFile(t, filepath.Join(demoDir(t), "app/settings.py"), filepath.Join(root, "app/settings.py"))

	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	r := tollgate(t, nil, "scan", "--sarif", sarifPath, root)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	log, _ := readSARIF(t, sarifPath)
	notes := strings.Join(log.notifications(), "\n")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`infra/broken\.tf could not be parsed.*line 3: Invalid expression`),
		regexp.MustCompile(`k8s/broken\.yaml could not be parsed.*line 4: did not find expected`),
		regexp.MustCompile(`arm/broken\.json could not be parsed.*line 4`),
	} {
		if !want.MatchString(notes) {
			t.Errorf("no notification matching %s in:\n%s", want, notes)
		}
	}
	got := log.where()
	for _, want := range []string{
		"trivy-config KSV-0017 k8s/deployment.yaml:17",
		"trivy-config AWS-0107 infra/main.tf:33",
		"gitleaks github-pat app/settings.py:6",
	} {
		if !got[want] {
			t.Errorf("missing %q next to the malformed files", want)
		}
	}
	if !strings.Contains(r.stdout, "broken.tf could not be parsed") {
		t.Errorf("the console does not show the parse failure:\n%s", r.stdout)
	}
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
}

func TestSARIFIsDeterministic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.sarif"), filepath.Join(dir, "b.sarif")
	for _, p := range []string{a, b} {
		if r := tollgate(t, nil, "scan", "-q", "--sarif", p, demoDir(t)); r.code != 1 {
			t.Fatalf("exit %d, want 1 (the demo's findings)\n%s", r.code, r.stderr)
		}
	}
	times := regexp.MustCompile(`"(start|end)TimeUtc": "[^"]*"`)
	ra, err := os.ReadFile(a)
	must(t, err)
	rb, err := os.ReadFile(b)
	must(t, err)
	if log, _ := readSARIF(t, a); len(log.where()) < 20 {
		t.Fatalf("the log has %d results; the demo has more", len(log.where()))
	}
	if !bytes.Equal(times.ReplaceAll(ra, nil), times.ReplaceAll(rb, nil)) {
		t.Error("two scans of the same tree wrote different SARIF (apart from timestamps)")
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		copyFile(t, p, target)
		return nil
	})
	must(t, err)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	must(t, err)
	write(t, dst, string(b))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(content), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// imageFixtures writes the fixture DB into a cache directory and the crafted
// Alpine image as a docker-archive; it returns both paths.
func imageFixtures(t *testing.T) (cacheDir, archive string) {
	t.Helper()
	cacheDir = t.TempDir()
	if err := vulndbtest.Write(vulndb.Dir(cacheDir), vulndbtest.Default()); err != nil {
		t.Fatal(err)
	}
	img, err := imagetest.Alpine()
	if err != nil {
		t.Fatal(err)
	}
	archive = filepath.Join(t.TempDir(), "alpine.tar")
	if err := imagetest.WriteDockerArchive(archive, "tollgate-fixture/alpine:3.18", img); err != nil {
		t.Fatal(err)
	}
	return cacheDir, archive
}

func TestImageScan(t *testing.T) {
	t.Parallel()
	cache, archive := imageFixtures(t)
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	r := tollgate(t, nil, "scan", "--image", "docker-archive:"+archive, "--cache-dir", cache, "--offline",
		"--fail-on", "none,image=critical", "--sarif", sarifPath, demoDir(t))
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (a CRITICAL vulnerability)\n%s%s", r.code, r.stdout, r.stderr)
	}
	log, raw := readSARIF(t, sarifPath)
	// The DB is on disk, so the deps engine runs by default too.
	if len(log.Runs) != 4 || log.Runs[2].Tool.Driver.Name != "trivy-image" || log.Runs[3].Tool.Driver.Name != "trivy-deps" {
		t.Fatalf("want secrets, iac, image and deps runs, got %d runs", len(log.Runs))
	}
	got := log.where()
	for _, want := range []string{
		"trivy-image CVE-2099-0003 container-images/tollgate-fixture_alpine_3.18:1",
	} {
		if !got[want] {
			t.Errorf("missing %q in %v", want, got)
		}
	}
	for _, rule := range log.Runs[2].Tool.Driver.Rules {
		if rule.ID == vulndbtest.AlpineBusybox && rule.Properties["security-severity"] != "9.8" {
			t.Errorf("security-severity of %s = %v, want the CVSS score 9.8", rule.ID, rule.Properties["security-severity"])
		}
	}
	if !bytes.Contains(raw, []byte(`"installedVersion": "1.36.1-r2"`)) {
		t.Error("the SARIF does not carry the installed version")
	}
	if !strings.Contains(r.stdout, "busybox@1.36.1-r2") {
		t.Errorf("the table does not name the package:\n%s", r.stdout)
	}
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
}

func TestOfflineWithoutDBKeepsOtherResults(t *testing.T) {
	t.Parallel()
	_, archive := imageFixtures(t)
	sarifPath := filepath.Join(t.TempDir(), "out.sarif")
	r := tollgate(t, nil, "scan", "--image", "docker-archive:"+archive, "--cache-dir", t.TempDir(), "--offline",
		"--sarif", sarifPath, demoDir(t))
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	log, _ := readSARIF(t, sarifPath)
	got := log.where()
	if !got["gitleaks github-pat app/settings.py:6"] || !got["trivy-config KSV-0017 k8s/deployment.yaml:17"] {
		t.Errorf("secrets and IaC results missing: %v", got)
	}
	image := log.Runs[2]
	if image.Invocations[0].ExecutionSuccessful {
		t.Error("the image run reports success")
	}
	if n := strings.Join(log.notifications(), "\n"); !strings.Contains(n, "no vulnerability DB") || !strings.Contains(n, "--offline") {
		t.Errorf("the notification does not name the cause:\n%s", n)
	}
	if !strings.Contains(r.stdout, "ERROR: engine(s) failed: image") {
		t.Errorf("console verdict:\n%s", r.stdout)
	}
	validateSARIF(t, sarifPath, "Sarif;Gh;Ado")
}

func TestDBDownloadCommand(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	art, err := vulndbtest.WriteArtifact(src, vulndbtest.Default())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(stdlog.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tag, err := name.NewTag(host + "/aquasec/trivy-db:2")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, art); err != nil {
		t.Fatal(err)
	}
	// The Java DB, from the same registry.
	if err := vulndbtest.WriteJava(src, []vulndbtest.JavaIndex{{GroupID: "org.example", ArtifactID: "lib", Version: "1.0", SHA1: []byte{1, 2, 3}}}); err != nil {
		t.Fatal(err)
	}
	javaArt, err := vulndbtest.JavaArtifact(vulndb.JavaDir(src))
	if err != nil {
		t.Fatal(err)
	}
	javaTag, err := name.NewTag(host + "/aquasec/trivy-java-db:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(javaTag, javaArt); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	r := tollgate(t, nil, "db", "download", "--db-repository", tag.String(), "--java-db-repository", javaTag.String(), "--cache-dir", cache)
	if r.code != 0 || !strings.Contains(r.stdout, "vulnerability DB updated") || !strings.Contains(r.stdout, "Java DB updated") {
		t.Fatalf("db download: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := vulndb.ReadJavaMetadata(cache); err != nil {
		t.Errorf("the Java DB is not in the cache: %v", err)
	}
	// --skip-java-db downloads the vulnerability DB alone; a Java DB that
	// cannot be downloaded fails the command (exit 3).
	skipped := t.TempDir()
	if r := tollgate(t, nil, "db", "download", "--db-repository", tag.String(), "--skip-java-db", "--cache-dir", skipped); r.code != 0 {
		t.Errorf("--skip-java-db: exit %d\n%s", r.code, r.stderr)
	} else if _, err := vulndb.ReadJavaMetadata(skipped); !errors.Is(err, vulndb.ErrMissing) {
		t.Errorf("--skip-java-db downloaded the Java DB: %v", err)
	}
	if r := tollgate(t, nil, "db", "download", "--db-repository", tag.String(), "--java-db-repository", host+"/missing/java:1", "--cache-dir", t.TempDir()); r.code != 3 {
		t.Errorf("a failed Java DB download: exit %d, want 3", r.code)
	}
	r = tollgate(t, []string{"TOLLGATE_CACHE_DIR=" + cache}, "version")
	if !strings.Contains(r.stdout, "vulnerability DB: updated") {
		t.Errorf("version does not show the DB: %s", r.stdout)
	}
	if r := tollgate(t, nil, "db", "download", "--db-repository", host+"/missing/db:2", "--skip-java-db", "--cache-dir", t.TempDir()); r.code != 3 {
		t.Errorf("a failed download: exit %d, want 3", r.code)
	}
	// A registry that wants credentials gets the pipeline's for the
	// repositories named for each DB (the public defaults would get none).
	reg := registry.New(registry.Logger(stdlog.New(io.Discard, "", 0)))
	authed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer authed.Close()
	private := strings.TrimPrefix(authed.URL, "http://")
	for ref, img := range map[string]v1.Image{private + "/corp/trivy-db:2": art, private + "/corp/trivy-java-db:1": javaArt} {
		tag, err := name.NewTag(ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(tag, img, remote.WithAuth(&authn.Basic{Username: "ci", Password: "pw"})); err != nil {
			t.Fatal(err)
		}
	}
	r = tollgate(t, []string{"TOLLGATE_REGISTRY_PASSWORD=pw"}, "db", "download", "--registry-username", "ci",
		"--db-repository", private+"/corp/trivy-db:2", "--java-db-repository", private+"/corp/trivy-java-db:1", "--cache-dir", t.TempDir())
	if r.code != 0 {
		t.Errorf("db download from a registry that wants the pipeline's credentials: exit %d\n%s", r.code, r.stderr)
	}
}

// tailOf keeps the last 4,000 bytes of a long output for a failure message.
func tailOf(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
