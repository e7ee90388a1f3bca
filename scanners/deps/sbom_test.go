package deps_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tollgate/tollgate/scanners/deps"
)

// cycloneDXSchema compiles the CycloneDX 1.6 JSON schema that the
// cyclonedx-go module ships (with the SPDX and JSF schemas it refers to).
func cycloneDXSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CycloneDX/cyclonedx-go").Output()
	if err != nil {
		t.Fatalf("go list cyclonedx-go: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "schema")
	c := jsonschema.NewCompiler()
	// The module ships the JSF schema as jsf-0.82.schemax.json.
	for name, file := range map[string]string{"bom-1.6.schema.json": "bom-1.6.schema.json", "spdx.schema.json": "spdx.schema.json", "jsf-0.82.schema.json": "jsf-0.82.schemax.json"} {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource("http://cyclonedx.org/schema/"+name, doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSBOMValidatesAndListsThePackages: --sbom writes CycloneDX 1.6 that
// validates against the schema and lists every package the lockfiles pin.
func TestSBOMValidatesAndListsThePackages(t *testing.T) {
	dir := t.TempDir()
	scan(t, deps.Options{SBOMDir: dir}, "../../testdata/deps")
	b, err := os.ReadFile(filepath.Join(dir, "dependencies.cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	schema := cycloneDXSchema(t)
	if err := schema.Validate(doc); err != nil {
		t.Fatalf("the SBOM does not validate against CycloneDX 1.6: %v", err)
	}
	// The schema does refuse: a component of an unknown type.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"gadget","name":"x"}]}`))
	if schema.Validate(bad) == nil {
		t.Fatal("the schema accepts a component of type gadget")
	}
	var bom struct {
		SpecVersion string `json:"specVersion"`
		Components  []struct {
			PURL string `json:"purl"`
		} `json:"components"`
		Vulnerabilities []struct {
			ID string `json:"id"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Fatal(err)
	}
	var purls []string
	for _, c := range bom.Components {
		if c.PURL != "" {
			purls = append(purls, c.PURL)
		}
	}
	for _, want := range []string{"pkg:npm/lodash@4.17.20", "pkg:npm/minimist@1.2.5", "pkg:pypi/requests@2.19.0", "pkg:golang/golang.org/x/text@v0.3.7",
		"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "pkg:nuget/Newtonsoft.Json@12.0.1", "pkg:cargo/smallvec@1.6.0", "pkg:gem/rack@2.2.3",
		"pkg:npm/express@4.19.2", "pkg:gem/rake@13.2.1"} {
		if !slices.Contains(purls, want) {
			t.Errorf("the SBOM lacks %s: %v", want, purls)
		}
	}
	if bom.SpecVersion != "1.6" || len(bom.Vulnerabilities) != len(planted) {
		t.Errorf("spec %s, %d vulnerabilities; want 1.6, %d", bom.SpecVersion, len(bom.Vulnerabilities), len(planted))
	}
}
