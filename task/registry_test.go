package task

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/report"
	"github.com/tollgate/tollgate/report/sarifcheck"
	"github.com/tollgate/tollgate/scan"
	"github.com/tollgate/tollgate/scanners"
)

// licenses is a throwaway fourth engine: it reports every file named
// LICENSE.<name> for the license names its options deny. It exists only in
// this test.
type licenses struct{ deny []string }

// licensesOptions are its options, with one setting: --licenses-deny,
// TOLLGATE_LICENSES_DENY, the key licenses.deny and the task input
// licensesDeny.
type licensesOptions struct{ deny []string }

func (o *licensesOptions) Bind() []scanners.Setting {
	return []scanners.Setting{{Flag: "licenses-deny", Arg: "NAME", Key: "licenses.deny", Repo: true, TaskInput: "licensesDeny", TaskLines: true,
		Usage: "license names to report (repeatable)",
		Set:   func(v string) error { o.deny = append(o.deny, scanners.SplitList(v)...); return nil }}}
}

func (licenses) Name() string { return "licenses" }
func (licenses) Tool() scanners.Tool {
	return scanners.Tool{Name: "licensee", FullName: "Licensee", Version: "9.9.9", InformationURI: "https://example.com/licensee"}
}

func (l licenses) Scan(_ context.Context, t *scanners.Target) (res scanners.Result, err error) {
	res = scanners.Result{Engine: l.Name(), Tool: l.Tool(),
		Rules: []scanners.Rule{{ID: "LIC-1", Name: "ProprietaryLicense", Title: "A proprietary license", Severity: scanners.SeverityMedium}}}
	for _, f := range t.Files {
		if name, ok := strings.CutPrefix(filepath.Base(f.Path), "LICENSE."); ok && slices.Contains(l.deny, name) {
			res.Findings = append(res.Findings, scanners.Finding{Engine: l.Name(), RuleID: "LIC-1", Title: "A proprietary license",
				Severity: scanners.SeverityMedium, Message: "a proprietary license", Location: scanners.Location{Path: f.Path, StartLine: 1},
				Fingerprint: scanners.Fingerprint(l.Name(), "LIC-1", f.Path), Identity: f.Path})
		}
	}
	res.Status.Finish()
	return res, nil
}

// TestAFakeEngineThroughTheRegistryAlone adds an engine with one registry
// entry and nothing else, and finds it everywhere an engine shows: the
// --scanners names (and their aliases), the per-engine thresholds, the
// task's inputs and outputs, the SARIF log and the console table.
func TestAFakeEngineThroughTheRegistryAlone(t *testing.T) {
	reg := append(scan.Builtin(), scan.Engine{
		EngineInfo: scanners.EngineInfo{Name: "licenses", Aliases: []string{"license"}, TaskInput: "failOnLicenses",
			Options: func() scanners.EngineOptions { return &licensesOptions{} }},
		DefaultOn: func(config.Options) bool { return false },
		New: func(_ context.Context, o config.Options, _ *slog.Logger, _ *scanners.ResultCache) scanners.Engine {
			return licenses{deny: o.EngineOptions["licenses"].(*licensesOptions).deny}
		},
		Explain: func(id string, _ func(string) string) (scanners.Rule, bool, error) {
			return scanners.Rule{ID: "LIC-1"}, id == "LIC-1", nil
		},
		Version: func() string { return "licensee 9.9.9" },
	})

	// --scanners: unknown names are refused naming the fourth engine.
	root := t.TempDir()
	for name, content := range map[string]string{
		"LICENSE.proprietary": "All rights reserved.\n",
		"LICENSE.gpl":         "GNU GENERAL PUBLIC LICENSE\n",
		"LICENSE.mit":         "MIT License\n",
		// The engine's options from the checkout's own file.
		config.DefaultFile: "licenses:\n  deny: [proprietary]\n",
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Its setting is a flag, an environment variable and a key in help.
	var help strings.Builder
	config.Usage(&help, reg.Infos())
	if !strings.Contains(help.String(), "--licenses-deny NAME") || !strings.Contains(help.String(), "TOLLGATE_LICENSES_DENY; key licenses.deny") {
		t.Errorf("help lacks the engine's setting:\n%s", help.String())
	}
	_, err := config.Parse(t.Context(), reg.Infos(), []string{"--scanners", "sast", root}, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "want secrets, iac, image, deps, licenses") {
		t.Errorf("--scanners sast: %v", err)
	}
	if lines := reg.VersionLines(); lines[len(lines)-1] != "licensee 9.9.9" {
		t.Errorf("version lines: %q", lines)
	}
	if engine, _, ok, _ := reg.Explain("LIC-1", func(string) string { return "" }); !ok || engine != "licenses" {
		t.Errorf("explain LIC-1: %q %v", engine, ok)
	}

	staging := t.TempDir()
	env := map[string]string{
		"INPUT_PATH":                     root,
		"INPUT_SCANNERS":                 "secrets,license", // the alias
		"INPUT_FAILON":                   "critical",
		"INPUT_FAILONLICENSES":           "medium", // the engine's own threshold input
		"INPUT_LICENSESDENY":             "gpl",    // and its own setting's input
		"INPUT_OFFLINE":                  "true",
		"INPUT_RESULTCACHE":              "false",
		"BUILD_ARTIFACTSTAGINGDIRECTORY": staging,
		"AGENT_TEMPDIRECTORY":            t.TempDir(),
	}
	getenv := func(k string) string { return env[k] }
	args, err := Args(reg.Infos(), getenv)
	if err != nil || !strings.Contains(strings.Join(args, " "), "--fail-on licenses=medium") || !strings.Contains(strings.Join(args, " "), "--licenses-deny gpl") {
		t.Errorf("task inputs: %q %v", args, err)
	}
	// A flag beats the file: without the input, the checkout's file says
	// what the engine denies.
	delete(env, "INPUT_LICENSESDENY")
	var stdout bytes.Buffer
	code := Run(t.Context(), slog.New(slog.DiscardHandler), reg, &stdout, getenv, "test")
	out := stdout.String()
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the licenses threshold fails the gate); output:\n%s", code, out)
	}
	for _, want := range []string{
		"LIC-1",                           // the table
		"LICENSE.proprietary",             // its location
		"critical,licenses=medium",        // the thresholds, in registry order
		"variable=licensesFindings]1",     // an output variable per engine
		"##vso[task.logissue code=LIC-1;", // the failing finding as an issue
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// The SARIF log has a run of the fourth engine, under its own driver.
	logs, _ := filepath.Glob(filepath.Join(staging, DefaultArtifact, "*.sarif"))
	if len(logs) != 1 {
		t.Fatalf("SARIF logs: %q", logs)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	log, err := report.ReadSARIF(b) // the reader merge and baselines use
	if err != nil {
		t.Fatal(err)
	}
	sarifcheck.Check(t, logs[0], "Sarif;Gh;Ado") // the fourth engine's run included
	var engines []string
	for _, r := range log.Runs {
		res := r.Result
		engines = append(engines, res.Engine)
		if res.Engine == "licenses" {
			// Denied by the checkout's file (proprietary), not gpl or mit.
			var paths []string
			for _, f := range res.Findings {
				paths = append(paths, f.Location.Path)
			}
			slices.Sort(paths)
			if res.Tool.Name != "licensee" || len(res.Rules) != 1 || strings.Join(paths, ",") != "LICENSE.proprietary" {
				t.Errorf("licenses run: %+v", res)
			}
		}
	}
	if strings.Join(engines, ",") != "secrets,licenses" {
		t.Errorf("runs of %q, want secrets,licenses", engines)
	}
}

// TestTaskJSONHasEveryEngineInput: each engine's threshold input is an
// input of task.json, in the policy group, and so is every setting's task
// input (Tollgate's and the engines').
func TestTaskJSONHasEveryEngineInput(t *testing.T) {
	b, err := os.ReadFile("../task.json")
	if err != nil {
		t.Fatal(err)
	}
	var task struct {
		Inputs []struct {
			Name  string `json:"name"`
			Group string `json:"groupName"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(b, &task); err != nil {
		t.Fatal(err)
	}
	for _, e := range scan.Builtin() {
		found := false
		for _, in := range task.Inputs {
			if in.Name == e.TaskInput {
				found = true
				if in.Group != "policy" {
					t.Errorf("input %s is in group %q, want policy", in.Name, in.Group)
				}
			}
		}
		if !found {
			t.Errorf("task.json has no input %s for the %s engine", e.TaskInput, e.Name)
		}
	}
	for _, st := range config.Settings(scan.Builtin().Infos()) {
		if st.TaskInput != "" && !slices.ContainsFunc(task.Inputs, func(in struct {
			Name  string `json:"name"`
			Group string `json:"groupName"`
		}) bool {
			return in.Name == st.TaskInput
		}) {
			t.Errorf("task.json has no input %s for --%s", st.TaskInput, st.Flag)
		}
	}
}
