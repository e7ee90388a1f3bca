// Package sarifcheck validates a SARIF log the way its consumers do: with
// Microsoft's SARIF Multitool (rule kinds Sarif, Gh, Ado, GHAzDO) and against
// the SARIF 2.1.0 JSON schema. Tests use it on every log Tollgate writes.
package sarifcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MultitoolEnv names the Multitool binary when it is not in .ci/tools.
const MultitoolEnv = "TOLLGATE_SARIF_MULTITOOL"

// multitoolRel is where .ci/run installs the Multitool (npm, linux build).
const multitoolRel = ".ci/tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"

// Multitool returns the path of the Sarif.Multitool binary: $TOLLGATE_SARIF_MULTITOOL,
// or .ci/tools under the module root found from dir upwards.
func Multitool(dir string) (string, error) {
	if p := os.Getenv(MultitoolEnv); p != "" {
		return p, nil
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, multitoolRel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil || filepath.Dir(d) == d {
			return "", fmt.Errorf("SARIF Multitool not found at %s: run `bash .ci/run` (it installs @microsoft/sarif-multitool) or set %s",
				filepath.Join(d, multitoolRel), MultitoolEnv)
		}
	}
}

// Issue is one rule violation the Multitool reported.
type Issue struct {
	Level   string
	RuleID  string
	Message string
}

func (i Issue) String() string { return fmt.Sprintf("%s %s: %s", i.Level, i.RuleID, i.Message) }

// RunMultitool validates logPath with the given rule kinds (e.g. "Sarif;Gh;Ado")
// and returns the errors and warnings it reports. The Multitool always exits
// 0, so its own output log is read.
func RunMultitool(ctx context.Context, tool, logPath, ruleKinds string) ([]Issue, error) {
	out, err := os.CreateTemp("", "multitool-*.sarif")
	if err != nil {
		return nil, err
	}
	outPath := out.Name()
	_ = out.Close()
	_ = os.Remove(outPath)
	defer os.Remove(outPath)

	cmd := exec.CommandContext(ctx, tool, "validate", "--rule-kind", ruleKinds, "--output", outPath, logPath)
	cmd.Env = append(os.Environ(), "DOTNET_CLI_TELEMETRY_OPTOUT=1", "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1")
	var console bytes.Buffer
	cmd.Stdout, cmd.Stderr = &console, &console
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("running %s: %w\n%s", tool, err, console.String())
	}
	raw, err := os.ReadFile(outPath)
	if err != nil {
		return nil, fmt.Errorf("the Multitool wrote no output log: %w\n%s", err, console.String())
	}
	return parseValidation(raw)
}

func parseValidation(raw []byte) ([]Issue, error) {
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID             string `json:"id"`
						MessageStrings map[string]struct {
							Text string `json:"text"`
						} `json:"messageStrings"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID  string `json:"ruleId"`
				Level   string `json:"level"`
				Message struct {
					ID        string   `json:"id"`
					Text      string   `json:"text"`
					Arguments []string `json:"arguments"`
				} `json:"message"`
			} `json:"results"`
			Invocations []struct {
				ExecutionSuccessful        bool `json:"executionSuccessful"`
				ToolExecutionNotifications []struct {
					Level   string `json:"level"`
					Message struct {
						Text string `json:"text"`
					} `json:"message"`
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(raw, &log); err != nil {
		return nil, fmt.Errorf("reading the Multitool's output: %w", err)
	}
	var issues []Issue
	for _, run := range log.Runs {
		formats := map[string]map[string]string{}
		for _, r := range run.Tool.Driver.Rules {
			formats[r.ID] = map[string]string{}
			for k, v := range r.MessageStrings {
				formats[r.ID][k] = v.Text
			}
		}
		for _, r := range run.Results {
			level := r.Level
			if level == "" {
				level = "warning"
			}
			if level != "error" && level != "warning" {
				continue
			}
			msg := r.Message.Text
			if msg == "" {
				msg = formats[r.RuleID][r.Message.ID]
				for i, a := range r.Message.Arguments {
					msg = strings.ReplaceAll(msg, fmt.Sprintf("{%d}", i), a)
				}
			}
			issues = append(issues, Issue{Level: level, RuleID: r.RuleID, Message: msg})
		}
		for _, inv := range run.Invocations {
			for _, n := range inv.ToolExecutionNotifications {
				if n.Level == "error" {
					issues = append(issues, Issue{Level: "error", RuleID: "multitool", Message: n.Message.Text})
				}
			}
		}
	}
	return issues, nil
}

// SchemaPath returns the SARIF 2.1.0 schema shipped with the Multitool.
func SchemaPath(tool string) (string, error) {
	p := filepath.Join(filepath.Dir(tool), "sarif-2.1.0.json")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("SARIF schema: %w", err)
	}
	return p, nil
}

// Schema is the SARIF 2.1.0 JSON schema, compiled once for many logs (a
// fuzz target validates every input's log).
type Schema struct{ s *jsonschema.Schema }

// CompileSchema compiles the schema file at schemaPath.
func CompileSchema(schemaPath string) (*Schema, error) {
	c := jsonschema.NewCompiler()
	schemaDoc, err := readJSON(schemaPath)
	if err != nil {
		return nil, err
	}
	// The schema's own $id is an https URL; register it under the file name so
	// that nothing is fetched.
	if err := c.AddResource(schemaPath, schemaDoc); err != nil {
		return nil, fmt.Errorf("SARIF schema: %w", err)
	}
	sch, err := c.Compile(schemaPath)
	if err != nil {
		return nil, fmt.Errorf("SARIF schema: %w", err)
	}
	return &Schema{sch}, nil
}

// Validate checks a log against the schema.
func (s *Schema) Validate(logJSON []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(logJSON))
	if err != nil {
		return fmt.Errorf("SARIF log is not JSON: %w", err)
	}
	if err := s.s.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("SARIF log violates the 2.1.0 schema: %v", ve)
		}
		return err
	}
	return nil
}

// ValidateSchema checks the log against the SARIF 2.1.0 JSON schema.
func ValidateSchema(schemaPath string, logJSON []byte) error {
	s, err := CompileSchema(schemaPath)
	if err != nil {
		return err
	}
	return s.Validate(logJSON)
}

func readJSON(path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

// Check validates a log file with the Multitool (ruleKinds, e.g.
// "Sarif;Gh;Ado") and the SARIF 2.1.0 schema and reports every problem on
// tb: the one helper every test that writes a log calls.
func Check(tb testing.TB, path, ruleKinds string) {
	tb.Helper()
	tool, err := Multitool(".")
	if err != nil {
		tb.Fatal(err)
	}
	issues, err := RunMultitool(context.Background(), tool, path, ruleKinds)
	if err != nil {
		tb.Fatal(err)
	}
	for _, i := range issues {
		tb.Errorf("%s: Multitool (%s): %s", filepath.Base(path), ruleKinds, i)
	}
	schema, err := SchemaPath(tool)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := ValidateSchema(schema, raw); err != nil {
		tb.Errorf("%s: %v", filepath.Base(path), err)
	}
}

// Result is where a result of a log is, as tests compare them.
type Result struct {
	Tool, RuleID, URI string
	Line              int
}

// String is "tool rule uri:line".
func (r Result) String() string { return fmt.Sprintf("%s %s %s:%d", r.Tool, r.RuleID, r.URI, r.Line) }

// Results reads every result of a log file: its tool, rule, first
// location's URI and start line.
func Results(path string) ([]Result, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Name string `json:"name"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(raw, &log); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Result
	for _, run := range log.Runs {
		for _, r := range run.Results {
			res := Result{Tool: run.Tool.Driver.Name, RuleID: r.RuleID}
			if len(r.Locations) > 0 {
				l := r.Locations[0].PhysicalLocation
				res.URI, res.Line = l.ArtifactLocation.URI, l.Region.StartLine
			}
			out = append(out, res)
		}
	}
	return out, nil
}
