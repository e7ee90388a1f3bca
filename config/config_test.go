package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/fifo"
	"github.com/tollgate/tollgate/scanners"
	"github.com/tollgate/tollgate/scanners/deps"
	"github.com/tollgate/tollgate/scanners/iac"
	"github.com/tollgate/tollgate/scanners/images"
	"github.com/tollgate/tollgate/scanners/secrets"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPrecedence(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, DefaultFile), `
scanners: secrets
sarif: out/file.sarif
fail-on: {default: low, secrets: critical}
exclude: ["vendor/**", "dist/**"]
max-file-size: 1MiB
secrets:
  severity: medium
  rule-severity: {generic-*: low}
iac:
  file-types: [terraform, kubernetes]
`)
	o, err := Parse(t.Context(), testEngines, []string{root}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.ConfigFile != filepath.Join(root, DefaultFile) {
		t.Errorf("config file = %q", o.ConfigFile)
	}
	if !slices.Equal(o.Engines, []string{"secrets"}) {
		t.Errorf("file values not applied: scanners %v", o.Engines)
	}
	// The checkout's own file may not say where reports are written.
	if o.SARIF != "" || len(o.Warnings) != 1 || o.Warnings[0].Line != 3 || !strings.Contains(o.Warnings[0].Message, "sarif is a pipeline setting") {
		t.Errorf("sarif from the checkout: %q, warnings %+v", o.SARIF, o.Warnings)
	}
	if o.Gate.Thresholds.String() != "low,secrets=critical" || o.MaxFileSize != 1<<20 {
		t.Errorf("thresholds %s size %d", o.Gate.Thresholds, o.MaxFileSize)
	}
	if secretsOf(o).Severity != scanners.SeverityMedium || secretsOf(o).RuleSeverity["generic-*"] != scanners.SeverityLow {
		t.Errorf("secrets options %+v", secretsOf(o))
	}
	if !slices.Equal(iacOf(o).FileTypes, []string{"terraform", "kubernetes"}) || len(o.Exclude) != 2 {
		t.Errorf("iac %v exclude %v", iacOf(o).FileTypes, o.Exclude)
	}

	// The environment beats the file, a flag beats both.
	o, err = Parse(t.Context(), testEngines, []string{"--sarif", "flag.sarif", root}, env(map[string]string{
		"TOLLGATE_SARIF": "env.sarif", "TOLLGATE_SCANNERS": "iac,secrets", "TOLLGATE_QUIET": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if o.SARIF != "flag.sarif" || !slices.Equal(o.Engines, []string{"iac", "secrets"}) || !o.Quiet {
		t.Errorf("precedence wrong: sarif %q scanners %v quiet %v", o.SARIF, o.Engines, o.Quiet)
	}
	o, err = Parse(t.Context(), testEngines, []string{"--fail-on", "high", "--fail-on", "iac=none", root}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.Gate.Thresholds.String() != "high,iac=none" {
		t.Errorf("repeated --fail-on: %s", o.Gate.Thresholds)
	}
}

func TestFileErrorsNameKeyAndLine(t *testing.T) {
	for content, want := range map[string]string{
		"scanners: [secrets]\nfail_on: high\n":           `line 2: unknown key "fail_on"`,
		"iac:\n  file-types: [terraform]\n  tfvars: x\n": `line 3: unknown key "iac.tfvars"`,
		"secrets: yes\n":                           "line 1: secrets must be a mapping",
		"fail-on: extreme\n":                       "line 1: fail-on: unknown severity",
		"max-file-size: lots\n":                    "line 1: max-file-size: invalid size",
		"scanners: [secrets, [iac]]\n":             "line 1: scanners: list items must be plain values",
		"secrets:\n  rule-severity: {x: severe}\n": "line 2: secrets.rule-severity.x",
		"- a\n- b\n":                               "line 1: the file must be a mapping",
		"key: [unclosed\n":                         "did not find expected",
	} {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, DefaultFile), content)
		_, err := Parse(t.Context(), testEngines, []string{root}, env(nil))
		var ue *UsageError
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", content, err, want)
		} else if !errors.As(err, &ue) {
			t.Errorf("%q: %T is not a usage error", content, err)
		}
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, DefaultFile), "")
	if _, err := Parse(t.Context(), testEngines, []string{root}, env(nil)); err != nil {
		t.Errorf("an empty file must be valid: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"--nope", root},
		{root, root},
		{filepath.Join(root, "missing")},
		{"--format", "pdf", root},
		{"--exclude", "[", root},
		{"--timeout", "soon", root},
		{"--iac-file-types", "pulumi", root},
		{"--config", filepath.Join(root, "none.yaml"), root},
	} {
		_, err := Parse(t.Context(), testEngines, args, env(nil))
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("Parse(%q): %v, want a usage error (exit 2)", args, err)
		}
	}
}

func TestMatcher(t *testing.T) {
	m := Matcher([]string{"vendor/**", "**/*.min.js"}, []string{"docs"})
	for p, dir := range map[string]bool{"vendor": true, "vendor/a/b.go": false, "web/app.min.js": false, "docs": true} {
		if !m(p, dir) {
			t.Errorf("%q (dir %v) not excluded", p, dir)
		}
	}
	for _, p := range []string{"src/vendor.go", "web/app.js", "docs2/readme.md"} {
		if m(p, false) {
			t.Errorf("%q excluded", p)
		}
	}
	if Matcher() != nil {
		t.Error("no globs must mean no matcher")
	}
}

// The checkout's .tollgate.yaml is repository policy: every key that reaches
// the network, the machine, the report files or loads code is ignored with
// a warning naming the key and its line; paths must stay in the checkout.
// The same file given with --config is the pipeline author's and applies.
func TestCheckoutConfigIsRepositoryPolicyOnly(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "values.yaml"), "secret: x\n")
	content := `fail-on: medium
cache-dir: /tmp/evil
output: /etc/cron.d/x
iac:
  download-modules: true
  checks: [checks]
  namespaces: [user]
  helm-values: [../` + filepath.Base(outside) + `/values.yaml, charts/values-prod.yaml]
  tf-vars: [/etc/passwd]
image:
  db-repositories: [127.0.0.1:5000/trivy-db]
  docker-host: tcp://127.0.0.1:2375
  insecure-registry: true
  registry-username: admin
  images: [ghcr.io/acme/api:1, docker-archive:../x.tar]
secrets:
  config: ../../home/user/.gitleaks.toml
`
	writeFile(t, filepath.Join(root, DefaultFile), content)
	o, err := Parse(t.Context(), testEngines, []string{root}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.Gate.Thresholds.String() != "medium" {
		t.Errorf("repository policy not applied: %s", o.Gate.Thresholds)
	}
	if o.CacheDir == "/tmp/evil" || o.Output != "" || iacOf(o).DownloadModules || len(iacOf(o).CheckPaths) > 0 || len(iacOf(o).Namespaces) > 0 ||
		len(imageOf(o).DBRepositories) > 0 || imageOf(o).DockerHost != "" || imageOf(o).Insecure || imageOf(o).Username != "" || secretsOf(o).ConfigPath != "" || secretsOf(o).RepoConfig != "" {
		t.Errorf("a machine setting from the checkout applied: %+v", o)
	}
	if len(iacOf(o).TFVars) != 0 || !slices.Equal(iacOf(o).HelmValueFiles, []string{filepath.Join(root, "charts/values-prod.yaml")}) {
		t.Errorf("paths: tf-vars %v helm-values %v", iacOf(o).TFVars, iacOf(o).HelmValueFiles)
	}
	if len(imageOf(o).Images) != 0 || !slices.Equal(imageOf(o).RepoImages, []string{"ghcr.io/acme/api:1"}) {
		t.Errorf("images %v, repository images %v", imageOf(o).Images, imageOf(o).RepoImages)
	}
	lines := map[int]string{}
	for _, w := range o.Warnings {
		if w.Level != scanners.LevelWarning || w.Path != DefaultFile {
			t.Errorf("warning %+v", w)
		}
		lines[w.Line] += w.Message + "\n"
	}
	for line, key := range map[int]string{2: "cache-dir", 3: "output", 5: "iac.download-modules", 6: "iac.checks", 7: "iac.namespaces",
		8: "iac.helm-values", 9: "iac.tf-vars", 11: "image.db-repositories", 12: "image.docker-host", 13: "image.insecure-registry",
		14: "image.registry-username", 15: "image.images", 17: "secrets.config"} {
		if !strings.Contains(lines[line], key) || !strings.Contains(lines[line], fmt.Sprintf("line %d", line)) {
			t.Errorf("line %d (%s) not warned: %q", line, key, lines[line])
		}
	}

	// The pipeline author's file: everything applies (the files it names
	// must exist: a missing one is a usage error).
	if err := os.MkdirAll(filepath.Join(root, "checks"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "charts/values-prod.yaml"), "x: 1\n")
	writeFile(t, filepath.Join(root, "pipeline.yaml"), strings.Replace(content, "../../home/user/.gitleaks.toml", ".gitleaks.toml", 1))
	writeFile(t, filepath.Join(root, ".gitleaks.toml"), "")
	o, err = Parse(t.Context(), testEngines, []string{"--config", filepath.Join(root, "pipeline.yaml"), root}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.CacheDir != "/tmp/evil" || !iacOf(o).DownloadModules || len(o.Warnings) != 0 {
		t.Errorf("--config file not trusted: cache %q download %v warnings %+v", o.CacheDir, iacOf(o).DownloadModules, o.Warnings)
	}
}

// A .tollgate.yaml that is a FIFO, a device or a link out of the checkout is
// never read: a warning, the defaults apply, and parsing returns at once.
func TestCheckoutConfigSpecialFiles(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "lenient.yaml"), "fail-on: none\n")
	for name, create := range map[string]func(p string) error{
		"fifo":            func(p string) error { return fifo.Make(p) },
		"link to outside": func(p string) error { return os.Symlink(filepath.Join(outside, "lenient.yaml"), p) },
		"link to device":  func(p string) error { return os.Symlink("/dev/zero", p) },
	} {
		root := t.TempDir()
		if err := create(filepath.Join(root, DefaultFile)); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		var o Options
		var err error
		go func() {
			o, err = Parse(t.Context(), testEngines, []string{root}, env(nil))
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Parse hangs", name)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if o.Gate.Thresholds.String() != "high" || len(o.Warnings) != 1 || o.Warnings[0].Code != "config-refused" {
			t.Errorf("%s: thresholds %s, warnings %+v", name, o.Gate.Thresholds, o.Warnings)
		}
	}
	// Named by the pipeline author, a FIFO is a usage error naming the file.
	pipe := filepath.Join(t.TempDir(), "cfg.yaml")
	if err := fifo.Make(pipe); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(t.Context(), testEngines, []string{"--config", pipe, t.TempDir()}, env(nil))
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), pipe) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("--config FIFO: %v", err)
	}
}

// An image the user names is scanned or the run says why: with --scanners
// on the command line leaving the image engine out, a usage error naming
// both; with one of them from the file, a warning.
func TestRequestedImagesAreScannedOrExplained(t *testing.T) {
	root := t.TempDir()
	_, err := Parse(t.Context(), testEngines, []string{"--scanners", "secrets,iac", "--image", "docker-archive:app.tar", root}, env(nil))
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--image names image(s) to scan (docker-archive:app.tar)") || !strings.Contains(err.Error(), "--scanners secrets,iac") {
		t.Errorf("flags in conflict: %v", err)
	}
	if _, err := Parse(t.Context(), testEngines, []string{"--image", "docker-archive:app.tar", root}, env(map[string]string{"TOLLGATE_SCANNERS": "secrets"})); !errors.As(err, &ue) || !strings.Contains(err.Error(), "TOLLGATE_SCANNERS") {
		t.Errorf("environment in conflict: %v", err)
	}
	writeFile(t, filepath.Join(root, DefaultFile), "scanners: [secrets, iac]\nimage:\n  images: [ghcr.io/acme/api:1]\n")
	o, err := Parse(t.Context(), testEngines, []string{root}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Warnings) != 1 || !strings.Contains(o.Warnings[0].Message, "1 image(s) named by image.images in .tollgate.yaml are not scanned: scanners in .tollgate.yaml (secrets,iac)") {
		t.Errorf("file in conflict: %+v", o.Warnings)
	}
	writeFile(t, filepath.Join(root, DefaultFile), "scanners: [secrets, iac, image]\nimage:\n  images: [ghcr.io/acme/api:1]\n")
	if o, err = Parse(t.Context(), testEngines, []string{root}, env(nil)); err != nil || len(o.Warnings) != 0 || !slices.Contains(o.Engines, "image") {
		t.Errorf("no conflict: %v %+v", err, o.Warnings)
	}
}

// A flag's name written as a key, or a key's last part, is pointed at the key.
func TestUnknownKeySuggestsTheKey(t *testing.T) {
	for content, want := range map[string]string{
		"secrets-archive-depth: 2\n":        `unknown key "secrets-archive-depth" (did you mean secrets.max-archive-depth?)`,
		"download-tf-modules: true\n":       `(did you mean iac.download-modules?)`,
		"db-repository: x\n":                `(did you mean image.db-repositories?)`,
		"sarif-category: c\n":               `(did you mean category?)`,
		"secrets:\n  max-archive-dept: 1\n": `(did you mean secrets.max-archive-depth?)`,
		"iac:\n  tfvars: [a]\n":             `(did you mean iac.tf-vars?)`,
	} {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, DefaultFile), content)
		_, err := Parse(t.Context(), testEngines, []string{root}, env(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
}

func TestNewOnlyNeedsABaseline(t *testing.T) {
	root := t.TempDir()
	_, err := Parse(t.Context(), testEngines, []string{"--new-only", root}, env(nil))
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "give --baseline FILE") {
		t.Errorf("--new-only alone: %v", err)
	}
	// Set in the configuration file, the error names the key the user wrote.
	writeFile(t, filepath.Join(root, DefaultFile), "fail-on-new-only: true\n")
	_, err = Parse(t.Context(), testEngines, []string{root}, env(nil))
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "fail-on-new-only in "+DefaultFile) {
		t.Errorf("fail-on-new-only in the file: %v", err)
	}
	_, err = Parse(t.Context(), testEngines, []string{root}, env(map[string]string{"TOLLGATE_NEW_ONLY": "true"}))
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "TOLLGATE_NEW_ONLY counts") {
		t.Errorf("TOLLGATE_NEW_ONLY: %v", err)
	}
	writeFile(t, filepath.Join(root, DefaultFile), "")
	writeFile(t, filepath.Join(root, "base.sarif"), "{}")
	if _, err := Parse(t.Context(), testEngines, []string{"--new-only", "--baseline", filepath.Join(root, "base.sarif"), root}, env(nil)); err != nil {
		t.Errorf("--new-only with a baseline: %v", err)
	}
}

// Help names every value by what it is (FILE, SEVERITY), never by pflag's
// type, says each boolean's default once, and names the env var and key.
func TestUsageText(t *testing.T) {
	var b strings.Builder
	Usage(&b, testEngines)
	help := b.String()
	for _, line := range strings.Split(strings.TrimSpace(help), "\n") {
		if strings.Contains(line, "stringArray") || strings.Contains(line, "string ") {
			t.Errorf("a flag shows its Go type: %q", line)
		}
		if strings.Count(line, "(default true)") > 1 {
			t.Errorf("a default twice: %q", line)
		}
	}
	// Each value flag names its argument (a backquoted word in a usage
	// text becomes the argument's name: `tollgate merge` once did).
	var more strings.Builder
	MergeUsage(&more)
	DBUsage(&more)
	for _, want := range []string{"--shard K/N ", "--path DIR ", "--registry-username USER "} {
		if !strings.Contains(help+more.String(), want) {
			t.Errorf("help lacks %q:\n%s%s", want, help, more.String())
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(more.String()), "\n") {
		if strings.Contains(line, "string ") {
			t.Errorf("a flag shows its Go type: %q", line)
		}
	}
	for _, s := range Settings(testEngines) {
		if s.Flag == "" {
			continue // a .tollgate.yaml key only
		}
		if !strings.Contains(help, "--"+s.Flag) || !strings.Contains(help, s.Env()) || !strings.Contains(help, "key "+s.FileKey()) {
			t.Errorf("help lacks --%s, %s or its key %s", s.Flag, s.Env(), s.FileKey())
		}
	}
}

// testEngines are the built-in engines as config sees them (scan.Builtin's
// infos; scan imports config, so the test cannot ask it; the scan package's
// TestParseKnowsTheRegistry checks the aliases against the real registry).
var testEngines = scanners.Registry{
	{Name: scanners.EngineSecrets, Aliases: []string{"secret"}, TaskInput: "failOnSecrets",
		Options: func() scanners.EngineOptions { return secrets.DefaultOptions() }},
	{Name: scanners.EngineIaC, Aliases: []string{"config", "misconfig", "misconfiguration"}, TaskInput: "failOnIac",
		Options: func() scanners.EngineOptions { return iac.DefaultOptions() }},
	{Name: scanners.EngineImage, Aliases: []string{"images", "vuln", "vulnerabilities"}, TaskInput: "failOnImage",
		Options: func() scanners.EngineOptions { return images.DefaultOptions() }},
	{Name: scanners.EngineDeps, Aliases: []string{"dependencies", "dependency", "sca"}, TaskInput: "failOnDeps",
		Options: func() scanners.EngineOptions { return deps.DefaultOptions() }},
}

func secretsOf(o Options) *secrets.Options {
	return o.EngineOptions[scanners.EngineSecrets].(*secrets.Options)
}
func iacOf(o Options) *iac.Options { return o.EngineOptions[scanners.EngineIaC].(*iac.Options) }
func imageOf(o Options) *images.Options {
	return o.EngineOptions[scanners.EngineImage].(*images.Options)
}

// Every dotted key's section is a section of the file, derived from the
// settings: pr.comments is written as pr: {comments: ...} like secrets.mode
// (before the sections came from the settings, "pr" was an unknown key),
// and an engine's own section comes with its options.
func TestSectionsComeFromTheSettings(t *testing.T) {
	root := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "pipeline.yaml")
	writeFile(t, cfg, "pr:\n  comments: true\n  max-comments: 3\nsecrets:\n  mode: history\n")
	o, err := Parse(t.Context(), testEngines, []string{"--config", cfg, root}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !o.PR.Comments || o.PR.MaxComments != 3 || secretsOf(o).Mode != "history" {
		t.Errorf("pr %+v, secrets mode %q", o.PR, secretsOf(o).Mode)
	}
	// Without the secrets engine in the registry, its section is unknown.
	_, err = Parse(t.Context(), testEngines[1:], []string{"--config", cfg, root}, env(nil))
	if err == nil || !strings.Contains(err.Error(), `line 4: unknown key "secrets"`) {
		t.Errorf("a section of no engine: %v", err)
	}
}

// The checkout's file's warnings come in the file's line order, not in the
// order of the keys' names.
func TestWarningsInLineOrder(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, DefaultFile), "sarif: out.sarif\ncache-dir: /tmp/x\n")
	o, err := Parse(t.Context(), testEngines, []string{root}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, w := range o.Warnings {
		if w.Code == "config-key-ignored" {
			lines = append(lines, w.Line)
		}
	}
	if !slices.Equal(lines, []int{1, 2}) {
		t.Errorf("warning lines %v, want [1 2]: %+v", lines, o.Warnings)
	}
}

// TestDefaultTimeout: a scan without --timeout stops after DefaultTimeout,
// as the task's input does; 0 still means no limit.
func TestDefaultTimeout(t *testing.T) {
	root := t.TempDir()
	o, err := Parse(t.Context(), testEngines, []string{root}, env(nil))
	if err != nil || o.Timeout != DefaultTimeout || DefaultTimeout != 30*time.Minute {
		t.Fatalf("no --timeout: %v, %v; want %v", o.Timeout, err, DefaultTimeout)
	}
	if o, err = Parse(t.Context(), testEngines, []string{"--timeout", "0", root}, env(nil)); err != nil || o.Timeout != 0 {
		t.Errorf("--timeout 0: %v, %v; want no limit", o.Timeout, err)
	}
}
