package iac

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/scanners/iactype"
)

func TestCheckSyntax(t *testing.T) {
	for _, tc := range []struct {
		path, content string
		chart         bool
		line          int // 0: expect no error
	}{
		{"main.tf", "resource \"a\" \"b\" {\n  x = 1\n}\n", false, 0},
		{"main.tf", "resource \"a\" \"b\" {\n  x = \n}\n", false, 2},
		{"vars.tfvars", "region = \"eu\"\nsize = [1,\n", false, 3},
		{"x.tf.json", "{\"resource\": [}", false, 1},
		{"k8s.yaml", "a: 1\n---\nb: [1\n", false, 3},
		{"k8s.yaml", "a: &x [1]\nb: *x\n", false, 0},
		{"chart/templates/d.yaml", "a: {{ .Values.x }\n", true, 0},
		{"tpl.yaml", "name: {{ .Name }}\n", false, 0},
		{"tsconfig.json", "{ // comments are fine in tsconfig\n \"a\": [ }", false, 0},
		{"arm.json", "{\n \"$schema\": \"https://schema.management.azure.com/x/deploymentTemplate.json#\",\n // comment\n \"resources\": []\n}", false, 0},
		{"arm.json", "{\n \"$schema\": \"https://schema.management.azure.com/x/deploymentTemplate.json#\",\n \"resources\": [,]\n}", false, 3},
		{"cfn.json", "{\"AWSTemplateFormatVersion\": \"2010-09-09\", \"Resources\": {\"a\": }}", false, 1},
		{"Dockerfile", "FROM", false, 0},
	} {
		se := checkSyntax(tc.path, []byte(tc.content), tc.chart)
		switch {
		case tc.line == 0 && se != nil:
			t.Errorf("%s %q: unexpected error %s", tc.path, tc.content, se)
		case tc.line != 0 && se == nil:
			t.Errorf("%s %q: no error", tc.path, tc.content)
		case tc.line != 0 && se.Line != tc.line:
			t.Errorf("%s %q: line %d, want %d (%s)", tc.path, tc.content, se.Line, tc.line, se)
		}
	}
}

func TestYAMLAliasBombIsCheap(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 30; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + itoa(i-1))
		}
		b.WriteString("]\n")
	}
	// 10^30 nodes once expanded: counted without expanding, and reported,
	// in bounded time and memory (expanding would take neither).
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	se := checkSyntax("bomb.yaml", []byte(b.String()), false)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if se == nil || !se.Skip || !strings.Contains(se.String(), "alias bomb") {
		t.Errorf("the alias bomb was not reported: %v", se)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; took > 2*time.Second || alloc > 64<<20 {
		t.Errorf("checking the bomb took %s and allocated %d MiB; want under 2 s and 64 MiB", took, alloc>>20)
	}
	// Ordinary anchors (shared defaults) are fine.
	ok := "defaults: &d {cpu: 1, memory: 1Gi}\na: {<<: *d}\nb: {<<: *d}\nc: [*d, *d, *d]\n"
	if se := checkSyntax("ok.yaml", []byte(ok), false); se != nil {
		t.Errorf("anchors reported: %s", se)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestStripJSONComments(t *testing.T) {
	in := "{\"a\": \"// not a comment\", /* block\n comment */ \"b\": 1 // tail\n}"
	out := string(stripJSONComments([]byte(in)))
	if strings.Count(out, "\n") != strings.Count(in, "\n") || len(out) != len(in) {
		t.Errorf("offsets changed: %q", out)
	}
	if !strings.Contains(out, "// not a comment") || strings.Contains(out, "tail") || strings.Contains(out, "block") {
		t.Errorf("stripped wrongly: %q", out)
	}
}

func TestTypeNamesMatchIactype(t *testing.T) {
	if got := strings.Join(TypeNames(), ","); got != strings.Join(iactype.Names, ",") {
		t.Errorf("iac table %s != iactype.Names %s", got, strings.Join(iactype.Names, ","))
	}
}

// A YAML mapping of more keys than maxYAMLKeys is named and not handed to
// Trivy, whose decoder compares every key with every other (100,000
// CloudFormation resources: past 200 s in type detection alone); one at
// the limit is read.
func TestWideMappingsAreNotDecoded(t *testing.T) {
	template := func(n int) []byte {
		var b strings.Builder
		b.WriteString("AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n")
		for i := range n {
			fmt.Fprintf(&b, "  Bucket%d:\n    Type: AWS::S3::Bucket\n", i)
		}
		return []byte(b.String())
	}
	se := checkSyntax("cfn/template.yaml", template(maxYAMLKeys+1), false)
	if se == nil || !se.Skip || se.Line != 3 || !strings.Contains(se.String(), fmt.Sprintf("a mapping of %d keys", maxYAMLKeys+1)) {
		t.Errorf("a mapping of %d keys: %v", maxYAMLKeys+1, se)
	}
	if se := checkSyntax("cfn/template.yaml", template(maxYAMLKeys), false); se != nil {
		t.Errorf("a mapping of %d keys was refused: %v", maxYAMLKeys, se)
	}
}
