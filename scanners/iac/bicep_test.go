package iac_test

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/scanners"
)

// TestBicepFindingsEqualTheCompiledTemplates: Trivy's ARM checks on a Bicep
// file give the findings they give on the ARM template the Bicep CLI
// compiles from it (testdata/bicep: main.json, as the CLI writes it), each
// on the Bicep line of the property or resource; an `existing` resource and
// a module's call are not the file's resources (the module's own file is
// checked where it is).
func TestBicepFindingsEqualTheCompiledTemplates(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/bicep/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	bicep := scanFiles(t, map[string]string{"infra/main.bicep": read("main.bicep"), "infra/network.bicep": read("network.bicep")})
	compiled := scanFiles(t, map[string]string{"compiled/main.json": read("main.json")})
	rules := func(res scanners.Result) map[string]int {
		out := map[string]int{}
		for _, f := range res.Findings {
			out[f.RuleID]++
		}
		return out
	}
	want, got := rules(compiled), rules(bicep)
	t.Logf("%d findings of %d rules on the compiled template", len(compiled.Findings), len(want))
	if len(want) < 5 {
		t.Fatalf("the compiled template gives %d rules: the test would prove little", len(want))
	}
	if !maps.Equal(want, got) {
		t.Errorf("findings by rule on the Bicep file %v, on the compiled template %v", got, want)
	}
	for _, n := range bicep.Status.Notifications {
		t.Errorf("notification %s %s: %s", n.Code, n.Path, n.Message)
	}
	// Each finding sits where the compiled one does: on the same property
	// (the key of the compiled template's line), on its Bicep line.
	src := strings.Split(read("main.bicep"), "\n")
	json := strings.Split(read("main.json"), "\n")
	key := func(line string) string {
		k, _, _ := strings.Cut(strings.TrimSpace(line), ":")
		return strings.Trim(k, `"{`)
	}
	used := map[int]bool{}
	for _, c := range compiled.Findings {
		wantKey := key(json[c.Location.StartLine-1])
		i := -1
		for j, f := range bicep.Findings {
			if used[j] || f.RuleID != c.RuleID || f.Location.Path != "infra/main.bicep" || f.Location.StartLine < 1 || f.Location.StartLine > len(src) {
				continue
			}
			if gotKey := key(src[f.Location.StartLine-1]); gotKey == wantKey || wantKey == "" && strings.HasPrefix(gotKey, "resource ") {
				i = j
				break
			}
		}
		if i < 0 {
			t.Errorf("%s on %q (line %d) of the compiled template: not on that property in the Bicep file (%v)", c.RuleID,
				strings.TrimSpace(json[c.Location.StartLine-1]), c.Location.StartLine, where(bicep))
			continue
		}
		used[i] = true
	}
	if findingsIn(bicep, "infra/network.bicep") != 0 {
		t.Errorf("findings in the module's file: %v", where(bicep))
	}
}

// TestBicepStatementNotRead: a statement the reader cannot read is named
// (file and line) and left out; the rest of the file is checked.
func TestBicepStatementNotRead(t *testing.T) {
	res := scanFiles(t, map[string]string{"main.bicep": "resource broken 'Microsoft.Storage/storageAccounts@2023-01-01' = {\n  name: 'a'\n  properties: {\n    minimumTlsVersion: 'TLS1_0' 'TLS1_1'\n  }\n}\n\n" +
		"resource kept 'Microsoft.Storage/storageAccounts@2023-01-01' = {\n  name: 'b'\n  properties: {\n    minimumTlsVersion: 'TLS1_0'\n  }\n}\n"})
	var notes []string
	for _, n := range res.Status.Notifications {
		notes = append(notes, n.Code+" "+n.Path+":"+itoa(n.Line)+" "+n.Message)
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "parse-error main.bicep:4 ") {
		t.Errorf("notifications %q, want one naming line 4", notes)
	}
	lines := map[int]bool{}
	for _, f := range res.Findings {
		lines[f.Location.StartLine] = true
	}
	if !lines[11] || slices.ContainsFunc(slices.Collect(maps.Keys(lines)), func(l int) bool { return l < 8 }) {
		t.Errorf("findings at lines %v: want the second account's (line 11) only", where(res))
	}
}
